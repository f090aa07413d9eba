import { hostname } from "node:os";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { Job } from "../model/job.js";
import type { StoreObserver } from "../model/store-observer.js";
import type { ReconcilePass } from "../managers/service-reconciler.js";
import type { CallObserver } from "../rpc/call-observer.js";
import { callMetrics, jobMetrics, reconcileMetrics, storeMetrics } from "./activity-metrics.js";
import { clusterGauges, type ClusterSources } from "./cluster-gauges.js";

/** What the metrics need to know about this process. */
export interface MetricsOptions {
  /** The `replica` label every series carries. */
  replica: string;
  /**
   * Whether this process reports the cluster-wide gauges (see
   * cluster-gauges.ts): with several replicas, only one may; in one process,
   * always true.
   */
  reportsClusterGauges: () => boolean;
}

/**
 * One app's Prometheus metrics: its own registry (never prom-client's global
 * one, so two apps in one process share nothing), the observers the
 * composition root hands to the parts that record (call pipeline, store,
 * reconciler, job feed), and the in-memory sources its gauges read at scrape
 * time. Process metrics and event loop lag come from prom-client's default
 * collectors, registered on this registry.
 */
export interface AppMetrics {
  readonly registry: Registry;
  readonly calls: CallObserver;
  readonly store: StoreObserver;
  readonly reconcilePass: (pass: ReconcilePass) => void;
  readonly jobChanged: (job: Job) => void;
  /** Registers the gauges read from memory at scrape time; once, when the parts they read exist. */
  /**
   * Starts reporting the cluster-wide gauges from these sources; `reports`,
   * when given (the leadership, once wired), replaces the predicate the
   * metrics were made with.
   */
  watch(sources: ClusterSources, reports?: () => boolean): void;
}

/** Creates an app's registry and its recording series. */
export function createAppMetrics(options: MetricsOptions): AppMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ replica: options.replica });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    calls: callMetrics(registry),
    store: storeMetrics(registry),
    reconcilePass: reconcileMetrics(registry),
    jobChanged: jobMetrics(registry),
    watch: (sources, reports) => clusterGauges(registry, sources, reports ?? options.reportsClusterGauges),
  };
}

/** The replica label: REPLICA_ID when set, else the machine's hostname, else "single". */
export function replicaName(replicaId: string | undefined): string {
  return replicaId ?? (hostname() || "single");
}
