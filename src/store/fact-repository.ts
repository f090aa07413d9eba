import type { Fact, FactStore } from "../model/change-facts.js";
import type { WriteScope } from "./change-log.js";

/**
 * FactStore on Prisma: each fact is one change row carrying it as JSON, in
 * the transaction the store is bound to (a leader's fenced decision commits
 * its facts with its writes), or in one of its own for a batch.
 */
export class PrismaFactStore implements FactStore {
  constructor(private readonly scope: WriteScope) {}

  async append(facts: readonly Fact[]): Promise<void> {
    if (facts.length === 0) return;
    await this.scope.write(async (_db, note) => {
      for (const f of facts) note(f.entity, f.key, "put", JSON.stringify(f.fact));
    });
  }
}
