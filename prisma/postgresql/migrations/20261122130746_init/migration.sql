-- CreateTable
CREATE TABLE "nodes" (
    "id" TEXT NOT NULL,
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
    "metrics" TEXT,
    "last_heartbeat_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "nodes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "jobs" (
    "id" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "deployment_id" TEXT NOT NULL,
    "service_name" TEXT NOT NULL,
    "replica_id" TEXT NOT NULL,
    "logs" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "exit_code" INTEGER NOT NULL,
    "result" TEXT,
    "attempts" INTEGER NOT NULL,
    "timeout_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "dispatched_at" TIMESTAMP(3),
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),
    "deadline" TIMESTAMP(3),

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deployments" (
    "id" TEXT NOT NULL,
    "project_name" TEXT NOT NULL,
    "template_id" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "revision" INTEGER NOT NULL,
    "rendered_compose" TEXT NOT NULL,
    "compose_hash" TEXT NOT NULL,
    "env" TEXT NOT NULL,
    "requirements" TEXT NOT NULL,
    "last_job_id" TEXT NOT NULL,
    "last_logs" TEXT NOT NULL,
    "last_error" TEXT NOT NULL,
    "removing" BOOLEAN NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "deployments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deployment_revisions" (
    "deployment_id" TEXT NOT NULL,
    "revision" INTEGER NOT NULL,
    "rendered_compose" TEXT NOT NULL,
    "compose_hash" TEXT NOT NULL,
    "env" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "rollback_of" INTEGER NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "deployment_revisions_pkey" PRIMARY KEY ("deployment_id","revision")
);

-- CreateTable
CREATE TABLE "services" (
    "name" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "spec" TEXT NOT NULL,
    "spec_hash" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "services_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "replicas" (
    "id" TEXT NOT NULL,
    "service_name" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "spec_hash" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "replicas_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "nodes_name_idx" ON "nodes"("name");

-- CreateIndex
CREATE INDEX "jobs_status_idx" ON "jobs"("status");

-- CreateIndex
CREATE INDEX "jobs_node_id_created_at_idx" ON "jobs"("node_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_deployment_id_created_at_idx" ON "jobs"("deployment_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_created_at_idx" ON "jobs"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "deployments_project_name_key" ON "deployments"("project_name");

-- CreateIndex
CREATE INDEX "replicas_service_name_idx" ON "replicas"("service_name");
