import path from 'node:path';
import type { Config } from 'jest';
import base from './jest.config';

/**
 * The tests the mutation run (stryker.config.mjs, docs/mutation.md) kills core mutants with: the
 * core's own tests, and the behavioural suites of packages/testing that drive the core over real
 * HTTP, on one Node adapter and the Fetch one (web/) instead of every framework and major. Suites
 * that need browsers, Bun/Deno, nginx, HTTP/2 certificates or Redis are left to `pnpm test`.
 */
process.env.SSEHUB_TEST_ADAPTERS ??= 'express,fetch';

const unit = (base.projects as Exclude<Config['projects'], undefined>)[0] as Config;

const SUITES = [
  'behaviour',
  'access',
  'publish',
  'lifecycle',
  'names',
  'stats',
  'sockets',
  'compression',
  'health-routes',
  'wire.property',
  'last-event-id.property',
];

/**
 * `SSEHUB_MUTATION_TESTS=core` runs the core's own tests only: a lower bound on the scores (a mutant
 * only a suite over real servers would kill counts as survived) in a fraction of the time.
 */
const coreOnly = process.env.SSEHUB_MUTATION_TESTS === 'core';

const config: Config = {
  ...unit,
  displayName: 'mutation',
  rootDir: __dirname,
  // Absolute paths: Stryker loads the environment itself, without expanding <rootDir>.
  testEnvironment: path.join(__dirname, 'mutation/jest-environment.cjs'),
  testSequencer: path.join(__dirname, 'mutation/sequencer.cjs'),
  testMatch: [
    '<rootDir>/packages/core/src/**/*.test.ts',
    '<rootDir>/packages/core/test/**/*.test.ts',
    ...(coreOnly ? [] : SUITES.map((s) => `<rootDir>/packages/testing/test/${s}.test.ts`)),
  ],
};

export default config;
