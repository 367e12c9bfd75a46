/** Turns of the event loop for long main-thread work (src/kernels/event-loop-turns.ts). */
export { nextSlice } from "../../kernels/event-loop-turns.js";
