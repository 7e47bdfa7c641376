// Prints the plain closing line CI reads ("tests: N passed, N failed"), after vitest's own report.
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of modules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed++;
    }
    const engine = process.env.DATABASE_URL ? 'postgresql' : 'pglite';
    process.stdout.write(`\ntests (${engine}):\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
