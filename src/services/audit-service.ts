import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuditService } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import type { AuditLog } from "../managers/audit-log.js";
import type { AuditEvent } from "../model/audit.js";
import { listOrder, pageOfRows, pageRequest } from "../model/pagination.js";
import { auditEventToProto } from "../rpc/token-convert.js";

// Event ids are time-ordered, so newest first is by id, descending.
const AUDIT_ORDER = listOrder<AuditEvent>({ name: "audit.newest", parts: ["string"], key: (e) => [e.id], descending: true });

/** AuditService's handlers: the trail, newest first, a page at a time. */
export function createAuditService(audit: AuditLog): ServiceImpl<typeof AuditService> {
  return {
    async listAuditEvents(req) {
      const paging = pageRequest(AUDIT_ORDER, req);
      const events = await audit.list({
        actor: req.actor || undefined,
        rpc: req.rpc || undefined,
        since: req.since ? timestampDate(req.since) : undefined,
        beforeId: paging.after?.[0] as string | undefined,
        limit: paging.size + 1,
      });
      const page = pageOfRows(events, AUDIT_ORDER, paging);
      return { events: page.items.map(auditEventToProto), nextPageToken: page.nextPageToken };
    },
  };
}
