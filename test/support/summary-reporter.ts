import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints the plain closing line CI reads, "N passed, N failed, N skipped",
 * counted from the real results; a file that fails to load counts as failed.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      let any = false;
      for (const t of m.children.allTests()) {
        any = true;
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
      if (!any && m.state() === "failed") failed++;
      else if (m.errors().length > 0 && m.state() === "failed") failed++;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
