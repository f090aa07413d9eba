-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_nodes" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "labels" TEXT NOT NULL,
    "tags" TEXT NOT NULL,
    "capabilities" TEXT NOT NULL,
    "ports" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "eligibility" TEXT NOT NULL,
    "draining" BOOLEAN NOT NULL,
    "agent_version" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "anonymous" BOOLEAN NOT NULL DEFAULT false,
    "agent_kind" TEXT NOT NULL DEFAULT '',
    "metrics" TEXT,
    "last_heartbeat_at" DATETIME,
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL
);
INSERT INTO "new_nodes" ("address", "agent_version", "anonymous", "capabilities", "created_at", "draining", "eligibility", "id", "labels", "last_heartbeat_at", "metrics", "name", "ports", "status", "tags", "token_hash", "updated_at") SELECT "address", "agent_version", "anonymous", "capabilities", "created_at", "draining", "eligibility", "id", "labels", "last_heartbeat_at", "metrics", "name", "ports", "status", "tags", "token_hash", "updated_at" FROM "nodes";
DROP TABLE "nodes";
ALTER TABLE "new_nodes" RENAME TO "nodes";
CREATE INDEX "nodes_name_idx" ON "nodes"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
