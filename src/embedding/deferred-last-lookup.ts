import type { PlannedLookup } from "./serving-embedding-lookup.js";
import type { LastLookup } from "./lookup-record.js";

/**
 * `lastLookupPlans` after a staged (fast) lookup, which made no plans: the general planner runs on first
 * access, over the inputs the lookup saw. The plans share the caller's id arrays, as the general path's
 * do: inputs changed in place before `applyGradients` change what it back-propagates through, in both.
 */
export class DeferredLastLookup implements LastLookup {
  private planned: PlannedLookup | null = null;

  constructor(
    readonly inputs: unknown,
    private readonly planner: () => PlannedLookup,
  ) {}

  get features(): PlannedLookup["features"] {
    return this.plan().features;
  }

  get pack(): PlannedLookup["pack"] {
    return this.plan().pack;
  }

  private plan(): PlannedLookup {
    this.planned ??= this.planner();
    return this.planned;
  }
}
