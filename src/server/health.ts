import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/proto/health/v1/health_pb.js";
import { AsyncQueue } from "../shared/async-queue.js";
import type { StoreHealth } from "../state/store-health.js";

/**
 * Serving status per service name ("" is the whole server), for
 * grpc.health.v1. Watchers hear every change.
 */
export class HealthState {
  private readonly statuses = new Map<string, Status>([["", Status.SERVING]]);
  private readonly watchers = new Set<(service: string, status: Status) => void>();
  private down = false;

  /** Sets a service's status and tells watchers; after shutdown nothing serves again. */
  set(service: string, status: Status): void {
    if (this.down && status === Status.SERVING) return;
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const w of this.watchers) w(service, status);
  }

  /** Marks every known service not serving, e.g. at the start of shutdown. */
  shutdown(): void {
    for (const service of [...this.statuses.keys()]) this.set(service, Status.NOT_SERVING);
    this.down = true;
  }

  /** Whether shutdown has begun. */
  get shuttingDown(): boolean {
    return this.down;
  }

  /** Every service with a status. */
  all(): ReadonlyMap<string, Status> {
    return this.statuses;
  }

  /** A service's status; undefined for names never set. */
  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  watch(listener: (service: string, status: Status) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }
}

/**
 * Gives each of the writing services (those whose calls need the database to
 * take writes) a status that follows the store: NOT_SERVING while it fails,
 * SERVING again when a probe write succeeds. The whole server ("") keeps
 * SERVING: reads are still answered from memory.
 */
export function followStore(state: HealthState, store: StoreHealth, services: readonly string[]): () => void {
  const apply = (ok: boolean) => {
    for (const s of services) state.set(s, ok ? Status.SERVING : Status.NOT_SERVING);
  };
  apply(store.ok);
  return store.onChange((c) => apply(c.ok));
}

/** Registers grpc.health.v1.Health (Check, List and Watch) on a router. */
export function registerHealth(router: ConnectRouter, state: HealthState): void {
  router.service(Health, {
    check(req) {
      const status = state.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return { status };
    },
    list() {
      return { statuses: Object.fromEntries([...state.all()].map(([service, status]) => [service, { status }])) };
    },
    async *watch(req, ctx: HandlerContext) {
      // Per the protocol, an unknown service is SERVICE_UNKNOWN, not an error, and may appear later.
      const queue = new AsyncQueue<Status>();
      const off = state.watch((service, status) => service === req.service && queue.push(status));
      const end = () => queue.end();
      ctx.signal.addEventListener("abort", end);
      try {
        yield { status: state.get(req.service) ?? Status.SERVICE_UNKNOWN };
        for await (const status of queue) yield { status };
      } finally {
        off();
        ctx.signal.removeEventListener("abort", end);
      }
    },
  });
}
