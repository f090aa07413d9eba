import { access, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensurePrivateDir } from "../state-file.js";
import type { JobReporter } from "./reporter.js";
import { runProcess } from "./run-process.js";

// Docker Compose's own rule for project names; anything else could be a path.
const PROJECT = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Runs docker-compose projects through the `docker compose` CLI. Compose files
 * live in a private directory per project; env values reach compose only
 * through the child's environment (for ${VAR} substitution), never argv.
 */
export class ComposeDriver {
  private readonly up = new Set<string>();

  constructor(
    private readonly projectsDir: string,
    private readonly docker = process.env.CAPSTAN_DOCKER ?? "docker",
  ) {}

  /** Projects this agent has brought up and not taken down. */
  running(): string[] {
    return [...this.up];
  }

  /** `docker compose -p P -f F up -d`. */
  async deploy(p: { projectName: string; composeFile: string; env: Record<string, string> }, r: JobReporter, signal: AbortSignal): Promise<void> {
    if (!this.checkName(p.projectName, r)) return;
    const file = await this.write(p.projectName, p.composeFile);
    const res = await this.compose(p.projectName, file, ["up", "-d", "--remove-orphans"], r, signal, p.env);
    if (res.exitCode === 0) this.up.add(p.projectName);
    r.finish({ ok: res.exitCode === 0, exitCode: res.exitCode, error: res.exitCode ? `docker compose up exited with ${res.exitCode}` : undefined });
  }

  /** `docker compose -p P -f F down`. */
  async stop(p: { projectName: string }, r: JobReporter, signal: AbortSignal): Promise<void> {
    if (!this.checkName(p.projectName, r)) return;
    const file = await this.existing(p.projectName);
    const res = await this.compose(p.projectName, file, ["down"], r, signal);
    if (res.exitCode === 0) this.up.delete(p.projectName);
    r.finish({ ok: res.exitCode === 0, exitCode: res.exitCode, error: res.exitCode ? `docker compose down exited with ${res.exitCode}` : undefined });
  }

  /** `docker compose -p P -f F ps --format json`, parsed into the job's result. */
  async status(p: { projectName: string }, r: JobReporter, signal: AbortSignal): Promise<void> {
    if (!this.checkName(p.projectName, r)) return;
    const file = await this.existing(p.projectName);
    const res = await this.compose(p.projectName, file, ["ps", "--format", "json"], r, signal);
    const containers = parseComposePs(res.stdout);
    r.finish({
      ok: res.exitCode === 0,
      exitCode: res.exitCode,
      error: res.exitCode ? `docker compose ps exited with ${res.exitCode}` : undefined,
      result: { project: p.projectName, containers, running: containers.filter((c) => String(c.State ?? "") === "running").length },
    });
  }

  private checkName(name: string, r: JobReporter): boolean {
    if (PROJECT.test(name)) return true;
    r.finish({ ok: false, exitCode: 2, error: `invalid project name "${name}": lowercase letters, digits, - and _ only` });
    return false;
  }

  private async write(project: string, content: string): Promise<string> {
    const dir = join(this.projectsDir, project);
    await ensurePrivateDir(dir);
    const file = join(dir, "compose.yaml");
    await writeFile(file, content, { mode: 0o600 });
    return file;
  }

  private async existing(project: string): Promise<string | undefined> {
    const file = join(this.projectsDir, project, "compose.yaml");
    return access(file).then(
      () => file,
      () => undefined,
    );
  }

  private compose(project: string, file: string | undefined, args: string[], r: JobReporter, signal: AbortSignal, env: Record<string, string> = {}) {
    const argv = ["compose", "-p", project, ...(file ? ["-f", file] : []), ...args];
    r.log("agent", `$ ${this.docker} ${argv.join(" ")}`);
    return runProcess({ command: this.docker, args: argv, env: { ...process.env, ...env }, signal }, r);
  }
}

/** Compose prints one JSON object per line (v2.21+) or one array (older). */
export function parseComposePs(stdout: string): Array<Record<string, unknown>> {
  const text = stdout.trim();
  if (text === "") return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? (parsed as Array<Record<string, unknown>>) : [parsed as Record<string, unknown>];
  } catch {
    return text.split("\n").flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
}
