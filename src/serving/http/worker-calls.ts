import { Worker, type TransferListItem } from "node:worker_threads";

interface Pending<Reply> {
  resolve(reply: Reply): void;
  reject(error: unknown): void;
}

/**
 * Calls to one worker thread, started on first use: each call posts its message with an `id` added and
 * settles with the reply that carries that id. The worker is unref'd while no call is pending (the process
 * may exit), and a worker that fails or exits rejects every pending call; the next call starts a new one.
 */
export class WorkerCalls<Reply extends { readonly id: number }> {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending<Reply>>();

  constructor(
    private readonly script: URL,
    /** For errors: "The <name> worker exited with code N." */
    private readonly name: string,
  ) {}

  call(message: object, transfer: readonly TransferListItem[] = []): Promise<Reply> {
    const w = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) w.ref();
      w.postMessage({ ...message, id }, [...transfer]);
    });
  }

  private started(): Worker {
    if (this.worker !== null) return this.worker;
    const w = new Worker(this.script);
    w.unref();
    w.on("message", (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) w.unref();
      p.resolve(reply);
    });
    const fail = (error: Error) => {
      if (this.worker === w) this.worker = null;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(error);
      }
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`The ${this.name} worker exited with code ${code}.`)));
    this.worker = w;
    return w;
  }
}
