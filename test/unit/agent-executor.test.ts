import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { JobStatus, CommandSchema, type Command } from "../../gen/proto/capstan/v1/job_pb.js";
import type { CommandUpdate } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { Executor } from "../../src/capstan-agent/executor.js";
import type { ComposeDriver } from "../../src/capstan-agent/drivers/compose-driver.js";
import type { ProcessDriver } from "../../src/capstan-agent/drivers/process-driver.js";
import type { JobReporter } from "../../src/capstan-agent/drivers/reporter.js";

/** A process driver whose replicas run until the test ends them: it counts launches and hands out their reporters. */
function fakeProcesses() {
  const launched: Array<{ replicaId: string; reporter: JobReporter }> = [];
  const driver = {
    running: () => launched.map((l) => l.replicaId),
    usage: async () => [],
    launch: (_service: unknown, replicaId: string, reporter: JobReporter) => {
      launched.push({ replicaId, reporter });
      return new Promise<void>(() => {});
    },
  };
  return { driver: driver as unknown as ProcessDriver, launched };
}

function launch(jobId: string, replicaId: string): Command {
  return create(CommandSchema, { jobId, payload: { case: "launchReplica", value: { replicaId, service: { name: "web", command: "sleep 60" } } } });
}

function executor() {
  const sent: CommandUpdate[] = [];
  const processes = fakeProcesses();
  const ex = new Executor({} as ComposeDriver, processes.driver, (u) => sent.push(u), () => ({}));
  return { ex, sent, launched: processes.launched };
}

const summary = (u: CommandUpdate) => ({ jobId: u.jobId, status: u.status, result: u.result, lines: u.lines.length });

describe("the agent's executor under at-least-once delivery", () => {
  it("answers a launch delivered again while its replica runs with the latest progress, and launches it once", () => {
    const { ex, sent, launched } = executor();
    ex.handle(launch("j1", "web-1"));
    launched[0].reporter.log("stdout", "booting");
    launched[0].reporter.progress({ phase: "started" });
    const before = sent.length;
    // The server heard nothing (the stream that carried the reports broke) and sends the command again.
    ex.handle(launch("j1", "web-1"));
    expect(launched).toHaveLength(1);
    expect(sent.slice(before).map(summary)).toEqual([{ jobId: "j1", status: JobStatus.IN_PROGRESS, result: { phase: "started" }, lines: 0 }]);
  });

  it("answers a launch delivered again before any progress with its first report", () => {
    const { ex, sent, launched } = executor();
    ex.handle(launch("j2", "web-2"));
    ex.handle(launch("j2", "web-2"));
    expect(launched).toHaveLength(1);
    expect(sent.map(summary)).toEqual([
      { jobId: "j2", status: JobStatus.IN_PROGRESS, result: undefined, lines: 0 },
      { jobId: "j2", status: JobStatus.IN_PROGRESS, result: undefined, lines: 0 },
    ]);
  });

  it("answers a command delivered again after its job finished with the final report, and runs it no more", () => {
    const { ex, sent, launched } = executor();
    ex.handle(launch("j3", "web-3"));
    launched[0].reporter.finish({ ok: false, exitCode: 3, error: "exited" });
    const final = sent.at(-1)!;
    ex.handle(launch("j3", "web-3"));
    expect(launched).toHaveLength(1);
    expect(summary(sent.at(-1)!)).toEqual({ ...summary(final), lines: 0 });
    expect(sent.at(-1)!.status).toBe(JobStatus.FAILED);
  });
});
