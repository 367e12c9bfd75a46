/** `BundleHeaderProto` and `BundleEntryProto` as plain, validated values (protobuf via protobuf-es). */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DataLossError } from "../../errors.js";
import {
  BundleEntryProtoSchema,
  BundleHeaderProtoSchema,
  BundleHeaderProto_Endianness,
} from "../proto/gen/tensorflow/tensor_bundle_pb.js";
import type { TensorSliceProto } from "../proto/gen/tensorflow/tensor_slice_pb.js";
import type { TensorSlice } from "./slices.js";

export const TENSOR_BUNDLE_VERSION = 1;
export const TENSOR_BUNDLE_MIN_PRODUCER = 0;
export const TENSOR_BUNDLE_MIN_CONSUMER = 0;

export interface BundleHeader {
  readonly numShards: number;
  readonly endianness: "little" | "big";
  readonly version: {
    readonly producer: number;
    readonly minConsumer: number;
    readonly badConsumers: readonly number[];
  };
}

export interface BundleEntry {
  /** TensorFlow DataType enum value. */
  readonly dtype: number;
  readonly shape: readonly number[];
  readonly shardId: number;
  readonly offset: number;
  readonly size: number;
  /** Masked CRC-32C of the stored bytes. */
  readonly crc32c: number;
  /** Non-empty for the full entry of a partitioned tensor (its data is in slice entries). */
  readonly slices: readonly TensorSlice[];
}

function safe(value: bigint, what: string, where: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DataLossError(`${where}: ${what} ${value} is out of range`);
  }
  return Number(value);
}

export function decodeHeader(bytes: Uint8Array, where: string): BundleHeader {
  let proto;
  try {
    proto = fromBinary(BundleHeaderProtoSchema, bytes);
  } catch (e) {
    throw new DataLossError(`${where}: undecodable BundleHeaderProto: ${(e as Error).message}`, { cause: e });
  }
  const version = proto.version ?? { producer: 0, minConsumer: 0, badConsumers: [] as number[] };
  if (version.producer < TENSOR_BUNDLE_MIN_PRODUCER || version.minConsumer > TENSOR_BUNDLE_VERSION) {
    throw new DataLossError(
      `${where}: bundle version (producer ${version.producer}, min_consumer ${version.minConsumer}) ` +
        `is not readable by consumer version ${TENSOR_BUNDLE_VERSION}`,
    );
  }
  if (version.badConsumers.includes(TENSOR_BUNDLE_VERSION)) {
    throw new DataLossError(`${where}: bundle lists consumer version ${TENSOR_BUNDLE_VERSION} as bad`);
  }
  if (proto.numShards < 1) throw new DataLossError(`${where}: header has num_shards = ${proto.numShards}`);
  return {
    numShards: proto.numShards,
    endianness: proto.endianness === BundleHeaderProto_Endianness.BIG ? "big" : "little",
    version: {
      producer: version.producer,
      minConsumer: version.minConsumer,
      badConsumers: [...version.badConsumers],
    },
  };
}

export function encodeHeader(numShards: number): Uint8Array {
  return toBinary(
    BundleHeaderProtoSchema,
    create(BundleHeaderProtoSchema, { numShards, version: { producer: TENSOR_BUNDLE_VERSION } }),
  );
}

function sliceFromProto(p: TensorSliceProto, where: string): TensorSlice {
  return p.extent.map((e) =>
    e.hasLength.case === "length"
      ? { start: safe(e.start, "slice start", where), length: safe(e.hasLength.value, "slice length", where) }
      : { start: safe(e.start, "slice start", where) },
  );
}

export function decodeEntry(bytes: Uint8Array, where: string): BundleEntry {
  let p;
  try {
    p = fromBinary(BundleEntryProtoSchema, bytes);
  } catch (e) {
    throw new DataLossError(`${where}: undecodable BundleEntryProto: ${(e as Error).message}`, { cause: e });
  }
  const shape = p.shape;
  if (shape?.unknownRank) throw new DataLossError(`${where}: entry has a shape of unknown rank`);
  return {
    dtype: p.dtype,
    shape: (shape?.dim ?? []).map((d) => safe(d.size, "dimension", where)),
    shardId: p.shardId,
    offset: safe(p.offset, "offset", where),
    size: safe(p.size, "size", where),
    crc32c: p.crc32c >>> 0,
    slices: p.slices.map((s) => sliceFromProto(s, where)),
  };
}

/** Serializes exactly as TF's C++ protobuf does (field order, defaults omitted). */
export function encodeEntry(entry: BundleEntry): Uint8Array {
  const proto = create(BundleEntryProtoSchema, {
    dtype: entry.dtype,
    shape: { dim: entry.shape.map((d) => ({ size: BigInt(d) })) },
    shardId: entry.shardId,
    offset: BigInt(entry.offset),
    size: BigInt(entry.size),
    crc32c: entry.crc32c,
    slices: entry.slices.map((s) => ({
      extent: s.map((e) => ({
        start: BigInt(e.start),
        hasLength:
          e.length === undefined ? { case: undefined } : { case: "length" as const, value: BigInt(e.length) },
      })),
    })),
  });
  return toBinary(BundleEntryProtoSchema, proto);
}
