export type { BagBatch } from "./bag-batch.js";
export { numRows } from "./bag-batch.js";
export { reduceBagsSegmentOrder, reduceBagsWeighted, scatterSequence, gatherRows } from "./reduce.js";
