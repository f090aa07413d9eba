import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuditService } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import type { AuditLog } from "../managers/audit-log.js";
import { InvalidArgumentError } from "../model/errors.js";
import { auditEventToProto } from "../rpc/token-convert.js";

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** AuditService's handlers: the trail, newest first, a page at a time (the page token is the last id seen). */
export function createAuditService(audit: AuditLog): ServiceImpl<typeof AuditService> {
  return {
    async listAuditEvents(req) {
      if (req.pageSize < 0 || req.pageSize > MAX_PAGE) throw new InvalidArgumentError("page_size", `must be between 0 and ${MAX_PAGE}`);
      const limit = req.pageSize || DEFAULT_PAGE;
      const events = await audit.list({
        actor: req.actor || undefined,
        rpc: req.rpc || undefined,
        since: req.since ? timestampDate(req.since) : undefined,
        beforeId: req.pageToken || undefined,
        limit: limit + 1,
      });
      const page = events.slice(0, limit);
      return { events: page.map(auditEventToProto), nextPageToken: events.length > limit ? page[page.length - 1].id : "" };
    },
  };
}
