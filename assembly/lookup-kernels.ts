// WebAssembly SIMD gather-and-reduce kernels (AssemblyScript; compiled by `npm run build:wasm` into
// dist/src/kernels/lookup-kernels.wasm). They read tables that live in the imported shared memory and
// reproduce src/kernels/reduce.ts bit for bit: each f32x4 lane performs exactly the float32 operations
// of one element of the reference, in the same order (float32 add/mul/div/sqrt are correctly rounded,
// like the reference's float64 operation rounded once to float32).
//
// Layout: all pointers are byte offsets into the memory; `dim` is a multiple of 4 and table rows start
// on 16-byte boundaries. Rows are processed in 16-float chunks (one 64-byte cache line, 4 registers):
// for each chunk the bag's rows are summed in registers, so the loads of one bag are independent and
// overlap. Before each bag, the rows `touchAhead` ids ahead are touched (one load per cache line) to
// start their cache misses early: memory-level parallelism across bags.

let sink: u32 = 0;

/** Keeps the touch loads observable (otherwise the optimizer could drop them). */
export function touchSink(): u32 {
  return sink;
}

function touchRows(table: usize, rowBytes: usize, ids: usize, from: i32, to: i32): void {
  let s: u32 = 0;
  for (let j = from; j < to; j++) {
    const row = table + <usize>load<i32>(ids + ((<usize>j) << 2)) * rowBytes;
    for (let b: usize = 0; b < rowBytes; b += 64) s += load<u8>(row + b);
  }
  sink += s;
}

function rowAt(table: usize, rowBytes: usize, ids: usize, j: i32): usize {
  return table + <usize>load<i32>(ids + ((<usize>j) << 2)) * rowBytes;
}

/**
 * Unweighted bags in TF's sparse-segment order (reduceBagsSegmentOrder): mode 0 sum, 1 mean, 2 sqrtn.
 * `splits` holds rows + 1 int32 offsets into `ids` (starting at 0).
 */
export function bagsSegment(
  table: usize,
  dim: i32,
  splits: usize,
  ids: usize,
  rows: i32,
  mode: i32,
  out: usize,
  touchAhead: i32,
): void {
  const rowBytes = (<usize>dim) << 2;
  const total = load<i32>(splits + ((<usize>rows) << 2));
  let touched = 0;
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(splits + ((<usize>r) << 2));
    const end = load<i32>(splits + ((<usize>(r + 1)) << 2));
    const num = end - start;
    const o = out + <usize>r * rowBytes;
    const ahead = min(total, end + touchAhead);
    if (touched < ahead) {
      touchRows(table, rowBytes, ids, max(touched, end), ahead);
      touched = ahead;
    }
    if (num == 0) {
      for (let b: usize = 0; b < rowBytes; b += 16) v128.store(o + b, f32x4.splat(0));
      continue;
    }
    if (num == 1) {
      const src = rowAt(table, rowBytes, ids, start);
      for (let b: usize = 0; b < rowBytes; b += 16) v128.store(o + b, v128.load(src + b));
      continue;
    }
    let scale: f32 = 1;
    if (num < 10) {
      if (mode == 1) scale = <f32>1 / <f32>num;
      else if (mode == 2) scale = <f32>1 / sqrt<f32>(<f32>num);
    }
    const vscale = f32x4.splat(scale);
    const remainder = num & 7;
    const first = remainder == 0 ? 8 : remainder == 1 ? 9 : remainder;
    const divide = num >= 10 && mode != 0;
    const vdiv = f32x4.splat(mode == 1 ? <f32>num : sqrt<f32>(<f32>num));
    const wide = rowBytes & ~(<usize>63);
    for (let c: usize = 0; c < wide; c += 64) {
      // First group: sum left to right, then scale.
      let p = rowAt(table, rowBytes, ids, start) + c;
      let g0 = v128.load(p, 0);
      let g1 = v128.load(p, 16);
      let g2 = v128.load(p, 32);
      let g3 = v128.load(p, 48);
      for (let j = start + 1; j < start + first; j++) {
        p = rowAt(table, rowBytes, ids, j) + c;
        g0 = f32x4.add(g0, v128.load(p, 0));
        g1 = f32x4.add(g1, v128.load(p, 16));
        g2 = f32x4.add(g2, v128.load(p, 32));
        g3 = f32x4.add(g3, v128.load(p, 48));
      }
      let a0 = f32x4.mul(g0, vscale);
      let a1 = f32x4.mul(g1, vscale);
      let a2 = f32x4.mul(g2, vscale);
      let a3 = f32x4.mul(g3, vscale);
      // Later groups of 8: sum the group, then add it.
      for (let g = start + first; g < end; g += 8) {
        p = rowAt(table, rowBytes, ids, g) + c;
        g0 = v128.load(p, 0);
        g1 = v128.load(p, 16);
        g2 = v128.load(p, 32);
        g3 = v128.load(p, 48);
        for (let j = g + 1; j < g + 8; j++) {
          p = rowAt(table, rowBytes, ids, j) + c;
          g0 = f32x4.add(g0, v128.load(p, 0));
          g1 = f32x4.add(g1, v128.load(p, 16));
          g2 = f32x4.add(g2, v128.load(p, 32));
          g3 = f32x4.add(g3, v128.load(p, 48));
        }
        a0 = f32x4.add(a0, g0);
        a1 = f32x4.add(a1, g1);
        a2 = f32x4.add(a2, g2);
        a3 = f32x4.add(a3, g3);
      }
      if (divide) {
        a0 = f32x4.div(a0, vdiv);
        a1 = f32x4.div(a1, vdiv);
        a2 = f32x4.div(a2, vdiv);
        a3 = f32x4.div(a3, vdiv);
      }
      const q = o + c;
      v128.store(q, a0, 0);
      v128.store(q, a1, 16);
      v128.store(q, a2, 32);
      v128.store(q, a3, 48);
    }
    // Dims that are not a multiple of 16: the same steps, one vector at a time.
    for (let c = wide; c < rowBytes; c += 16) {
      let g = v128.load(rowAt(table, rowBytes, ids, start) + c);
      for (let j = start + 1; j < start + first; j++)
        g = f32x4.add(g, v128.load(rowAt(table, rowBytes, ids, j) + c));
      let a = f32x4.mul(g, vscale);
      for (let h = start + first; h < end; h += 8) {
        g = v128.load(rowAt(table, rowBytes, ids, h) + c);
        for (let j = h + 1; j < h + 8; j++) g = f32x4.add(g, v128.load(rowAt(table, rowBytes, ids, j) + c));
        a = f32x4.add(a, g);
      }
      if (divide) a = f32x4.div(a, vdiv);
      v128.store(o + c, a);
    }
  }
}

