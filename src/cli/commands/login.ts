import { resolve } from "node:path";
import type { Command } from "commander";
import { TokenService } from "../../../gen/proto/capstan/v1/token_service_pb.js";
import { clientsOver, createTransport } from "../client.js";
import { contextFilePath, resolveTarget, saveContext, type GlobalOptions } from "../context.js";
import { UsageError } from "../errors.js";
import { readStdin } from "../input.js";
import { action, type Io } from "../kit.js";
import { list } from "../output.js";

/** login: checks a server and token with WhoAmI, then saves them as the current context. */
export function registerLogin(program: Command, io: Io): void {
  program
    .command("login")
    .description("check --server and --token (or '--token -' to read it from stdin) and save them as the current context (file mode 0600)")
    .option("--name <context>", "the context's name (default: the server's host)")
    .action(
      action(io, async (ctx, opts: { name?: string }) => {
        const globals: GlobalOptions = { ...ctx.globals };
        if (globals.token === "-") globals.token = (await readStdin()).trim();
        const target = await resolveTarget({ ...globals, context: undefined }, io.env);
        const who = await clientsOver(createTransport(target)).of(TokenService).whoAmI({});
        if (target.token && who.kind === "anonymous") throw new UsageError("--token: the server did not accept the token");
        const name = opts.name ?? new URL(target.server).host;
        await saveContext(
          {
            name,
            server: target.server,
            token: target.token || undefined,
            protocol: target.protocol,
            // Paths are kept absolute: later commands may run from any directory.
            ...(target.ca ? { ca: resolve(target.ca) } : {}),
            ...(target.cert ? { cert: resolve(target.cert) } : {}),
            ...(target.key ? { key: resolve(target.key) } : {}),
          },
          contextFilePath(io.env),
        );
        ctx.showValue({ context: name, server: target.server, kind: who.kind, name: who.name, scopes: who.scopes, file: contextFilePath(io.env) }, () =>
          `logged in to ${target.server} as ${who.name || who.kind} (${list(who.scopes)}); context "${name}" saved in ${contextFilePath(io.env)}\n`,
        );
      }),
    );
}
