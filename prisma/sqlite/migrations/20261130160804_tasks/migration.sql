-- CreateTable
CREATE TABLE "tasks" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "service_name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "exit_code" INTEGER NOT NULL,
    "error" TEXT NOT NULL,
    "scheduled_at" DATETIME,
    "spec_hash" TEXT NOT NULL,
    "created_at" DATETIME NOT NULL,
    "finished_at" DATETIME
);

-- CreateIndex
CREATE INDEX "tasks_service_name_kind_created_at_idx" ON "tasks"("service_name", "kind", "created_at");

-- CreateIndex
CREATE INDEX "tasks_status_idx" ON "tasks"("status");
