/**
 * Where a server's main thread spends its time (`node dist/bench/profile-summary.js <file.cpuprofile>`):
 * the samples of a V8 CPU profile (node --cpu-prof; bench:server passes SERVER_NODE_OPTIONS to its server)
 * between the first and last request handled, each charged to one stage of a request by the nearest frame
 * of its stack that names one (HTTP/HTTP2 parsing and connections, routing, decoding and validation,
 * batching, lookup, encoding, write), plus GC, idle and other. One JSON line: the stages' shares in %.
 */
import { readFileSync } from "node:fs";
import { arg } from "./workload.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Stage rules, tried from the sampled frame up its stack: the first that matches names the stage. */
const RULES: [string, (fn: string, url: string) => boolean][] = [
  ["idle", (fn) => fn === "(idle)"],
  ["gc", (fn) => fn === "(garbage collector)"],
  [
    "write",
    (fn, url) =>
      /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeGeneric)$/.test(fn) ||
      /_http_outgoing|internal\/stream_base_commons/.test(url) ||
      (/internal\/http2\/core/.test(url) && /respond|write|end|sendTrailers/i.test(fn)),
  ],
  [
    "encoding",
    (fn, url) =>
      /http\/json-response|http\/json-floats|http\/float32-text|binary\/response-codec|grpc\/.*(output|response|encode)/.test(
        url,
      ) ||
      (/@bufbuild\/protobuf/.test(url) && /toBinary|write/i.test(fn)),
  ],
  ["lookup", (_fn, url) => /\/kernels\/|\/embedding\//.test(url)],
  ["batching", (_fn, url) => /\/batching\//.test(url)],
  [
    "decoding + validation",
    (fn, url) =>
      /http\/json-body|http\/json-request|http\/json-fast-columns|http\/json-feature|http\/json-dense|http\/json-decode|binary\/request-codec|grpc\/tensor-inputs|grpc\/.*request|predict-service|lossless-json/.test(
        url,
      ) ||
      (/@bufbuild\/protobuf/.test(url) && /fromBinary|read/i.test(fn)) ||
      (fn === "parse" && url === "") ||
      fn === "decode",
  ],
  [
    "routing",
    (_fn, url) =>
      /http\/routes|http\/server|http\/predict|grpc\/(server|service|routes)|@connectrpc/.test(url),
  ],
  [
    "HTTP parsing + connections",
    (_fn, url) =>
      /_http_server|_http_incoming|_http_common|node:net|streams\/|internal\/http2|node:http2|read-body/.test(
        url,
      ),
  ],
];

const file = process.argv[2];
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const stageOf = new Map<number, string>();
const inRequest = new Map<number, boolean>();
function classify(id: number): string {
  const known = stageOf.get(id);
  if (known !== undefined) return known;
  let stage = "other";
  outer: for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
    const { functionName, url } = byId.get(x)!.callFrame;
    for (const [name, rule] of RULES)
      if (rule(functionName, url)) {
        stage = name;
        break outer;
      }
  }
  stageOf.set(id, stage);
  return stage;
}
function handlesRequest(id: number): boolean {
  const known = inRequest.get(id);
  if (known !== undefined) return known;
  let found = false;
  for (let x: number | undefined = id; x !== undefined && !found; x = parent.get(x))
    found = /http\/predict|predict-service/.test(byId.get(x)!.callFrame.url);
  inRequest.set(id, found);
  return found;
}

let t = profile.startTime;
const times = profile.timeDeltas.map((d) => (t += d));
let first = Infinity;
let last = -Infinity;
profile.samples.forEach((id, i) => {
  if (handlesRequest(id)) {
    first = Math.min(first, times[i]);
    last = Math.max(last, times[i]);
  }
});
const shares = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  if (times[i] < first || times[i] > last) return;
  const dt = profile.timeDeltas[i];
  total += dt;
  const stage = classify(id);
  shares.set(stage, (shares.get(stage) ?? 0) + dt);
});
const pct: Record<string, number> = {};
for (const [name] of [...RULES, ["other"]])
  pct[name as string] = Math.round(((shares.get(name as string) ?? 0) / total) * 1000) / 10;
console.log(
  JSON.stringify({
    bench: "profile",
    label: arg("label", file),
    window_ms: Math.round((last - first) / 1000),
    pct,
  }),
);
