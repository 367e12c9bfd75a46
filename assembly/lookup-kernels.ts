// WebAssembly SIMD gather-and-reduce kernels (AssemblyScript; compiled by `npm run build:wasm` into
// dist/src/kernels/lookup-kernels.wasm). They read tables that live in the imported shared memory and
// reproduce src/kernels/reduce.ts bit for bit: each f32x4 lane performs exactly the float32 operations
// of one element of the reference, in the same order (float32 add/mul/div/sqrt are correctly rounded,
// like the reference's float64 operation rounded once to float32).
//
// Layout: all pointers are byte offsets into the memory; `dim` is a multiple of 4 and float32 table rows
// start on 16-byte boundaries. Quantized tables (src/kernels/quantized-rows.ts) are read through the
// same kernels, instantiated per storage kind K (f32: float32; u16: float16; i16: bfloat16; u8: row-wise
// int8): `lanes<K>` dequantizes four values exactly as the reference does, so a lookup on a quantized
// table is the float32 lookup on the dequantized table, bit for bit. Rows are processed in chunks of one or two 64-byte cache lines (4 or 8
// registers): for each chunk the bag's rows are summed in registers, so the loads of one bag are
// independent and overlap. Before each bag, the rows `touchAhead` ids ahead are touched (one load per cache line) to
// start their cache misses early: memory-level parallelism across bags.

let sink: u32 = 0;

/** Keeps the touch loads observable (otherwise the optimizer could drop them). */
export function touchSink(): u32 {
  return sink;
}

function touchRows(table: usize, stride: usize, ids: usize, from: i32, to: i32): void {
  let s: u32 = 0;
  for (let j = from; j < to; j++) {
    const row = table + <usize>load<i32>(ids + ((<usize>j) << 2)) * stride;
    for (let b: usize = 0; b < stride; b += 64) s += load<u8>(row + b);
  }
  sink += s;
}

function rowAt(table: usize, stride: usize, ids: usize, j: i32): usize {
  return table + <usize>load<i32>(ids + ((<usize>j) << 2)) * stride;
}

/**
 * Four values of a row as float32, from the values at float32 byte offset `c` (a multiple of 16) on:
 * float32 as is; float16 widened (exponent and mantissa moved into place and scaled by 2^112, exact for
 * normal and subnormal values; ∞ and NaN by their bits); bfloat16 shifted into the upper half; int8 as
 * float32(q · scale) + bias (the row's scale and bias first, two rounded operations).
 */
function lanes<K>(row: usize, c: usize): v128 {
  if (isFloat<K>()) return v128.load(row + c);
  if (sizeof<K>() == 2) {
    const h = v128.load16x4_u(row + (c >> 1));
    if (isSigned<K>()) return i32x4.shl(h, 16);
    const em = v128.and(h, i32x4.splat(0x7fff));
    const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
    const scaled = f32x4.mul(i32x4.shl(em, 13), f32x4.splat(reinterpret<f32>(0x77800000)));
    const special = i32x4.ge_u(em, i32x4.splat(0x7c00));
    const inf = v128.or(i32x4.shl(em, 13), i32x4.splat(0x7f800000));
    return v128.or(v128.bitselect(inf, scaled, special), sign);
  }
  const q = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(row + 8 + (c >> 2))));
  return f32x4.add(
    f32x4.mul(f32x4.convert_i32x4_u(q), f32x4.splat(load<f32>(row))),
    f32x4.splat(load<f32>(row, 4)),
  );
}

/**
 * Unweighted bags in TF's sparse-segment order (reduceBagsSegmentOrder): mode 0 sum, 1 mean, 2 sqrtn.
 * `splits` holds rows + 1 int32 offsets into `ids` (starting at 0).
 */
