import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { inspect } from "../../src/cli/commands/inspect.js";
import { verify } from "../../src/cli/commands/verify.js";
import { fixture, ROOT, tempDir } from "../checkpoint/helpers.js";

const SLICED = fixture("synthetic-sliced");
const MAIN = join(ROOT, "dist", "src", "cli", "main.js");

async function capture(fn: (out: (s: string) => void) => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  await fn((s) => lines.push(s));
  return lines.join("\n");
}

test("inspect lists key, dtype, shape, slices and object path", async () => {
  const text = await capture((out) => inspect(SLICED, { limit: "1000" }, out));
  const lines = text.split("\n");
  assert.match(lines[0], /ckpt-1 \(2 data shards, 23 variables\)/);
  const user = lines.find((l) => l.startsWith("embedding/user/"))!;
  assert.deepEqual(user.split(/\s{2,}/), [
    "embedding/user/.ATTRIBUTES/VARIABLE_VALUE",
    "float32",
    "[10, 4]",
    "0,5:0,4 5,5:0,4",
    "(root).embedding.user",
  ]);
  assert.ok(lines.some((l) => /^misc\/cols\s+float32\s+\[4, 6\]\s+-:0,3 -:3,3\s+-$/.test(l)));
});

test("inspect --json gives every variable", async () => {
  const json = JSON.parse(await capture((out) => inspect(SLICED, { limit: "1000", json: true }, out)));
  assert.equal(json.numShards, 2);
  assert.equal(json.variables.length, 23);
  assert.deepEqual(
    json.variables.find((v: { key: string }) => v.key === "save_counter/.ATTRIBUTES/VARIABLE_VALUE"),
    {
      key: "save_counter/.ATTRIBUTES/VARIABLE_VALUE",
      objectPath: "(root).save_counter",
      dtype: "int64",
      shape: [],
      slices: [],
    },
  );
});

test("inspect --tensor prints values (reassembled, exact 64-bit ints, half as numbers, rows only)", async () => {
  const cols = await capture((out) => inspect(SLICED, { tensor: "misc/cols", limit: "1000" }, out));
  assert.equal(
    cols,
    "misc/cols  float32  [4, 6]\n0 1 2 3 4 5\n6 7 8 9 10 11\n12 13 14 15 16 17\n18 19 20 21 22 23",
  );
  const i64 = JSON.parse(
    await capture((out) => inspect(SLICED, { tensor: "misc/int64", limit: "1", json: true }, out)),
  );
  assert.deepEqual(i64.values, ["-9223372036854775808", "-1", "9007199254740993"]);
  const half = JSON.parse(
    await capture((out) => inspect(SLICED, { tensor: "misc/half", limit: "9", json: true }, out)),
  );
  assert.deepEqual(half.values, [1, -0.5, 65504, 6.103515625e-5, 0]);
  const rows = JSON.parse(
    await capture((out) =>
      inspect(
        SLICED,
        { tensor: "embedding/user/.ATTRIBUTES/VARIABLE_VALUE", rows: "4:2", limit: "9", json: true },
        out,
      ),
    ),
  );
  assert.deepEqual(rows.shape, [2, 4]);
  assert.deepEqual(rows.values, [40.25, 41.25, 42.25, 43.25, 50.25, 51.25, 52.25, 53.25]);
  const limited = await capture((out) => inspect(SLICED, { tensor: "misc/cols", limit: "7" }, out));
  assert.match(limited, /\.\.\. \(17 more values; use --limit\)/);
});

test("verify reports OK, then each bad entry of a corrupted copy", async () => {
  assert.equal(await verify(SLICED, {}, () => undefined), 0);
  const dir = tempDir();
  cpSync(SLICED, dir, { recursive: true });
  const shard1 = join(dir, "ckpt-1.data-00001-of-00002");
  const bytes = readFileSync(shard1);
  bytes[0] ^= 1; // first slice stored in shard 1
  bytes[bytes.length - 1] ^= 1; // last bytes of the shard
  writeFileSync(shard1, bytes);
  const lines: string[] = [];
  assert.equal(await verify(dir, {}, (s) => lines.push(s)), 2);
  assert.equal(lines.filter((l) => l.startsWith("BAD  ")).length, 2);
  assert.match(lines.join("\n"), /checksum mismatch/);
  assert.match(lines.at(-1)!, /2 bad entries/);
  const json = JSON.parse(await capture((out) => verify(dir, { json: true }, out)));
  assert.equal(json.ok, false);
  assert.equal(json.problems.length, 2);
});

