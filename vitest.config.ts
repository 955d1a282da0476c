import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure logic on recorded traces and runs anywhere;
// `integration` needs root, tracefs and the real runtimes/engines (CI is such a lab).
export default defineConfig({
  test: {
    // The JSON report feeds scripts/test-summary.mjs, which prints the plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.test-results/vitest.json' },
    projects: [
      { test: { name: 'unit', include: ['test/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'integration',
          include: ['integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Engines and tracefs are machine-global: run files one at a time, in one process.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