/**
 * Weighted bags and the ragged path (reduceBagsWeighted): Σ w·e from zero (Σ e when `weights` is 0),
 * then mode 1 divides by Σ w, mode 2 by sqrt(Σ w²), zero vector when that is 0 (div_no_nan).
 */
export function bagsWeighted(
  table: usize,
  dim: i32,
  splits: usize,
  ids: usize,
  weights: usize,
  rows: i32,
  mode: i32,
  out: usize,
  touchAhead: i32,
): void {
  const rowBytes = (<usize>dim) << 2;
  const total = load<i32>(splits + ((<usize>rows) << 2));
  let touched = 0;
  const zero = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(splits + ((<usize>r) << 2));
    const end = load<i32>(splits + ((<usize>(r + 1)) << 2));
    const o = out + <usize>r * rowBytes;
    const ahead = min(total, end + touchAhead);
    if (touched < ahead) {
      touchRows(table, rowBytes, ids, max(touched, end), ahead);
      touched = ahead;
    }
    let weightSum: f32 = 0;
    let squareSum: f32 = 0;
    if (weights == 0) {
      for (let j = start; j < end; j++) weightSum += 1;
      squareSum = weightSum;
    } else {
      for (let j = start; j < end; j++) {
        const w = load<f32>(weights + ((<usize>j) << 2));
        weightSum += w;
        squareSum += w * w;
      }
    }
    const divisor: f32 = mode == 1 ? weightSum : sqrt<f32>(squareSum);
    if (mode != 0 && divisor == 0) {
      for (let b: usize = 0; b < rowBytes; b += 16) v128.store(o + b, zero);
      continue;
    }
    const vdiv = f32x4.splat(divisor);
    const wide = rowBytes & ~(<usize>63);
    for (let c: usize = 0; c < wide; c += 64) {
      let a0 = zero;
      let a1 = zero;
      let a2 = zero;
      let a3 = zero;
      if (weights == 0) {
        for (let j = start; j < end; j++) {
          const p = rowAt(table, rowBytes, ids, j) + c;
          a0 = f32x4.add(a0, v128.load(p, 0));
          a1 = f32x4.add(a1, v128.load(p, 16));
          a2 = f32x4.add(a2, v128.load(p, 32));
          a3 = f32x4.add(a3, v128.load(p, 48));
        }
      } else {
        for (let j = start; j < end; j++) {
          const p = rowAt(table, rowBytes, ids, j) + c;
          const w = f32x4.splat(load<f32>(weights + ((<usize>j) << 2)));
          a0 = f32x4.add(a0, f32x4.mul(w, v128.load(p, 0)));
          a1 = f32x4.add(a1, f32x4.mul(w, v128.load(p, 16)));
          a2 = f32x4.add(a2, f32x4.mul(w, v128.load(p, 32)));
          a3 = f32x4.add(a3, f32x4.mul(w, v128.load(p, 48)));
        }
      }
      if (mode != 0) {
        a0 = f32x4.div(a0, vdiv);
        a1 = f32x4.div(a1, vdiv);
        a2 = f32x4.div(a2, vdiv);
        a3 = f32x4.div(a3, vdiv);
      }
      const q = o + c;
      v128.store(q, a0, 0);
      v128.store(q, a1, 16);
      v128.store(q, a2, 32);
      v128.store(q, a3, 48);
    }
    for (let c = wide; c < rowBytes; c += 16) {
      let a = zero;
      for (let j = start; j < end; j++) {
        const e = v128.load(rowAt(table, rowBytes, ids, j) + c);
        a = f32x4.add(
          a,
          weights == 0 ? e : f32x4.mul(f32x4.splat(load<f32>(weights + ((<usize>j) << 2))), e),
        );
      }
      if (mode != 0) a = f32x4.div(a, vdiv);
      v128.store(o + c, a);
    }
  }
}

