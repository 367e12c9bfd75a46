import { readFileSync } from "node:fs";
import { kernelOverride } from "../../flags.js";
import { nativeAddon } from "../../kernels/native-addon.js";
import { writeFloat32Text } from "./float32-text.js";

/**
 * Writes float32 values as JSON lists of numbers (TF Serving's text, formatFloat32) straight into a byte
 * buffer: `rows` lists of `width` values from data[offset..], comma-separated (`[a,b],[c,d]`), at out[at..].
 * Returns the end. `out` needs `jsonRowsCapacity(rows, width)` bytes from `at` (the writers scribble a few
 * bytes past the text's end; they are overwritten by whatever follows).
 */
export interface JsonFloatWriter {
  readonly kind: "native" | "wasm" | "js";
  write(data: Float32Array, offset: number, rows: number, width: number, out: Uint8Array, at: number): number;
}

/** The most bytes one value takes ("-1.17549435e-38"), plus its comma. */
const VALUE_BYTES = 16;
/** Bytes past the text's end the native and WebAssembly writers may scribble on. */
const SLACK_BYTES = 32;

/** Bytes `write` may touch for `rows` lists of `width` values (a list of none is `[],`: 3 bytes). */
export function jsonRowsCapacity(rows: number, width: number): number {
  return rows * (width * VALUE_BYTES + (width === 0 ? 3 : 2)) + SLACK_BYTES;
}

/** The addon's writer (native/float_format.c), absent in an addon built before it. */
interface FloatFormatExports {
  formatJsonRows?(
    data: Float32Array,
    offset: number,
    rows: number,
    width: number,
    out: Uint8Array,
    at: number,
  ): number;
}

/** The native writer, or null when the addon (or its formatJsonRows) is missing. */
export function nativeJsonFloats(): JsonFloatWriter | null {
  const addon = nativeAddon() as FloatFormatExports | null;
  const format = addon?.formatJsonRows;
  if (format === undefined) return null;
  return {
    kind: "native",
    write(data, offset, rows, width, out, at) {
      const end = format(data, offset, rows, width, out, at);
      if (end < 0) return jsFloats.write(data, offset, rows, width, out, at); // arguments it refuses
      return end;
    },
  };
}

/** The reference writer (formatFloat32 per value). */
export const jsFloats: JsonFloatWriter = {
  kind: "js",
  write(data, offset, rows, width, out, at) {
    let o = at;
    let i = offset;
    for (let r = 0; r < rows; r++) {
      if (r > 0) out[o++] = 0x2c; // ,
      out[o++] = 0x5b; // [
      for (let c = 0; c < width; c++) {
        if (c > 0) out[o++] = 0x2c;
        o = writeFloat32Text(data[i++], out, o);
      }
      out[o++] = 0x5d; // ]
    }
    return o;
  },
};

/** The exports of assembly/float-format.ts (pointers are byte offsets into its own memory). */
interface WasmFloatExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  formatJsonRows(data: number, rows: number, width: number, out: number): number;
}

let wasm: JsonFloatWriter | null | undefined;

/** The WebAssembly writer (dist/src/serving/http/float-format.wasm), or null when it is not built. */
export function wasmJsonFloats(): JsonFloatWriter | null {
  if (wasm !== undefined) return wasm;
  let bytes: Buffer;
  try {
    bytes = readFileSync(new URL("./float-format.wasm", import.meta.url));
  } catch {
    return (wasm = null);
  }
  let exports: WasmFloatExports | null = null;
  const imports = {
    "float-format": {
      // Magnitudes outside the module's fast range: the reference writes them into the module's memory.
      formatHard(bits: number, ptr: number): number {
        bitsView[0] = bits;
        const memory = new Uint8Array(exports!.memory.buffer);
        return writeFloat32Text(floatView[0], memory, ptr) - ptr;
      },
    },
  };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
  exports = instance.exports as unknown as WasmFloatExports;
  const module = exports;
  const base = module.heapBase();
  return (wasm = {
    kind: "wasm",
    write(data, offset, rows, width, out, at) {
      const count = rows * width;
      const outPtr = base + ((count * 4 + 15) & ~15);
      const need = outPtr + jsonRowsCapacity(rows, width);
      const memory = module.memory;
      if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
      new Float32Array(memory.buffer, base, count).set(data.subarray(offset, offset + count));
      const length = module.formatJsonRows(base, rows, width, outPtr);
      out.set(new Uint8Array(memory.buffer, outPtr, length), at);
      return at + length;
    },
  });
}

const floatView = new Float32Array(1);
const bitsView = new Uint32Array(floatView.buffer);

let chosen: JsonFloatWriter | undefined;

/**
 * The writer TPU_EMBEDDING_KERNELS names: wasm (else js) or js; otherwise native (else wasm, else js),
 * the fastest (the lookup kernels' measured choice is about gathers, not formatting).
 */
export function jsonFloats(): JsonFloatWriter {
  if (chosen !== undefined) return chosen;
  const kind = kernelOverride() ?? "native";
  if (kind === "native") chosen = nativeJsonFloats() ?? wasmJsonFloats() ?? jsFloats;
  else if (kind === "wasm") chosen = wasmJsonFloats() ?? jsFloats;
  else chosen = jsFloats;
  return chosen;
}

/** For tests and benchmarks: forces a writer (`undefined`: back to the kernel choice). */
export function setJsonFloats(writer: JsonFloatWriter | undefined): void {
  chosen = writer;
}
