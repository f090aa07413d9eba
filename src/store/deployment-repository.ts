import type { Deployment as Row, DeploymentRevision as RevisionRow } from "../../gen/prisma/sqlite/client.js";
import type { Deployment, DeploymentRevision, DeploymentStore } from "../model/deployment.js";
import { noRequirements } from "../model/placement.js";
import type { WriteScope } from "./change-log.js";
import { parseJson, toJson } from "./json.js";

function toRow(d: Deployment): Row {
  return { ...d, env: toJson(d.env), requirements: toJson(d.requirements) };
}

/** A stored row as a Deployment. */
export function deploymentFromRow(r: Row): Deployment {
  return {
    ...r,
    status: r.status as Deployment["status"],
    env: parseJson(r.env, {}),
    requirements: { ...noRequirements(), ...parseJson(r.requirements, {}) },
  };
}

function revisionFromRow(r: RevisionRow): DeploymentRevision {
  return { ...r, env: parseJson(r.env, {}), action: r.action as DeploymentRevision["action"], outcome: r.outcome as DeploymentRevision["outcome"] };
}

/** DeploymentStore on Prisma. */
export class PrismaDeploymentStore implements DeploymentStore {
  constructor(private readonly scope: WriteScope) {}

  private get db() {
    return this.scope.db;
  }

  async listAll(): Promise<Deployment[]> {
    return (await this.db.deployment.findMany({ orderBy: { createdAt: "asc" } })).map(deploymentFromRow);
  }

  async get(id: string): Promise<Deployment | undefined> {
    const row = await this.db.deployment.findUnique({ where: { id } });
    return row ? deploymentFromRow(row) : undefined;
  }

  /** An upsert written as update-else-insert; see PrismaJobStore.save for why. */
  async save(d: Deployment): Promise<void> {
    const { id, ...fields } = toRow(d);
    await this.scope.write(async (db, note) => {
      const { count } = await db.deployment.updateMany({ where: { id }, data: fields });
      if (count === 0) await db.deployment.create({ data: { id, ...fields } });
      note("deployment", id, "put");
    });
  }

  /** Removes the deployment and its revisions together. */
  async delete(id: string): Promise<void> {
    await this.scope.write(async (db, note) => {
      await db.deploymentRevision.deleteMany({ where: { deploymentId: id } });
      await db.deployment.deleteMany({ where: { id } });
      note("deployment", id, "delete");
    });
  }

  async addRevision(r: DeploymentRevision): Promise<void> {
    await this.scope.write((db) => db.deploymentRevision.create({ data: { ...r, env: toJson(r.env) } }));
  }

  async listRevisions(deploymentId: string): Promise<DeploymentRevision[]> {
    const rows = await this.db.deploymentRevision.findMany({ where: { deploymentId }, orderBy: { revision: "desc" } });
    return rows.map(revisionFromRow);
  }

  async setRevisionOutcome(deploymentId: string, revision: number, outcome: DeploymentRevision["outcome"], jobId: string): Promise<void> {
    await this.scope.write((db) => db.deploymentRevision.updateMany({ where: { deploymentId, revision }, data: { outcome, jobId } }));
  }
}
