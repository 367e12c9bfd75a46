import { request } from "node:http";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  bytes: Uint8Array;
  json(): unknown;
}

/** A plain node:http request (no client retries or pooling surprises); resolves on any status. */
export function call(
  url: string,
  options: {
    method?: string;
    body?: string | Uint8Array;
    contentType?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) {
      headers["Content-Type"] = options.contentType ?? "application/json";
      headers["Content-Length"] = Buffer.byteLength(options.body);
    }
    const req = request(
      url,
      { method: options.method ?? (options.body === undefined ? "GET" : "POST"), headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const buffer = Buffer.concat(chunks);
          const bytes = new Uint8Array(buffer.byteLength);
          bytes.set(buffer);
          const text = buffer.toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            bytes,
            json: () => JSON.parse(text),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

export function postJson(url: string, body: unknown): Promise<Reply> {
  return call(url, { body: typeof body === "string" ? body : JSON.stringify(body) });
}

/** Flattens nested JSON numbers into a Float32Array (the server prints float32s exactly). */
export function floats(nested: unknown): Float32Array {
  const out: number[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else out.push(v as number);
  };
  visit(nested);
  return Float32Array.from(out);
}
