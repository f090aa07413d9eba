import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/proto/health/v1/health_pb.js";
import { AsyncQueue } from "../shared/async-queue.js";

/**
 * Serving status per service name ("" is the whole server), for
 * grpc.health.v1. Watchers hear every change.
 */
export class HealthState {
  private readonly statuses = new Map<string, Status>([["", Status.SERVING]]);
  private readonly watchers = new Set<(service: string, status: Status) => void>();

  /** Sets a service's status and tells watchers. */
  set(service: string, status: Status): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const w of this.watchers) w(service, status);
  }

  /** Marks every known service not serving, e.g. at the start of shutdown. */
  shutdown(): void {
    for (const service of [...this.statuses.keys()]) this.set(service, Status.NOT_SERVING);
  }

  /** A service's status; undefined for names never set. */
  /** Every service with a status. */
  all(): ReadonlyMap<string, Status> {
    return this.statuses;
  }

  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  watch(listener: (service: string, status: Status) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }
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
