import { Command, CommanderError, Option } from "commander";
import { registerChunks } from "./commands/chunks.js";
import { registerDeployments } from "./commands/deployments.js";
import { registerEvents } from "./commands/events.js";
import { registerJobs } from "./commands/jobs.js";
import { registerLogin } from "./commands/login.js";
import { registerNodes } from "./commands/nodes.js";
import { registerReplicas } from "./commands/replicas.js";
import { registerServices } from "./commands/services.js";
import { registerTasks } from "./commands/tasks.js";
import { registerTokens } from "./commands/tokens.js";
import { completionScript } from "./completion.js";
import { describeFailure } from "./errors.js";
import type { Io } from "./kit.js";
import { version } from "../shared/version.js";


/** The whole command tree, writing to io. */
export function buildProgram(io: Io): Command {
  const program = new Command("capstan")
    .description("Operate a Capstan control plane: nodes, deployments, services, jobs, chunks, tokens.")
    .version(version, "--version")
    .addOption(new Option("-s, --server <url>", "the control plane, e.g. http://cp.example:8080").env("CAPSTAN_SERVER"))
    .addOption(new Option("-t, --token <token>", "API token (Authorization: Bearer)").env("CAPSTAN_TOKEN"))
    .option("--context <name>", "a context saved by capstan login (default: the current one)")
    .addOption(new Option("--protocol <protocol>", "grpc (HTTP/2) or connect (HTTP/1.1)").choices(["grpc", "connect"]))
    .option("--ca <file>", "PEM CA bundle to trust for an https:// server")
    .option("--cert <file>", "PEM client certificate, for servers with TLS_CLIENT_CA")
    .option("--key <file>", "its PEM private key")
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table"))
    .showHelpAfterError("(capstan --help lists the commands and options)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  registerLogin(program, io);
  registerNodes(program, io);
  registerDeployments(program, io);
  registerServices(program, io);
  registerJobs(program, io);
  registerTasks(program, io);
  registerChunks(program, io);
  registerTokens(program, io);
  registerEvents(program, io);
  registerReplicas(program, io);
  program
    .command("completion")
    .description("print a shell completion script: source <(capstan completion bash)")
    .argument("<shell>", "bash or zsh")
    .action((shell: string) => io.out(completionScript(program, shell)));
  // Every subcommand exits through the same path (no process.exit inside commander).
  const configure = (cmd: Command) => {
    for (const c of cmd.commands) {
      c.exitOverride()
        .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
        .showHelpAfterError(`(capstan ${path(c)} --help shows its usage)`);
      configure(c);
    }
  };
  configure(program);
  return program;
}

function path(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Runs the CLI on argv (without node and the script) and returns the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 1 ? 2 : err.exitCode; // usage errors: 2, --help: 0
    const { lines, exitCode } = describeFailure(err);
    io.err(lines.join("\n") + "\n");
    return exitCode;
  }
}

function processIo(): Io {
  return { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s), env: process.env };
}