/**
 * Sequences (scatterSequence): output rows × sequenceLength × dim, zeros where no id lands; each id's
 * row is added at its position (`positions` 0: positions 0, 1, 2, … within the row).
 */
export function sequence(
  table: usize,
  dim: i32,
  splits: usize,
  ids: usize,
  positions: usize,
  rows: i32,
  sequenceLength: i32,
  out: usize,
  touchAhead: i32,
): void {
  const rowBytes = (<usize>dim) << 2;
  const total = load<i32>(splits + ((<usize>rows) << 2));
  const zero = f32x4.splat(0);
  let touched = 0;
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(splits + ((<usize>r) << 2));
    const end = load<i32>(splits + ((<usize>(r + 1)) << 2));
    const o = out + <usize>r * <usize>sequenceLength * rowBytes;
    const ahead = min(total, end + touchAhead);
    if (touched < ahead) {
      touchRows(table, rowBytes, ids, max(touched, end), ahead);
      touched = ahead;
    }
    if (positions == 0) {
      // Distinct positions 0..n-1: 0 + row (not a plain copy: 0 + -0 is +0, as in the reference).
      for (let j = start; j < end; j++) {
        const src = rowAt(table, rowBytes, ids, j);
        const dst = o + <usize>(j - start) * rowBytes;
        for (let b: usize = 0; b < rowBytes; b += 16)
          v128.store(dst + b, f32x4.add(zero, v128.load(src + b)));
      }
      const filled = o + <usize>(end - start) * rowBytes;
      const stop = o + <usize>sequenceLength * rowBytes;
      for (let b = filled; b < stop; b += 16) v128.store(b, zero);
    } else {
      const stop = o + <usize>sequenceLength * rowBytes;
      for (let b = o; b < stop; b += 16) v128.store(b, zero);
      for (let j = start; j < end; j++) {
        const src = rowAt(table, rowBytes, ids, j);
        const dst = o + <usize>load<i32>(positions + ((<usize>j) << 2)) * rowBytes;
        for (let b: usize = 0; b < rowBytes; b += 16)
          v128.store(dst + b, f32x4.add(v128.load(dst + b), v128.load(src + b)));
      }
    }
  }
}

/** Dense gather (gatherRows): out[i] = table[ids[i]]. */
export function gather(table: usize, dim: i32, ids: usize, count: i32, out: usize, touchAhead: i32): void {
  const rowBytes = (<usize>dim) << 2;
  let touched = 0;
  for (let i = 0; i < count; i++) {
    const ahead = min(count, i + 1 + touchAhead);
    if (touched < ahead) {
      touchRows(table, rowBytes, ids, max(touched, i + 1), ahead);
      touched = ahead;
    }
    const src = rowAt(table, rowBytes, ids, i);
    const dst = out + <usize>i * rowBytes;
    for (let b: usize = 0; b < rowBytes; b += 16) v128.store(dst + b, v128.load(src + b));
  }
}