test("the bin runs inspect and verify and exits non-zero on failures", () => {
  const ok = spawnSync(process.execPath, [MAIN, "verify", SLICED], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /OK \(31 entries/);
  const dir = tempDir();
  cpSync(SLICED, dir, { recursive: true });
  const index = readFileSync(join(dir, "ckpt-1.index"));
  index[100] ^= 0xff;
  writeFileSync(join(dir, "ckpt-1.index"), index);
  const bad = spawnSync(process.execPath, [MAIN, "verify", dir], { encoding: "utf8" });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /BAD {2}\(index\): Corrupt checkpoint index .*block checksum mismatch/);
  const missing = spawnSync(process.execPath, [MAIN, "inspect", join(dir, "nothing")], { encoding: "utf8" });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /NOT_FOUND: No checkpoint at/);
  const help = spawnSync(process.execPath, [MAIN, "--help"], { encoding: "utf8" });
  assert.match(help.stdout, /inspect.*\n.*verify/s);
});

test("verify of a truncated data file states the file's real size", async () => {
  const dir = tempDir();
  cpSync(SLICED, dir, { recursive: true });
  const shard1 = join(dir, "ckpt-1.data-00001-of-00002");
  writeFileSync(shard1, readFileSync(shard1).subarray(0, 40));
  const lines: string[] = [];
  assert.ok((await verify(dir, {}, (s) => lines.push(s))) > 0);
  const bad = lines.filter((l) => l.startsWith("BAD  "));
  assert.ok(bad.length > 1);
  // Every entry past the end names the same, real, size (not where its own read stopped).
  for (const line of bad) assert.match(line, /is truncated: .* but the file is 40 bytes long\.$/);
});

test("--version prints package.json's version; usage errors exit 2, verify's bad entries 1", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const version = spawnSync(process.execPath, [MAIN, "--version"], { encoding: "utf8" });
  assert.equal(version.status, 0);
  assert.equal(version.stdout.trim(), pkg.version);
  const unknownFlag = spawnSync(process.execPath, [MAIN, "verify", SLICED, "--bogus"], { encoding: "utf8" });
  assert.equal(unknownFlag.status, 2);
  assert.match(unknownFlag.stderr, /unknown option '--bogus'/);
  const missingArgument = spawnSync(process.execPath, [MAIN, "verify"], { encoding: "utf8" });
  assert.equal(missingArgument.status, 2);
  assert.match(missingArgument.stderr, /missing required argument 'checkpoint'/);
  const unknownCommand = spawnSync(process.execPath, [MAIN, "frobnicate"], { encoding: "utf8" });
  assert.equal(unknownCommand.status, 2);
  const badValue = spawnSync(
    process.execPath,
    [MAIN, "serve", "--model-name", "m", "--model-base-path", "/x", "--cors-allowed-origins", "ftp://x/y"],
    { encoding: "utf8" },
  );
  assert.equal(badValue.status, 2);
  assert.match(badValue.stderr, /--cors-allowed-origins/);
  const help = spawnSync(process.execPath, [MAIN, "verify", "--help"], { encoding: "utf8" });
  assert.equal(help.status, 0);
});

test("inspect --storage: each matrix's size and quantization error in that storage", async () => {
  const video = "embedding/video/.ATTRIBUTES/VARIABLE_VALUE";
  const report = async (storage: string) =>
    JSON.parse(await capture((out) => inspect(SLICED, { limit: "1000", json: true, storage }, out))) as {
      storage: string;
      tables: {
        key: string;
        bytes: number;
        float32Bytes: number;
        maxAbsError: number;
        maxMagnitude: number;
      }[];
    };
  const int8 = (await report("int8")).tables.find((t) => t.key === video)!;
  // [7, 3]: 7 rows of 8 bytes (scale, bias) + 3 codes padded to 4
  assert.deepEqual([int8.float32Bytes, int8.bytes, int8.maxMagnitude], [84, 84, 2.5]);
  // The widest row is [2.25, -2.375, 2.5]: half a step is 4.875 / 255 / 2 (plus float32 rounding).
  assert.ok(int8.maxAbsError > 0 && int8.maxAbsError <= 4.875 / 255 / 2 + 1e-6, `${int8.maxAbsError}`);
  // Multiples of 1/8 below 4 are exact in float16 and bfloat16.
  for (const kind of ["float16", "bfloat16"]) {
    const t = (await report(kind)).tables.find((r) => r.key === video)!;
    assert.deepEqual([t.bytes, t.maxAbsError], [42, 0], kind);
  }
  await assert.rejects(
    capture((out) => inspect(SLICED, { limit: "1", storage: "int4" }, out)),
    /--storage must be one of float32, float16, bfloat16, int8, got "int4"/,
  );
});
