import type { ServiceImpl } from "@connectrpc/connect";
import type { TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { listOrder, paginate } from "../model/pagination.js";
import { describePrincipal } from "../model/principal.js";
import type { ApiToken } from "../model/token-store.js";
import type { TokenManager } from "../managers/token-manager.js";
import { principalKey } from "../rpc/context.js";
import { principalToProto, scopeFromProto, tokenToProto, ttlFromProto } from "../rpc/token-convert.js";

const TOKEN_ORDER = listOrder<ApiToken>({ name: "tokens.id", parts: ["string"], key: (t) => [t.id] });

/** TokenService's handlers: decode, call the token manager, encode. */
export function createTokenService(tokens: TokenManager): ServiceImpl<typeof TokenService> {
  return {
    async createToken(req, ctx) {
      const { token, secret } = await tokens.create(
        { name: req.name, scope: scopeFromProto(req.scope), ttlMs: ttlFromProto(req.ttl) },
        describePrincipal(ctx.values.get(principalKey)),
      );
      return { token: tokenToProto(token), secret };
    },
    listTokens(req) {
      const page = paginate(tokens.list(req.includeInactive), TOKEN_ORDER, req);
      return { tokens: page.items.map(tokenToProto), nextPageToken: page.nextPageToken };
    },
    async revokeToken(req) {
      return { token: tokenToProto(await tokens.revoke(req.tokenId)) };
    },
    whoAmI(_req, ctx) {
      return principalToProto(ctx.values.get(principalKey));
    },
  };
}
