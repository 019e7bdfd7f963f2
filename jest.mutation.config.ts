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
 * `SSEHUB_MUTATION_TESTS=redis` runs the Redis backplane's suites against a real redis-server
 * (127.0.0.1:6379, or SSEHUB_REDIS_URL), for mutants of packages/redis/src (mutation/run.mjs sets it when
 * only those are named). The cluster example's test is left out: its processes are not Stryker's,
 * so no mutant is ever active in them.
 */
const tests = process.env.SSEHUB_MUTATION_TESTS;
const REDIS_SUITES = ['codec', 'outbox', 'cross-instance', 'errors', 'publish-api', 'faults'];

const config: Config = {
  ...unit,
  displayName: 'mutation',
  rootDir: __dirname,
  // Absolute paths: Stryker loads the environment itself, without expanding <rootDir>.
  testEnvironment: path.join(__dirname, 'mutation/jest-environment.cjs'),
  testSequencer: path.join(__dirname, 'mutation/sequencer.cjs'),
  testMatch:
    tests === 'redis'
      ? REDIS_SUITES.map((s) => `<rootDir>/packages/redis/test/${s}.test.ts`)
      : [
          '<rootDir>/packages/core/src/**/*.test.ts',
          '<rootDir>/packages/core/test/**/*.test.ts',
          ...(tests === 'core' ? [] : SUITES.map((s) => `<rootDir>/packages/testing/test/${s}.test.ts`)),
        ],
};

export default config;
