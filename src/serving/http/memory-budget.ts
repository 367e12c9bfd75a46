import { HttpError } from "./http-errors.js";

/**
 * The server-wide in-flight memory budget: every predict request holds its estimated cost (request-cost.ts)
 * from admission until its answer is written. A request that does not fit waits, first come first
 * served, up to `waitMs`, then gets 429 RESOURCE_EXHAUSTED (retry later); so concurrent big requests
 * run a few at a time instead of all at once.
 */
export class MemoryBudget {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly maxBytes: number) {}

  /** Bytes held by requests in flight now. */
  get inUse(): number {
    return this.used;
  }

  /** Requests waiting for room now. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Holds `bytes` (at most `maxBytes`: bigger requests must be refused before) and resolves with the
   * function that gives them back (idempotent); rejects with 429 after `waitMs` without room.
   */
  reserve(bytes: number, waitMs: number): Promise<() => void> {
    const held = Math.min(bytes, this.maxBytes);
    if (this.waiting.length === 0 && this.used + held <= this.maxBytes) {
      this.used += held;
      return Promise.resolve(this.releaser(held));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes: held,
        grant: () => {
          clearTimeout(waiter.timer);
          this.used += held;
          resolve(this.releaser(held));
        },
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(
            new HttpError(
              429,
              "RESOURCE_EXHAUSTED",
              `The server's in-flight memory budget (${this.maxBytes} bytes, --max-inflight-bytes) is in use ` +
                `by other requests; this one needs about ${held} bytes. Retry later.`,
            ),
          );
          this.grantWaiting(); // the head may have been this one, blocking smaller ones behind it
        }, waitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private releaser(bytes: number): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.used -= bytes;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.maxBytes) {
      this.waiting.shift()!.grant();
    }
  }
}

interface Waiter {
  readonly bytes: number;
  grant(): void;
  timer: NodeJS.Timeout;
}
