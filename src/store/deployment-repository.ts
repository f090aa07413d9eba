import type { Deployment as Row, DeploymentRevision as RevisionRow } from "../../gen/prisma/sqlite/client.js";
import type { Deployment, DeploymentRevision, DeploymentStore } from "../model/deployment.js";
import { noRequirements } from "../model/placement.js";
import { allOrNothing, type DbClient } from "./db.js";
import { parseJson, toJson } from "./json.js";

function toRow(d: Deployment): Row {
  return { ...d, env: toJson(d.env), requirements: toJson(d.requirements) };
}

function fromRow(r: Row): Deployment {
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
  constructor(private readonly db: DbClient) {}

  async listAll(): Promise<Deployment[]> {
    return (await this.db.deployment.findMany({ orderBy: { createdAt: "asc" } })).map(fromRow);
  }

  async get(id: string): Promise<Deployment | undefined> {
    const row = await this.db.deployment.findUnique({ where: { id } });
    return row ? fromRow(row) : undefined;
  }

  /** An upsert written as update-else-insert; see PrismaJobStore.save for why. */
  async save(d: Deployment): Promise<void> {
    const { id, ...fields } = toRow(d);
    const { count } = await this.db.deployment.updateMany({ where: { id }, data: fields });
    if (count === 0) await this.db.deployment.create({ data: { id, ...fields } });
  }

  /** Removes the deployment and its revisions together. */
  async delete(id: string): Promise<void> {
    await allOrNothing(this.db, [
      this.db.deploymentRevision.deleteMany({ where: { deploymentId: id } }),
      this.db.deployment.deleteMany({ where: { id } }),
    ]);
  }

  async addRevision(r: DeploymentRevision): Promise<void> {
    await this.db.deploymentRevision.create({ data: { ...r, env: toJson(r.env) } });
  }

  async listRevisions(deploymentId: string): Promise<DeploymentRevision[]> {
    const rows = await this.db.deploymentRevision.findMany({ where: { deploymentId }, orderBy: { revision: "desc" } });
    return rows.map(revisionFromRow);
  }

  async setRevisionOutcome(deploymentId: string, revision: number, outcome: DeploymentRevision["outcome"], jobId: string): Promise<void> {
    await this.db.deploymentRevision.updateMany({ where: { deploymentId, revision }, data: { outcome, jobId } });
  }
}
