import { defineConfig } from 'vitest/config';
import tsconfigPaths from 'vite-tsconfig-paths';

export default defineConfig({
  plugins: [tsconfigPaths()],
  test: {
    globals: true,
    root: './',
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the latency assertions of the fault suites noisier.
    maxWorkers: 2,
    // A test that needs a server must fail when the server is missing, never be skipped.
    allowOnly: false,
    passWithNoTests: false,
  },
});
