export { DenseTensor } from "./dense-tensor.js";
export { SparseTensor, type SparseTensorOptions } from "./sparse-tensor.js";
export { RaggedTensor } from "./ragged-tensor.js";
export { KeyedJaggedTensor, type KeyedJaggedTensorOptions } from "./keyed-jagged-tensor.js";
export type { DType, IdDType, FloatDType, IdArray, FloatArray, TensorData } from "./dtype.js";
export type { NestedArray } from "./nested-array.js";
