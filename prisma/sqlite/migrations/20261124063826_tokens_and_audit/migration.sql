-- CreateTable
CREATE TABLE "api_tokens" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" DATETIME NOT NULL,
    "expires_at" DATETIME,
    "revoked_at" DATETIME
);

-- CreateTable
CREATE TABLE "audit_events" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "time" DATETIME NOT NULL,
    "actor" TEXT NOT NULL,
    "actor_kind" TEXT NOT NULL,
    "rpc" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "peer" TEXT NOT NULL
);

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
    "metrics" TEXT,
    "last_heartbeat_at" DATETIME,
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL
);
INSERT INTO "new_nodes" ("address", "agent_version", "capabilities", "created_at", "draining", "eligibility", "id", "labels", "last_heartbeat_at", "metrics", "name", "ports", "status", "tags", "token_hash", "updated_at") SELECT "address", "agent_version", "capabilities", "created_at", "draining", "eligibility", "id", "labels", "last_heartbeat_at", "metrics", "name", "ports", "status", "tags", "token_hash", "updated_at" FROM "nodes";
DROP TABLE "nodes";
ALTER TABLE "new_nodes" RENAME TO "nodes";
CREATE INDEX "nodes_name_idx" ON "nodes"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "audit_events_time_idx" ON "audit_events"("time");

-- CreateIndex
CREATE INDEX "audit_events_actor_time_idx" ON "audit_events"("actor", "time");
