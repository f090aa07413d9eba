import { create } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { AuditEventSchema, type AuditEvent as PbAuditEvent } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import { TokenSchema, TokenScope, type Token as PbToken } from "../../gen/proto/capstan/v1/token_service_pb.js";
import type { AuditEvent } from "../model/audit.js";
import { InvalidArgumentError } from "../model/errors.js";
import type { Principal, Scope } from "../model/principal.js";
import type { ApiToken } from "../model/token-store.js";
import { ts } from "./node-convert.js";

const scopeToPb: Record<Scope, TokenScope> = { read: TokenScope.READ, write: TokenScope.WRITE, admin: TokenScope.ADMIN };

/** Proto scope to domain; UNSPECIFIED is undefined (the domain says it is required). */
export function scopeFromProto(s: TokenScope): Scope | undefined {
  if (s === TokenScope.UNSPECIFIED) return undefined;
  const found = (Object.keys(scopeToPb) as Scope[]).find((k) => scopeToPb[k] === s);
  if (!found) throw new InvalidArgumentError("scope", `unknown scope ${String(s)}`);
  return found;
}

/** Proto Duration to milliseconds (0 when unset); negative durations are the domain's to refuse. */
export function ttlFromProto(d: Parameters<typeof durationMs>[0] | undefined): number {
  return d ? durationMs(d) : 0;
}

/** A token for reads: never its secret or hash. */
export function tokenToProto(t: ApiToken): PbToken {
  return create(TokenSchema, {
    id: t.id,
    name: t.name,
    scope: scopeToPb[t.scope],
    createTime: ts(t.createdAt),
    expireTime: ts(t.expiresAt),
    revokeTime: ts(t.revokedAt),
    createdBy: t.createdBy,
  });
}

/** The WhoAmI answer for a principal. */
export function principalToProto(p: Principal): { kind: string; name: string; scopes: string[]; tokenId: string; nodeId: string } {
  switch (p.kind) {
    case "operator":
      return { kind: p.kind, name: p.name, scopes: [p.scope], tokenId: p.tokenId, nodeId: "" };
    case "node":
      return { kind: p.kind, name: p.nodeId, scopes: [], tokenId: "", nodeId: p.nodeId };
    case "anonymous":
      return { kind: p.kind, name: p.peer, scopes: [...p.scopes], tokenId: "", nodeId: "" };
    case "join":
      return { kind: p.kind, name: "join", scopes: [], tokenId: "", nodeId: "" };
    default:
      return { kind: p.kind, name: p.peer, scopes: p.kind === "dev" ? ["admin"] : [], tokenId: "", nodeId: "" };
  }
}

/** An audit event to proto. */
export function auditEventToProto(e: AuditEvent): PbAuditEvent {
  return create(AuditEventSchema, { ...e, time: ts(e.time) });
}
