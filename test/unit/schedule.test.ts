import { describe, expect, it } from "vitest";
import { cronProblems } from "../../src/model/cron.js";
import { launchRetryAt } from "../../src/orchestrator/launch-backoff.js";
import { decideSchedule, nextScheduleTime, type ScheduleInput } from "../../src/orchestrator/schedule.js";

const at = (iso: string) => new Date(iso);
const base: ScheduleInput = {
  schedule: "*/5 * * * *",
  timeZone: "",
  allowOverlap: false,
  lastFireAt: undefined,
  since: at("2026-01-01T00:00:30Z"),
  now: at("2026-01-01T00:01:00Z"),
  running: 0,
};

describe("next schedule times", () => {
  it.each([
    ["every five minutes, UTC", "*/5 * * * *", "", "2026-01-01T00:02:00Z", "2026-01-01T00:05:00Z"],
    ["six fields: every second", "* * * * * *", "", "2026-01-01T00:00:00.500Z", "2026-01-01T00:00:01.000Z"],
    ["six fields: every 10 s", "*/10 * * * * *", "", "2026-01-01T00:00:01Z", "2026-01-01T00:00:10Z"],
    ["09:00 in Paris in winter is 08:00 UTC", "0 9 * * *", "Europe/Paris", "2026-01-15T00:00:00Z", "2026-01-15T08:00:00Z"],
    ["09:00 in Paris in summer is 07:00 UTC", "0 9 * * *", "Europe/Paris", "2026-07-15T00:00:00Z", "2026-07-15T07:00:00Z"],
    ["09:00 in New York", "0 9 * * *", "America/New_York", "2026-01-15T00:00:00Z", "2026-01-15T14:00:00Z"],
    ["Mondays at midnight UTC (2026-01-05 is a Monday)", "0 0 * * 1", "", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"],
    ["Tokyo midnight, day before in UTC", "0 0 * * *", "Asia/Tokyo", "2026-01-01T00:00:00Z", "2026-01-01T15:00:00Z"],
  ])("%s", (_name, schedule, tz, after, next) => {
    expect(nextScheduleTime(schedule, tz, at(after))?.toISOString()).toBe(at(next).toISOString());
  });
});

describe("the schedule decision", () => {
  it.each<[string, Partial<ScheduleInput>, { action: string; at?: string; missed?: number; next?: string }]>([
    ["waits before the first time after the apply", {}, { action: "wait", next: "2026-01-01T00:05:00Z" }],
    ["fires at the first time after the apply", { now: at("2026-01-01T00:05:00Z") }, { action: "fire", at: "2026-01-01T00:05:00Z", missed: 0, next: "2026-01-01T00:10:00Z" }],
    ["fires a due time a little late (ticks are not instants)", { now: at("2026-01-01T00:05:00.900Z") }, { action: "fire", at: "2026-01-01T00:05:00Z", missed: 0 }],
    ["does not fire a time twice", { lastFireAt: at("2026-01-01T00:05:00Z"), now: at("2026-01-01T00:09:59Z") }, { action: "wait", next: "2026-01-01T00:10:00Z" }],
    [
      "runs once, at the latest time, after a downtime that missed several",
      { lastFireAt: at("2026-01-01T00:05:00Z"), now: at("2026-01-01T01:02:00Z") },
      { action: "fire", at: "2026-01-01T01:00:00Z", missed: 10, next: "2026-01-01T01:05:00Z" },
    ],
    [
      "a missed per-second schedule runs once too",
      { schedule: "* * * * * *", since: at("2025-12-31T00:00:00Z"), lastFireAt: at("2026-01-01T00:00:00Z"), now: at("2026-01-01T00:10:00.300Z") },
      { action: "fire", at: "2026-01-01T00:10:00Z", missed: 599 },
    ],
    ["skips a due time while the previous run still runs", { now: at("2026-01-01T00:05:00Z"), running: 1 }, { action: "skip", at: "2026-01-01T00:05:00Z", next: "2026-01-01T00:10:00Z" }],
    ["runs it anyway when overlap is allowed", { now: at("2026-01-01T00:05:00Z"), running: 1, allowOverlap: true }, { action: "fire", at: "2026-01-01T00:05:00Z" }],
    [
      "reads the schedule in its time zone",
      { schedule: "0 9 * * *", timeZone: "Europe/Paris", since: at("2026-01-15T00:00:00Z"), now: at("2026-01-15T08:00:01Z") },
      { action: "fire", at: "2026-01-15T08:00:00Z" },
    ],
    [
      "not yet 09:00 in New York although it is 09:00 UTC",
      { schedule: "0 9 * * *", timeZone: "America/New_York", since: at("2026-01-15T00:00:00Z"), now: at("2026-01-15T09:00:00Z") },
      { action: "wait", next: "2026-01-15T14:00:00Z" },
    ],
    [
      "a re-applied schedule counts from the apply, not from an old fire",
      { lastFireAt: at("2025-12-01T00:00:00Z"), since: at("2026-01-01T00:00:30Z"), now: at("2026-01-01T00:04:00Z") },
      { action: "wait", next: "2026-01-01T00:05:00Z" },
    ],
  ])("%s", (_name, over, want) => {
    const d = decideSchedule({ ...base, ...over });
    expect(d.action).toBe(want.action);
    if (want.at) expect("at" in d && d.at.toISOString()).toBe(at(want.at).toISOString());
    if (want.missed !== undefined) expect("missed" in d && d.missed).toBe(want.missed);
    if (want.next) expect(d.next?.toISOString()).toBe(at(want.next).toISOString());
  });
});

describe("schedule validation", () => {
  it.each([
    ["*/5 * * * *", "", []],
    ["* * * * * *", "Europe/Paris", []],
    ["every minute", "", ["schedule"]],
    ["61 * * * *", "", ["schedule"]],
    ["* * * * *", "Mars/Olympus", ["scheduleTimeZone"]],
  ])("%s in %s", (schedule, tz, fields) => {
    expect(cronProblems(schedule, tz).map((p) => p.field)).toEqual(fields);
  });
});

describe("launch backoff", () => {
  const policy = { baseMs: 1_000, maxMs: 60_000 };
  const last = at("2026-01-01T00:00:00Z");
  it.each([
    [0, undefined],
    [1, "2026-01-01T00:00:01Z"],
    [2, "2026-01-01T00:00:02Z"],
    [4, "2026-01-01T00:00:08Z"],
    [7, "2026-01-01T00:01:00Z"],
    [100, "2026-01-01T00:01:00Z"],
  ])("after %i consecutive failures", (failures, retry) => {
    expect(launchRetryAt(failures, last, policy)?.toISOString()).toBe(retry && at(retry).toISOString());
  });
});
