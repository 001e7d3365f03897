import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Suite-wide secret scan of apps and child gateways a test file left open.
    setupFiles: ['test/helpers/secret-scan.setup.ts'],
    // A JSON report beside the console one, so .ci/run can print its closing count.
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
