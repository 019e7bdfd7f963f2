// @ts-check
import { fileURLToPath } from 'node:url';

// pnpm keeps the plugins out of @stryker-mutator/core's own node_modules, where Stryker looks by
// default: name them by path, resolved from here.
const plugin = (name) => fileURLToPath(import.meta.resolve(name));
/**
 * Mutation testing of packages/core/src: `pnpm mutation` (mutation/run.mjs, which picks the
 * incremental file and writes the scores), or one module with
 * `pnpm mutation -- --mutate packages/core/src/wire/encoder.ts`. The Redis backplane is mutated only
 * when named (`--mutate packages/redis/src/codec.ts`), against the Redis suites: see run.mjs.
 * How to read and re-run it: docs/mutation.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'pnpm',
  plugins: [plugin('@stryker-mutator/jest-runner'), plugin('@stryker-mutator/typescript-checker')],
  mutate: [
    'packages/core/src/**/*.ts',
    '!packages/core/src/**/*.test.ts',
    // Re-exports and types only: nothing to mutate.
    '!packages/core/src/index.ts',
    '!packages/core/src/adapter.ts',
    '!packages/core/src/adapter-node.ts',
    '!packages/core/src/sink.ts',
    '!packages/core/src/message.ts',
  ],
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    configFile: 'jest.mutation.config.ts',
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  checkers: ['typescript'],
  // Only the mutated files need "// @ts-nocheck" (ts-jest transpiles without type checks anyway):
  // in place, Stryker would otherwise add it to every file of the project for the run.
  disableTypeChecks: '{packages/core/src,packages/redis/src}/**/*.ts',
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  concurrency: 2,
  // Streaming tests wait on real sockets and timers: give a mutant that much over its baseline.
  timeoutMS: 5_000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: 'docs/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  // pnpm's per-package node_modules do not survive Stryker's sandbox copy: mutate the checkout in place
  // (Stryker puts every file back when the run ends or is interrupted).
  inPlace: true,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignoreStatic: false,
};
