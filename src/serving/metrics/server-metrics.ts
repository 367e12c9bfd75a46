import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { activeKernelFamily } from "../../kernels/kernel-family.js";
import type { ModelEvent, ModelRegistry } from "../model-registry.js";

/** Latency buckets (seconds): sub-millisecond lookups up to multi-second timeouts. */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

/**
 * The server's Prometheus metrics, in a registry of its own (several servers may share a process). Served
 * on `/monitoring/prometheus/metrics` like TF Serving's monitoring endpoint.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"model" | "api" | "status">;
  private readonly latency: Histogram<"model" | "api" | "status">;
  private readonly ids: Counter<"model">;
  private readonly batchExamples: Histogram<"model">;
  private readonly batchRequests: Histogram<"model">;
  private readonly unsubscribe: () => void;

  /**
   * `requestsOnly`: a loop other than the main one (its counters and histograms are added to the main
   * loop's; the model and process gauges and model events are the main loop's alone).
   */
  constructor(models: ModelRegistry, options: { requestsOnly?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "tpu_embedding_requests_total",
      help: "Requests by model, API (predict, status, metadata, metrics; grpc_predict, grpc_status, grpc_metadata) and status (HTTP status, or gRPC code name).",
      labelNames: ["model", "api", "status"],
      registers,
    });
    this.latency = new Histogram({
      name: "tpu_embedding_request_latency_seconds",
      help: "Time from the request's arrival to its response, by model, API and status.",
      labelNames: ["model", "api", "status"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ids = new Counter({
      name: "tpu_embedding_ids_looked_up_total",
      help: "Ids looked up by successful predict requests.",
      labelNames: ["model"],
      registers,
    });
    this.batchExamples = new Histogram({
      name: "tpu_embedding_batch_examples",
      help: "Examples (rows) per lookup after micro-batching.",
      labelNames: ["model"],
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.batchRequests = new Histogram({
      name: "tpu_embedding_batch_requests",
      help: "Predict requests merged into one lookup.",
      labelNames: ["model"],
      buckets: SIZE_BUCKETS,
      registers,
    });
    if (options.requestsOnly === true) {
      this.unsubscribe = () => {};
      return;
    }
    const modelEvents = new Counter({
      name: "tpu_embedding_model_events_total",
      help: "Model lifecycle events: load-start, load-done, load-failed, unload-start, unloaded.",
      labelNames: ["model", "event"],
      registers,
    });
    new Gauge({
      name: "tpu_embedding_kernel_family",
      help: "The lookup kernel family in use (native, wasm or js): 1 for the active one.",
      labelNames: ["family"],
      registers,
      collect() {
        this.reset();
        this.set({ family: activeKernelFamily() }, 1);
      },
    });
    new Gauge({
      name: "tpu_embedding_model_versions",
      help: "Versions of each model by state (AVAILABLE, LOADING, END, ...).",
      labelNames: ["model", "state"],
      registers,
      collect() {
        this.reset();
        for (const model of models.modelNames()) {
          const counts = new Map<string, number>();
          for (const s of models.status(model)) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
          for (const [state, n] of counts) this.set({ model, state }, n);
        }
      },
    });
    new Gauge({
      name: "tpu_embedding_process_memory_bytes",
      help: "Process memory by kind (rss, heap_used, heap_total, external, array_buffers).",
      labelNames: ["kind"],
      registers,
      collect() {
        const m = process.memoryUsage();
        this.set({ kind: "rss" }, m.rss);
        this.set({ kind: "heap_used" }, m.heapUsed);
        this.set({ kind: "heap_total" }, m.heapTotal);
        this.set({ kind: "external" }, m.external);
        this.set({ kind: "array_buffers" }, m.arrayBuffers);
      },
    });
    this.unsubscribe = models.onEvent((event: ModelEvent) => {
      modelEvents.inc({ model: event.model, event: event.type });
    });
  }

  /** `status`: the HTTP status (REST) or the gRPC code name ("OK", "NOT_FOUND", ...; gRPC APIs). */
  observeRequest(model: string, api: string, status: number | string, seconds: number): void {
    const labels = { model, api, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }

  observeIds(model: string, count: number): void {
    this.ids.inc({ model }, count);
  }

  observeBatch(model: string, requests: number, examples: number): void {
    this.batchRequests.observe({ model }, requests);
    this.batchExamples.observe({ model }, examples);
  }

  close(): void {
    this.unsubscribe();
  }
}
