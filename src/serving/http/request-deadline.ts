import { performance } from "node:perf_hooks";
import { HttpError } from "./http-errors.js";

/**
 * A request's deadline: `race(work)` rejects with 504 DEADLINE_EXCEEDED once `ms` have passed since
 * `since`. The work itself goes on (a lookup cannot be interrupted) and still releases its lease when it
 * settles; its late result or error is dropped. One timer per request, of a whole number of milliseconds
 * (Node keeps a timer list per distinct duration: fractional ones made a list, and a priority-queue
 * insert, per request).
 */
export class RequestDeadline {
  private timer: NodeJS.Timeout | undefined;
  private expired: Promise<never> | undefined;

  constructor(
    private readonly ms: number,
    private readonly since: number,
  ) {}

  race<T>(work: Promise<T>): Promise<T> {
    work.catch(() => {}); // reported through the race, or lost to the deadline
    this.expired ??= new Promise<never>((_, reject) => {
      const left = Math.ceil(Math.max(0, this.since + this.ms - performance.now()));
      this.timer = setTimeout(
        () =>
          reject(
            new HttpError(
              504,
              "DEADLINE_EXCEEDED",
              `Request timed out after ${this.ms} ms (--request-timeout-ms).`,
            ),
          ),
        left,
      );
    });
    return Promise.race([work, this.expired]);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}
