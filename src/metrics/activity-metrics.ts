import { Counter, Histogram, type Registry } from "prom-client";
import type { Code } from "@connectrpc/connect";
import { TERMINAL, type Job } from "../model/job.js";
import type { StoreObserver } from "../model/store-observer.js";
import type { ReconcilePass } from "../managers/service-reconciler.js";
import { codeName } from "../rpc/call-guard.js";
import type { CallObserver } from "../rpc/call-observer.js";

// Distinct (method, code) pairs kept as label sets. Methods are the served ones (Connect routes
// only those; the fast paths and /ws name fixed ones), so this is a guard, not a limit in practice.
const MAX_CALL_SERIES = 2_000;

/**
 * Calls by method and code, and their latency: the observer the call
 * pipeline tells of every call's end, whichever path it came by. Streams
 * count when they end, with their whole life as their duration.
 */
export function callMetrics(registry: Registry): CallObserver {
  const calls = new Counter({ name: "capstan_calls_total", help: "Calls handled, by method and status code (streams when they end).", labelNames: ["method", "code"], registers: [registry] });
  const seconds = new Histogram({
    name: "capstan_call_duration_seconds",
    help: "Time from a call's start to its answer (streams: to their end), by method and status code.",
    labelNames: ["method", "code"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  // The bound children per (method, code): one map lookup per call instead of building label objects.
  const series = new Map<string, { inc: () => void; observe: (v: number) => void }>();
  return (rpc: string, code: Code | 0, startedAt: number) => {
    const key = `${rpc} ${code}`;
    let s = series.get(key);
    if (!s) {
      const method = series.size < MAX_CALL_SERIES ? rpc : "other";
      const labels = { method, code: code === 0 ? "ok" : codeName(code) };
      const counter = calls.labels(labels);
      const histogram = seconds.labels(labels);
      s = { inc: () => counter.inc(), observe: (v) => histogram.observe(v) };
      if (method !== "other") series.set(key, s);
    }
    s.inc();
    s.observe((performance.now() - startedAt) / 1000);
  };
}

/** Store write latency and failures, by repository method ("nodes.save", "transaction"). */
export function storeMetrics(registry: Registry): StoreObserver {
  const seconds = new Histogram({
    name: "capstan_store_write_seconds",
    help: "Store writes' latency, by operation (repository.method, or transaction), failures included.",
    labelNames: ["op"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const failures = new Counter({
    name: "capstan_store_write_failures_total",
    help: "Store writes that failed, by operation and kind: unavailable (the database's state: down, full, locked) or error (any other).",
    labelNames: ["op", "kind"],
    registers: [registry],
  });
  return (op, startedAt, failure) => {
    seconds.observe({ op }, (performance.now() - startedAt) / 1000);
    if (failure) failures.inc({ op, kind: failure });
  };
}

/** Reconcile pass duration, by outcome; the replicas it could not place are a cluster gauge (cluster-gauges.ts). */
export function reconcileMetrics(registry: Registry): (pass: ReconcilePass) => void {
  const seconds = new Histogram({
    name: "capstan_reconcile_pass_seconds",
    help: "Service reconcile passes' duration, by outcome (ok or failed).",
    labelNames: ["outcome"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return (pass) => seconds.observe({ outcome: pass.failed ? "failed" : "ok" }, pass.seconds);
}

/**
 * Job duration (started, or dispatched, to finished) and queue time (created
 * to first dispatch) by type, and finished jobs by type and final status,
 * from the job change feed. Queue time is observed once per job, at its first
 * dispatch seen by this process (jobs dispatched before it started are not).
 */
export function jobMetrics(registry: Registry, since = Date.now()): (job: Job) => void {
  const finished = new Counter({ name: "capstan_jobs_finished_total", help: "Jobs that reached a final status, by type and status.", labelNames: ["type", "status"], registers: [registry] });
  const duration = new Histogram({
    name: "capstan_job_duration_seconds",
    help: "Jobs' run time, from start (or dispatch) to their final status, by type and status.",
    labelNames: ["type", "status"],
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600],
    registers: [registry],
  });
  const queued = new Histogram({
    name: "capstan_job_queue_seconds",
    help: "Jobs' time from creation to their first dispatch to an agent, by type.",
    labelNames: ["type"],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [registry],
  });
  // Unfinished jobs whose queue time was observed; they leave when they finish.
  const dispatched = new Set<string>();
  return (job) => {
    const first = job.dispatchedAt !== undefined && job.attempts === 1 && job.dispatchedAt.getTime() >= since;
    if (first && !dispatched.has(job.id)) queued.observe({ type: job.type }, Math.max(0, job.dispatchedAt!.getTime() - job.createdAt.getTime()) / 1000);
    if (!TERMINAL.has(job.status)) {
      if (first) dispatched.add(job.id);
      return;
    }
    dispatched.delete(job.id);
    finished.inc({ type: job.type, status: job.status });
    const start = job.startedAt ?? job.dispatchedAt;
    if (start) duration.observe({ type: job.type, status: job.status }, Math.max(0, (job.finishedAt ?? job.updatedAt).getTime() - start.getTime()) / 1000);
  };
}
