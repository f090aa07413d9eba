import type { Command } from "commander";
import { ListAuditEventsResponseSchema, AuditService } from "../../../gen/proto/capstan/v1/audit_service_pb.js";
import {
  CreateTokenResponseSchema,
  ListTokensResponseSchema,
  RevokeTokenResponseSchema,
  TokenScope,
  TokenService,
  WhoAmIResponseSchema,
  type Token,
} from "../../../gen/proto/capstan/v1/token_service_pb.js";
import { UsageError } from "../errors.js";
import { action, allPages, positiveInt, type Io } from "../kit.js";
import { age, details, enumName, list, parseEnum, table, time } from "../output.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Parses a duration such as 90s, 30m, 12h or 7d into seconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new UsageError(`${flag}: "${text}" is not a duration such as 90s, 30m, 12h or 7d`);
  return Number(m[1]) * UNITS[m[2]];
}

function tokenState(t: Token): string {
  if (t.revokeTime) return "revoked";
  if (t.expireTime && Number(t.expireTime.seconds) * 1000 < Date.now()) return "expired";
  return "active";
}

/** token create|ls|revoke, whoami, audit. */
export function registerTokens(program: Command, io: Io): void {
  const token = program.command("token").description("API tokens (admin)");
  token
    .command("create")
    .description("create a token; its secret is shown once")
    .argument("<name>", "what the token is for")
    .option("--scope <scope>", "read, write or admin", "read")
    .option("--ttl <duration>", "lifetime, e.g. 30m, 12h, 30d (default: the server's)")
    .action(
      action(io, async (ctx, name: string, opts: { scope: string; ttl?: string }) => {
        const scope = parseEnum("--scope", TokenScope, "TOKEN_SCOPE_", opts.scope);
        const ttl = opts.ttl ? { seconds: BigInt(parseDuration("--ttl", opts.ttl)), nanos: 0 } : undefined;
        const res = await (await ctx.clients()).of(TokenService).createToken({ name, scope, ttl });
        ctx.show(CreateTokenResponseSchema, res, () =>
          details([
            ["id", res.token?.id ?? "-"],
            ["name", res.token?.name ?? "-"],
            ["scope", enumName(TokenScope, res.token?.scope ?? 0, "TOKEN_SCOPE_")],
            ["expires", time(res.token?.expireTime)],
            ["secret", res.secret],
          ]) + "The secret is shown only now: keep it.\n",
        );
      }),
    );
  token
    .command("ls")
    .description("list tokens (secrets are never shown again)")
    .option("-a, --all", "include revoked and expired tokens")
    .action(
      action(io, async (ctx, opts: { all?: boolean }) => {
        const client = (await ctx.clients()).of(TokenService);
        const res = await allPages(
          (pageToken) => client.listTokens({ includeInactive: opts.all ?? false, pageSize: 1000, pageToken }),
          (r) => r.tokens,
          (r, all) => (r.tokens = all),
        );
        ctx.show(ListTokensResponseSchema, res, () =>
          table(res.tokens, [
            { header: "ID", value: (t) => t.id },
            { header: "NAME", value: (t) => t.name },
            { header: "SCOPE", value: (t) => enumName(TokenScope, t.scope, "TOKEN_SCOPE_") },
            { header: "STATE", value: tokenState },
            { header: "AGE", value: (t) => age(t.createTime) },
            { header: "EXPIRES", value: (t) => time(t.expireTime) },
            { header: "CREATED BY", value: (t) => t.createdBy || "-" },
          ]),
        );
      }),
    );
  token
    .command("revoke")
    .description("revoke a token: calls with it fail from now on")
    .argument("<id>", "token id")
    .action(
      action(io, async (ctx, tokenId: string) => {
        const res = await (await ctx.clients()).of(TokenService).revokeToken({ tokenId });
        ctx.show(RevokeTokenResponseSchema, res, () => `token ${res.token?.id ?? tokenId} revoked\n`);
      }),
    );

  program
    .command("whoami")
    .description("who the server takes you for, and what you may do")
    .action(
      action(io, async (ctx) => {
        const res = await (await ctx.clients()).of(TokenService).whoAmI({});
        ctx.show(WhoAmIResponseSchema, res, () =>
          details([
            ["kind", res.kind],
            ["name", res.name || "-"],
            ["scopes", list(res.scopes)],
            ["token", res.tokenId || "-"],
            ...(res.nodeId ? ([["node", res.nodeId]] as const) : []),
          ]),
        );
      }),
    );

  program
    .command("audit")
    .description("the audit log of changes, newest first (admin)")
    .option("--actor <name>", "only this actor's calls")
    .option("--rpc <method>", "only this method, e.g. capstan.v1.NodeService/DeleteNode")
    .option("--since <duration>", "only the last 30m, 12h, 7d...")
    .option("--limit <n>", "how many", "50")
    .action(
      action(io, async (ctx, opts: { actor?: string; rpc?: string; since?: string; limit: string }) => {
        const since = opts.since ? Math.floor(Date.now() / 1000) - parseDuration("--since", opts.since) : undefined;
        const res = await (await ctx.clients()).of(AuditService).listAuditEvents({
          actor: opts.actor ?? "",
          rpc: opts.rpc ?? "",
          since: since === undefined ? undefined : { seconds: BigInt(since), nanos: 0 },
          pageSize: positiveInt("--limit", opts.limit),
        });
        ctx.show(ListAuditEventsResponseSchema, res, () =>
          table(res.events, [
            { header: "TIME", value: (e) => time(e.time) },
            { header: "ACTOR", value: (e) => `${e.actor} (${e.actorKind})` },
            { header: "RPC", value: (e) => e.rpc },
            { header: "TARGET", value: (e) => e.target || "-" },
            { header: "OUTCOME", value: (e) => e.outcome },
            { header: "PEER", value: (e) => e.peer || "-" },
            { header: "MESSAGE", value: (e) => e.message },
          ]),
        );
      }),
    );
}
