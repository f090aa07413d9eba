import { pino } from "pino";
import { JobEvents, type JobEvent } from "../../src/managers/job-events.js";
import { JobLifecycleManager } from "../../src/managers/job-lifecycle.js";
import { SessionJobDelivery } from "../../src/sessions/job-delivery.js";
import { SessionRegistry } from "../../src/sessions/session-registry.js";
import { JobState } from "../../src/state/job-state.js";
import type { ManualClock } from "../fakes/clock.js";
import type { MemoryJobStore } from "../fakes/memory-job-store.js";

/** The job lifecycle and session delivery wired as the app wires them, on a memory store and a manual clock. */
export interface JobParts {
  jobs: JobLifecycleManager;
  delivery: SessionJobDelivery;
  sessions: SessionRegistry;
  events: JobEvents;
  /** Every job event, in order. */
  seen: JobEvent[];
  stop(): void;
}

/** Starts the lifecycle (ack timeout 5 s, 3 attempts, 100-character logs) and its delivery. */
export async function startJobParts(store: MemoryJobStore, clock: ManualClock): Promise<JobParts> {
  const logger = pino({ level: "silent" });
  const sessions = new SessionRegistry();
  const events = new JobEvents();
  const seen: JobEvent[] = [];
  events.onAny((e) => seen.push(e));
  const delivery = new SessionJobDelivery(sessions, logger, { ackTimeoutMs: 5000, maxAttempts: 3, now: clock.date });
  const jobs = new JobLifecycleManager(store, new JobState(), delivery, events, logger, { maxLogChars: 100, now: clock.date });
  await jobs.start();
  delivery.start(jobs);
  return { jobs, delivery, sessions, events, seen, stop: () => (jobs.stop(), delivery.stop()) };
}
