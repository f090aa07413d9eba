import type { Reporter, SerializedError, TestModule, TestRunEndReason } from "vitest/node";

/**
 * Prints the plain closing line CI reads, "N passed, N failed, N skipped",
 * counted from the real results. Besides failed tests, "failed" counts each
 * file that failed outside its tests (it did not load, or a hook threw) and
 * each unhandled error, and a run that failed for any other reason counts
 * at least one, so the line never reads "0 failed" on a failing run.
 * Skipped counts skipped and todo tests. Configured after 'default' in
 * vitest.config.ts, so it is the last line of every run.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    reason: TestRunEndReason,
  ): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const m of modules) {
      let tests = 0;
      for (const t of m.children.allTests()) {
        tests++;
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
      if (m.errors().length > 0 || (tests === 0 && m.state() === "failed")) failed++;
    }
    // A run that failed with nothing above to show for it (no test file found,
    // a bad config, an interrupt) still reads as failed.
    if (reason !== "passed" && failed === 0) failed = 1;
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
