/**
 * TF2 object-based checkpoints: the `_CHECKPOINTABLE_OBJECT_GRAPH` proto, object paths (breadth-first,
 * first edge wins), TF's escaping of local names, and the keys TF derives from them.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DataLossError } from "../errors.js";
import {
  TrackableObjectGraphSchema,
  type TrackableObjectGraph,
} from "./proto/gen/tensorflow/trackable_object_graph_pb.js";

export const OBJECT_GRAPH_PROTO_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH";
export const VARIABLE_VALUE_KEY = "VARIABLE_VALUE";
const OBJECT_ATTRIBUTES_NAME = ".ATTRIBUTES";

/** `trackable_utils.escape_local_name`: `.` → `..` first, then `/` → `.S`. */
export function escapeLocalName(name: string): string {
  return name.replaceAll(".", "..").replaceAll("/", ".S");
}

/** The bundle key of attribute `attribute` (default VARIABLE_VALUE) of the object at `path` (local names). */
export function checkpointKey(path: readonly string[], attribute: string = VARIABLE_VALUE_KEY): string {
  return [...path.map(escapeLocalName), OBJECT_ATTRIBUTES_NAME, escapeLocalName(attribute)].join("/");
}

export function parseObjectGraph(bytes: Uint8Array, where = OBJECT_GRAPH_PROTO_KEY): TrackableObjectGraph {
  try {
    return fromBinary(TrackableObjectGraphSchema, bytes);
  } catch (e) {
    throw new DataLossError(`${where}: undecodable TrackableObjectGraph: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The object graph of an open bundle (`undefined` for name-based TF1 checkpoints), errors naming the file. */
export async function readObjectGraph(reader: {
  readonly prefix: string;
  objectGraphBytes(): Promise<Uint8Array | undefined>;
}): Promise<TrackableObjectGraph | undefined> {
  const bytes = await reader.objectGraphBytes();
  return bytes === undefined
    ? undefined
    : parseObjectGraph(bytes, `Checkpoint "${reader.prefix}", key "${OBJECT_GRAPH_PROTO_KEY}"`);
}

/** Shortest path (local names) from the root to every reachable node; node 0 is the root (`[]`). */
export function objectPaths(graph: TrackableObjectGraph): Map<number, string[]> {
  const paths = new Map<number, string[]>();
  if (graph.nodes.length === 0) return paths;
  paths.set(0, []);
  const queue = [0];
  for (let q = 0; q < queue.length; q++) {
    const id = queue[q];
    for (const child of graph.nodes[id].children) {
      if (paths.has(child.nodeId) || child.nodeId < 0 || child.nodeId >= graph.nodes.length) continue;
      paths.set(child.nodeId, [...(paths.get(id) as string[]), child.localName]);
      queue.push(child.nodeId);
    }
  }
  return paths;
}

/** TF's human-readable path: `(root).embedding.user/accumulators`. */
export function formatObjectPath(path: readonly string[]): string {
  return ["(root)", ...path].join(".");
}

export interface ObjectAttribute {
  readonly checkpointKey: string;
  /** e.g. `(root).embedding.user`; for optimizer slots `slot 'm' of optimizer (root).opt for (root).var`. */
  readonly objectPath: string;
  /** Local names from the root; undefined for slot variables (reachable only through an optimizer). */
  readonly path: readonly string[] | undefined;
  readonly nodeId: number;
  readonly attribute: string;
  readonly fullName: string;
}

/** Every saved attribute in the graph, in node order, with its object path. */
export function listObjectAttributes(graph: TrackableObjectGraph): ObjectAttribute[] {
  const paths = objectPaths(graph);
  const slotPaths = new Map<number, string>();
  graph.nodes.forEach((node, id) => {
    for (const s of node.slotVariables) {
      const opt = paths.get(id);
      const orig = paths.get(s.originalVariableNodeId);
      if (opt === undefined || orig === undefined || paths.has(s.slotVariableNodeId)) continue;
      slotPaths.set(
        s.slotVariableNodeId,
        `slot '${s.slotName}' of optimizer ${formatObjectPath(opt)} for ${formatObjectPath(orig)}`,
      );
    }
  });
  const out: ObjectAttribute[] = [];
  graph.nodes.forEach((node, nodeId) => {
    const path = paths.get(nodeId);
    const objectPath = path !== undefined ? formatObjectPath(path) : slotPaths.get(nodeId);
    if (objectPath === undefined) return;
    for (const a of node.attributes) {
      out.push({
        checkpointKey: a.checkpointKey,
        objectPath,
        path,
        nodeId,
        attribute: a.name,
        fullName: a.fullName,
      });
    }
  });
  return out;
}

/** The node reached from the root by following `path` (unescaped local names), if any. */
export function findNode(graph: TrackableObjectGraph, path: readonly string[]): number | undefined {
  if (graph.nodes.length === 0) return undefined;
  let id = 0;
  for (const name of path) {
    const child = graph.nodes[id].children.find((c) => c.localName === name);
    if (child === undefined || child.nodeId < 0 || child.nodeId >= graph.nodes.length) return undefined;
    id = child.nodeId;
  }
  return id;
}

/** The key under which the object at `path` saved its VARIABLE_VALUE, per the graph. */
export function variableKeyInGraph(graph: TrackableObjectGraph, path: readonly string[]): string | undefined {
  const id = findNode(graph, path);
  if (id === undefined) return undefined;
  return graph.nodes[id].attributes.find((a) => a.name === VARIABLE_VALUE_KEY)?.checkpointKey;
}

/** A node to write: named children (node ids) and optionally one saved variable. */
export interface GraphNodeSpec {
  children: { name: string; nodeId: number }[];
  variable?: { checkpointKey: string; fullName: string };
}

/** Serializes a graph as TF's saver does (has_checkpoint_values set on every node that leads to data). */
export function buildObjectGraph(nodes: readonly GraphNodeSpec[]): Uint8Array {
  const hasValues = nodes.map(() => false);
  const visit = (id: number, seen: Set<number>): boolean => {
    if (seen.has(id)) return hasValues[id];
    seen.add(id);
    let v = nodes[id].variable !== undefined;
    for (const c of nodes[id].children) v = visit(c.nodeId, seen) || v;
    hasValues[id] = v;
    return v;
  };
  visit(0, new Set());
  const graph = create(TrackableObjectGraphSchema, {
    nodes: nodes.map((n, id) => ({
      children: n.children.map((c) => ({ nodeId: c.nodeId, localName: c.name })),
      attributes:
        n.variable === undefined
          ? []
          : [
              {
                name: VARIABLE_VALUE_KEY,
                fullName: n.variable.fullName,
                checkpointKey: n.variable.checkpointKey,
              },
            ],
      hasCheckpointValues: hasValues[id],
    })),
  });
  return toBinary(TrackableObjectGraphSchema, graph);
}
