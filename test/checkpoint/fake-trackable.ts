/** A minimal Trackable for testing Checkpoint without the embedding layer. */
import type { Trackable, TrackableVariableSpec } from "../../src/checkpoint/trackable.js";

export class FakeTrackable implements Trackable {
  values = new Map<string, Float32Array>();
  restoreCalls = 0;

  constructor(
    readonly specs: TrackableVariableSpec[],
    built = true,
  ) {
    if (built) {
      specs.forEach((s, k) => {
        const n = s.shape.reduce((a, b) => a * b, 1);
        this.values.set(
          s.localName,
          Float32Array.from({ length: n }, (_, i) => k * 1000 + i * 0.5),
        );
      });
    }
  }

  trackableVariables(): readonly TrackableVariableSpec[] {
    return this.specs;
  }

  readVariable(localName: string): Float32Array | undefined {
    return this.values.get(localName);
  }

  restoreVariables(values: ReadonlyMap<string, Float32Array>): void {
    this.restoreCalls++;
    for (const [k, v] of values) {
      const existing = this.values.get(k);
      if (existing) existing.set(v);
      else this.values.set(k, v);
    }
  }
}

export const spec = (localName: string, shape: number[]): TrackableVariableSpec => ({
  localName,
  dtype: "float32",
  shape,
});
