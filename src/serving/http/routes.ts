import { InvalidArgumentError } from "../../errors.js";
import { excerpt } from "../excerpt.js";
import { HttpError } from "./http-errors.js";
import { BoundedCache } from "../bounded-cache.js";

export interface ModelTarget {
  readonly model: string;
  readonly version?: number;
  readonly label?: string;
}

export type Route =
  | ({ readonly kind: "status" } & ModelTarget)
  | ({ readonly kind: "metadata" } & ModelTarget)
  | ({ readonly kind: "predict" } & ModelTarget)
  | { readonly kind: "metrics" };

export const METRICS_PATH = "/monitoring/prometheus/metrics";

// TF Serving's own URL grammar (http_rest_api_handler.cc), case-insensitive, full match.
const PREDICTION =
  /^\/v1\/models\/([^/:]+)(?:(?:\/versions\/(\d+))|(?:\/labels\/([^/:]+)))?:(classify|regress|predict)$/i;
const STATUS =
  /^\/v1\/models(?:\/([^/:]+))?(?:(?:\/versions\/(\d+))|(?:\/labels\/([^/:]+)))?(?:\/(metadata))?$/i;

/** Predict paths seen before and their routes: a client sends the same path with every request. */
const predictRoutes = new BoundedCache<string, Route>(256);

/** Maps a method and path to an API call, with TF Serving's errors for everything else. */
export function matchRoute(method: string, pathname: string): Route {
  if (pathname === METRICS_PATH && method === "GET") return { kind: "metrics" };
  if (method === "POST") {
    return predictRoutes.get(pathname, (path) => matchPredict(method, path));
  }
  if (method === "GET") {
    const m = STATUS.exec(pathname);
    if (m === null) throw malformed(method, pathname);
    if (m[1] === undefined) throw new InvalidArgumentError("Missing model name in request.");
    return { kind: m[4] === undefined ? "status" : "metadata", ...target(m[1], m[2], m[3]) };
  }
  throw malformed(method, pathname);
}

function malformed(method: string, pathname: string): InvalidArgumentError {
  return new InvalidArgumentError(`Malformed request: ${excerpt(method)} ${excerpt(pathname, 256)}`);
}

/** A POST's route (only successful matches are cached above: errors are thrown). */
function matchPredict(method: string, pathname: string): Route {
  const m = PREDICTION.exec(pathname);
  if (m === null) throw malformed(method, pathname);
  const api = m[4].toLowerCase();
  const selected = target(m[1], m[2], m[3]); // a bad version number is reported first, as TF Serving does
  if (api !== "predict") {
    throw new HttpError(501, "UNIMPLEMENTED", `${api} is not supported by an embedding model; use :predict.`);
  }
  return Object.freeze({ kind: "predict", ...selected });
}

function target(model: string, version: string | undefined, label: string | undefined): ModelTarget {
  const name = decode(model);
  if (version !== undefined) {
    const v = Number(version);
    if (!Number.isSafeInteger(v))
      throw new InvalidArgumentError(`Failed to convert version: ${version} to numeric.`);
    return { model: name, version: v };
  }
  if (label !== undefined) return { model: name, label: decode(label) };
  return { model: name };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidArgumentError(`Malformed URL-encoding in "${excerpt(segment)}".`);
  }
}
