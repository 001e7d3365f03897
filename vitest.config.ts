import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // A JSON report beside the console one, so .ci/run can print its closing count.
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