function bagsSegmentT<K>(
  table: usize,
  dim: i32,
  stride: usize,
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
      touchRows(table, stride, ids, max(touched, end), ahead);
      touched = ahead;
    }
    if (num == 0) {
      for (let b: usize = 0; b < rowBytes; b += 16) v128.store(o + b, f32x4.splat(0));
      continue;
    }
    if (num == 1) {
      const src = rowAt(table, stride, ids, start);
      for (let b: usize = 0; b < rowBytes; b += 16) v128.store(o + b, lanes<K>(src, b));
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
      let p = rowAt(table, stride, ids, start);
      let g0 = lanes<K>(p, c + 0);
      let g1 = lanes<K>(p, c + 16);
      let g2 = lanes<K>(p, c + 32);
      let g3 = lanes<K>(p, c + 48);
      for (let j = start + 1; j < start + first; j++) {
        p = rowAt(table, stride, ids, j);
        g0 = f32x4.add(g0, lanes<K>(p, c + 0));
        g1 = f32x4.add(g1, lanes<K>(p, c + 16));
        g2 = f32x4.add(g2, lanes<K>(p, c + 32));
        g3 = f32x4.add(g3, lanes<K>(p, c + 48));
      }
      let a0 = f32x4.mul(g0, vscale);
      let a1 = f32x4.mul(g1, vscale);
      let a2 = f32x4.mul(g2, vscale);
      let a3 = f32x4.mul(g3, vscale);
      // Later groups of 8: sum the group, then add it.
      for (let g = start + first; g < end; g += 8) {
        p = rowAt(table, stride, ids, g);
        g0 = lanes<K>(p, c + 0);
        g1 = lanes<K>(p, c + 16);
        g2 = lanes<K>(p, c + 32);
        g3 = lanes<K>(p, c + 48);
        for (let j = g + 1; j < g + 8; j++) {
          p = rowAt(table, stride, ids, j);
          g0 = f32x4.add(g0, lanes<K>(p, c + 0));
          g1 = f32x4.add(g1, lanes<K>(p, c + 16));
          g2 = f32x4.add(g2, lanes<K>(p, c + 32));
          g3 = f32x4.add(g3, lanes<K>(p, c + 48));
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
      let g = lanes<K>(rowAt(table, stride, ids, start), c);
      for (let j = start + 1; j < start + first; j++)
        g = f32x4.add(g, lanes<K>(rowAt(table, stride, ids, j), c));
      let a = f32x4.mul(g, vscale);
      for (let h = start + first; h < end; h += 8) {
        g = lanes<K>(rowAt(table, stride, ids, h), c);
        for (let j = h + 1; j < h + 8; j++) g = f32x4.add(g, lanes<K>(rowAt(table, stride, ids, j), c));
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
function bagsWeightedT<K>(
  table: usize,
  dim: i32,
  stride: usize,
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
      touchRows(table, stride, ids, max(touched, end), ahead);
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
    // Two cache lines (8 registers) per pass: measured ~5 % faster than one here (fewer passes per row).
    const wide = rowBytes & ~(<usize>127);
    for (let c: usize = 0; c < wide; c += 128) {
      let a0 = zero;
      let a1 = zero;
      let a2 = zero;
      let a3 = zero;
      let a4 = zero;
      let a5 = zero;
      let a6 = zero;
      let a7 = zero;
      if (weights == 0) {
        for (let j = start; j < end; j++) {
          const p = rowAt(table, stride, ids, j);
          a0 = f32x4.add(a0, lanes<K>(p, c + 0));
          a1 = f32x4.add(a1, lanes<K>(p, c + 16));
          a2 = f32x4.add(a2, lanes<K>(p, c + 32));
          a3 = f32x4.add(a3, lanes<K>(p, c + 48));
          a4 = f32x4.add(a4, lanes<K>(p, c + 64));
          a5 = f32x4.add(a5, lanes<K>(p, c + 80));
          a6 = f32x4.add(a6, lanes<K>(p, c + 96));
          a7 = f32x4.add(a7, lanes<K>(p, c + 112));
        }
      } else {
        for (let j = start; j < end; j++) {
          const p = rowAt(table, stride, ids, j);
          const w = f32x4.splat(load<f32>(weights + ((<usize>j) << 2)));
          a0 = f32x4.add(a0, f32x4.mul(w, lanes<K>(p, c + 0)));
          a1 = f32x4.add(a1, f32x4.mul(w, lanes<K>(p, c + 16)));
          a2 = f32x4.add(a2, f32x4.mul(w, lanes<K>(p, c + 32)));
          a3 = f32x4.add(a3, f32x4.mul(w, lanes<K>(p, c + 48)));
          a4 = f32x4.add(a4, f32x4.mul(w, lanes<K>(p, c + 64)));
          a5 = f32x4.add(a5, f32x4.mul(w, lanes<K>(p, c + 80)));
          a6 = f32x4.add(a6, f32x4.mul(w, lanes<K>(p, c + 96)));
          a7 = f32x4.add(a7, f32x4.mul(w, lanes<K>(p, c + 112)));
        }
      }
      if (mode != 0) {
        a0 = f32x4.div(a0, vdiv);
        a1 = f32x4.div(a1, vdiv);
        a2 = f32x4.div(a2, vdiv);
        a3 = f32x4.div(a3, vdiv);
        a4 = f32x4.div(a4, vdiv);
        a5 = f32x4.div(a5, vdiv);
        a6 = f32x4.div(a6, vdiv);
        a7 = f32x4.div(a7, vdiv);
      }
      const q = o + c;
      v128.store(q, a0, 0);
      v128.store(q, a1, 16);
      v128.store(q, a2, 32);
      v128.store(q, a3, 48);
      v128.store(q, a4, 64);
      v128.store(q, a5, 80);
      v128.store(q, a6, 96);
      v128.store(q, a7, 112);
    }
    for (let c = wide; c < rowBytes; c += 16) {
      let a = zero;
      for (let j = start; j < end; j++) {
        const e = lanes<K>(rowAt(table, stride, ids, j), c);
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
function sequenceT<K>(
  table: usize,
  dim: i32,
  stride: usize,
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
      touchRows(table, stride, ids, max(touched, end), ahead);
      touched = ahead;
    }
    if (positions == 0) {
      // Distinct positions 0..n-1: 0 + row (not a plain copy: 0 + -0 is +0, as in the reference).
      for (let j = start; j < end; j++) {
        const src = rowAt(table, stride, ids, j);
        const dst = o + <usize>(j - start) * rowBytes;
        for (let b: usize = 0; b < rowBytes; b += 16) v128.store(dst + b, f32x4.add(zero, lanes<K>(src, b)));
      }
      const filled = o + <usize>(end - start) * rowBytes;
      const stop = o + <usize>sequenceLength * rowBytes;
      for (let b = filled; b < stop; b += 16) v128.store(b, zero);
    } else {
      const stop = o + <usize>sequenceLength * rowBytes;
      for (let b = o; b < stop; b += 16) v128.store(b, zero);
      for (let j = start; j < end; j++) {
        const src = rowAt(table, stride, ids, j);
        const dst = o + <usize>load<i32>(positions + ((<usize>j) << 2)) * rowBytes;
        for (let b: usize = 0; b < rowBytes; b += 16)
          v128.store(dst + b, f32x4.add(v128.load(dst + b), lanes<K>(src, b)));
      }
    }
  }
}

/** Dense gather (gatherRows): out[i] = table[ids[i]]. */
function gatherT<K>(
  table: usize,
  dim: i32,
  stride: usize,
  ids: usize,
  count: i32,
  out: usize,
  touchAhead: i32,
): void {
  const rowBytes = (<usize>dim) << 2;
  let touched = 0;
  for (let i = 0; i < count; i++) {
    const ahead = min(count, i + 1 + touchAhead);
    if (touched < ahead) {
      touchRows(table, stride, ids, max(touched, i + 1), ahead);
      touched = ahead;
    }
    const src = rowAt(table, stride, ids, i);
    const dst = out + <usize>i * rowBytes;
    for (let b: usize = 0; b < rowBytes; b += 16) v128.store(dst + b, lanes<K>(src, b));
  }
}

// ---- Exports: float32 tables (rows of dim · 4 bytes), and quantized ones by storage kind ----
// kind (src/kernels/quantized-rows.ts STORAGE_CODE): 1 float16, 2 bfloat16, 3 int8; `stride` is the
// bytes of one stored row.

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
  bagsSegmentT<f32>(table, dim, (<usize>dim) << 2, splits, ids, rows, mode, out, touchAhead);
}

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
  bagsWeightedT<f32>(table, dim, (<usize>dim) << 2, splits, ids, weights, rows, mode, out, touchAhead);
}

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
  sequenceT<f32>(
    table,
    dim,
    (<usize>dim) << 2,
    splits,
    ids,
    positions,
    rows,
    sequenceLength,
    out,
    touchAhead,
  );
}

export function gather(table: usize, dim: i32, ids: usize, count: i32, out: usize, touchAhead: i32): void {
  gatherT<f32>(table, dim, (<usize>dim) << 2, ids, count, out, touchAhead);
}

export function bagsSegmentQ(
  kind: i32,
  table: usize,
  dim: i32,
  stride: usize,
  splits: usize,
  ids: usize,
  rows: i32,
  mode: i32,
  out: usize,
  touchAhead: i32,
): void {
  if (kind == 1) bagsSegmentT<u16>(table, dim, stride, splits, ids, rows, mode, out, touchAhead);
  else if (kind == 2) bagsSegmentT<i16>(table, dim, stride, splits, ids, rows, mode, out, touchAhead);
  else bagsSegmentT<u8>(table, dim, stride, splits, ids, rows, mode, out, touchAhead);
}

export function bagsWeightedQ(
  kind: i32,
  table: usize,
  dim: i32,
  stride: usize,
  splits: usize,
  ids: usize,
  weights: usize,
  rows: i32,
  mode: i32,
  out: usize,
  touchAhead: i32,
): void {
  if (kind == 1) bagsWeightedT<u16>(table, dim, stride, splits, ids, weights, rows, mode, out, touchAhead);
  else if (kind == 2)
    bagsWeightedT<i16>(table, dim, stride, splits, ids, weights, rows, mode, out, touchAhead);
  else bagsWeightedT<u8>(table, dim, stride, splits, ids, weights, rows, mode, out, touchAhead);
}

export function sequenceQ(
  kind: i32,
  table: usize,
  dim: i32,
  stride: usize,
  splits: usize,
  ids: usize,
  positions: usize,
  rows: i32,
  sequenceLength: i32,
  out: usize,
  touchAhead: i32,
): void {
  if (kind == 1)
    sequenceT<u16>(table, dim, stride, splits, ids, positions, rows, sequenceLength, out, touchAhead);
  else if (kind == 2)
    sequenceT<i16>(table, dim, stride, splits, ids, positions, rows, sequenceLength, out, touchAhead);
  else sequenceT<u8>(table, dim, stride, splits, ids, positions, rows, sequenceLength, out, touchAhead);
}

export function gatherQ(
  kind: i32,
  table: usize,
  dim: i32,
  stride: usize,
  ids: usize,
  count: i32,
  out: usize,
  touchAhead: i32,
): void {
  if (kind == 1) gatherT<u16>(table, dim, stride, ids, count, out, touchAhead);
  else if (kind == 2) gatherT<i16>(table, dim, stride, ids, count, out, touchAhead);
  else gatherT<u8>(table, dim, stride, ids, count, out, touchAhead);
}
