export {
  applyGradients,
  applyPlannedGradients,
  type ApplyGradientsResult,
  type TrainableEmbedding,
} from "./apply-gradients.js";
export { makeRowUpdater, type RowUpdater, type TableState } from "./optimizer-math.js";
export { TouchedRows } from "./touched-rows.js";
