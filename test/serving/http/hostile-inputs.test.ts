import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RunningServer } from "../../../src/index.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { call, postJson } from "../support/http.js";

describe("malformed and hostile inputs get 4xx answers and the server keeps serving", () => {
  let server: RunningServer;
  let url: string;

  before(async () => {
    ({ server, url } = await serveTestModel(await buildTestModel(1, 5), {
      limits: { maxIdsPerRequest: 1000 },
    }));
  });
  after(() => server.close());

  const healthy = async () => {
    const reply = await postJson(url, { inputs: { watched: [[1, 2]] } });
    assert.equal(reply.status, 200, reply.text);
  };

  test("each bad body → 400 with a message naming the problem (and the feature)", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const cases: [string, RegExp][] = [
      ["", /JSON Parse error: The document is empty/],
      ["{", /JSON Parse error/],
      ['{"inputs": {"watched": [[NaN]]}}', /JSON Parse error/],
      ["[1, 2]", /must be a JSON object/],
      ['{"signature_name": 100, "inputs": {}}', /'signature_name' key must be a string value/],
      ['{"signature_name": "other", "inputs": {}}', /Serving signature name: "other" not found/],
      [
        '{"instances": [], "inputs": {}}',
        /Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist/,
      ],
      ['{"foo": 1}', /^Missing 'inputs' or 'instances' key$/],
      [
        '{"inputs": {"nope": [[1]]}}',
        /Input "nope" is not a feature of this model\. Inputs: favorited, friends, user\/topics, watched/,
      ],
      [
        '{"inputs": {"watched": [[1.5]]}}',
        /Feature "watched": inputs\["watched"\]\[0\]\[0\] is 1.5; expected an int64 id/,
      ],
      ['{"inputs": {"watched": [["abc"]]}}', /Feature "watched": .* is "abc"; expected an int64 id/],
      ['{"inputs": {"watched": [[true]]}}', /Feature "watched": .* is true/],
      ['{"inputs": {"watched": [[null]]}}', /Feature "watched": .* is null/],
      ['{"inputs": {"watched": [[[1]]]}}', /Feature "watched": .* is a list of 1; expected an int64 id/],
      [
        '{"inputs": {"watched": "1"}}',
        /Feature "watched": inputs\["watched"\] is "1"; expected a list of ids/,
      ],
      ['{"inputs": {"watched": [[1e400]]}}', /Feature "watched": .* is Infinity/],
      ['{"inputs": {"watched": [[-1]]}}', /Feature "watched": id -1 is out of range for table "video"/],
      [
        '{"inputs": {"watched": [[1000]]}}',
        /Feature "watched": id 1000 is out of range for table "video" \(vocabularySize 1000/,
      ],
      [
        '{"inputs": {"watched": [[99999999999999999999999]]}}',
        /Feature "watched": .* is 99999999999999999999999; expected an int64 id/,
      ],
      ['{"inputs": {"watched": [["-9223372036854775808"]]}}', /id -9223372036854775808 is out of range/],
      [
        '{"inputs": {"watched": {"ids": [[1]], "weights": [[1e39]]}}}',
        /Feature "watched": .*weight 0 is Infinity|weight 0 is Infinity/,
      ],
      [
        '{"inputs": {"watched": {"ids": [[1, 2]], "weights": [[1]]}}}',
        /Feature "watched": .* has 2 ids but its weights/,
      ],
      [
        '{"inputs": {"watched": {"ids": [[1]], "weights": [["x"]]}}}',
        /Feature "watched": .* is "x"; expected a finite number/,
      ],
      ['{"inputs": {"watched": {"values": [1, 2], "row_splits": [0, 3]}}}', /row splits must start at 0/],
      [
        '{"inputs": {"watched": {"indices": [[0, 5]], "values": [1], "dense_shape": [1, 2]}}}',
        /indices\[0\]\[1\] is 5, expected an integer in \[0, 2\)/,
      ],
      ['{"inputs": {"friends": {"dense": [[1, 2], [3]]}}}', /Feature "friends": .* must be rectangular/],
      ['{"inputs": {"favorited": {"dense": [[1, 2]]}}}', /Feature "favorited" is a sequence feature/],
      ['{"inputs": {"watched": {"idz": [1]}}}', /Feature "watched": inputs\["watched"\] has keys \{idz\}/],
      [
        '{"instances": [{"watched": [1]}, {"friends": [1]}]}',
        /instances\[1\] has inputs \{friends\} but instances\[0\] has \{watched\}/,
      ],
      [
        '{"instances": [{"watched": [1]}, {"constructor": [1]}]}',
        /instances\[1\] has inputs \{constructor\}/,
      ],
      [
        '{"instances": [{"watched": [1]}, 5]}',
        /Expecting object but got list at item 1 of input list: instances\[1\] is 5; every instance must be an object/,
      ],
      [
        '{"instances": [[1]]}',
        /instances is a plain list, but expecting list of objects .* each instance must be an object keyed by feature name/,
      ],
      ['{"instances": {"watched": [1]}}', /Expecting 'instances' to be an list\/array/],
      [
        JSON.stringify({ inputs: { watched: [Array.from({ length: 1001 }, () => 1)] } }),
        /1001 ids; this server accepts at most 1000/,
      ],
      [`{"inputs": {"watched": ${deep}}}`, /Feature "watched": .* is a list of 1; expected an int64 id/],
      [`{"inputs": {"friends": {"dense": ${deep}}}}`, /nested deeper than rank 8/],
      ['{"inputs": {"__proto__": [[1]]}}', /Input "__proto__" is not a feature/],
      [
        '{"inputs": {"watched": {"indices": [], "values": [], "dense_shape": [2000000000, 5]}}}',
        /embeddings would hold 16000000000 values; this server returns at most 33554432/,
      ],
      [
        `{"inputs": {"watched": [[1234567890123456789]], "x": ${deep}}}`,
        /JSON Parse error: Maximum call stack size exceeded/,
      ],
    ];
    for (const [body, message] of cases) {
      const reply = await postJson(url, body);
      assert.equal(reply.status, 400, `${body.slice(0, 80)} → ${reply.status} ${reply.text}`);
      assert.match((reply.json() as { error: string }).error, message, body.slice(0, 80));
    }
    await healthy();
  });

  test("invalid UTF-8 and a wrong method/path are 400s", async () => {
    const reply = await call(url, { body: Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d) });
    assert.equal(reply.status, 400);
    assert.match(reply.text, /not valid UTF-8/);
    assert.equal((await call(url, { method: "PUT", body: "{}" })).status, 400);
    await healthy();
  });

  test("a 100 MB body is refused with 413 without being buffered", async () => {
    const huge = new Uint8Array(100 * 1024 * 1024).fill(0x20);
    const reply = await call(url, { body: huge });
    assert.equal(reply.status, 413);
    assert.match((reply.json() as { error: string }).error, /exceeds the limit of 67108864 bytes/);
    await healthy();
  });

  test("a bad request batched with good ones fails alone", async () => {
    const good = Array.from({ length: 8 }, (_, i) => postJson(url, { inputs: { watched: [[i, i + 1]] } }));
    const bad = postJson(url, { inputs: { watched: [[1000]] } });
    const replies = await Promise.all([...good, bad]);
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200, 200, 200, 200, 200, 200, 400],
    );
  });
});
