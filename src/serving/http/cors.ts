import type { IncomingMessage, ServerResponse } from "node:http";
import { FailedPreconditionError } from "../../errors.js";

/**
 * CORS for browsers, as TF Serving's `--rest_api_enable_cors_support` (http_server.cc, AddCORSHeaders):
 * when enabled every answer carries `Access-Control-Allow-Origin`, `-Methods: POST, GET` and
 * `-Headers: Content-Type`. `allowedOrigins` is `["*"]` (any origin, TF Serving's behaviour) or a list of
 * exact origins (`https://app.example.com`), which are echoed back with `Vary: Origin`.
 */
export function addCorsHeaders(
  req: IncomingMessage,
  res: ServerResponse,
  allowedOrigins: readonly string[],
): void {
  if (allowedOrigins.length === 0) return;
  if (allowedOrigins.includes("*")) {
    res.setHeader("Access-Control-Allow-Origin", "*");
  } else {
    res.setHeader("Vary", "Origin");
    const origin = req.headers.origin;
    if (origin === undefined || !allowedOrigins.includes(origin)) return;
    res.setHeader("Access-Control-Allow-Origin", origin);
  }
  res.setHeader("Access-Control-Allow-Methods", "POST, GET");
  res.setHeader("Access-Control-Allow-Headers", "Content-Type");
}

/**
 * `OPTIONS` (a CORS preflight) is answered like TF Serving, whether CORS is enabled or not: 200 with an
 * empty body when `Origin` is http(s), else FAILED_PRECONDITION (HTTP 400).
 */
export function checkPreflight(req: IncomingMessage): void {
  if (!/https?:\/\//.test(req.headers.origin ?? "")) {
    throw new FailedPreconditionError("Origin header is missing in CORS preflight");
  }
}
