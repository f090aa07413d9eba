-- AlterTable
ALTER TABLE "nodes" ADD COLUMN     "agent_kind" TEXT NOT NULL DEFAULT '';
