import type { Config } from 'jest';

// Workspace packages resolve to their TypeScript sources, so tests need no build step.
const moduleNameMapper = {
  '^@ssehub/core/adapter$': '<rootDir>/packages/core/src/adapter.ts',
  '^@ssehub/core/adapter/node$': '<rootDir>/packages/core/src/adapter-node.ts',
  '^@ssehub/(core|express|koa|hono|fastify|fetch|redis|client|server|metrics)$': '<rootDir>/packages/$1/src/index.ts',
};

const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  moduleNameMapper,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
};

const config: Config = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/packages/*/src/**/*.test.ts', '<rootDir>/packages/*/test/**/*.test.ts'],
    },
    {
      // Headless Debian Chromium against the examples' servers: `npx jest --selectProjects browser`.
      ...common,
      displayName: 'browser',
      rootDir: __dirname,
      testMatch: ['<rootDir>/packages/testing/browser/**/*.test.ts', '<rootDir>/packages/server/browser/**/*.test.ts'],
    },
  ],
};

export default config;
