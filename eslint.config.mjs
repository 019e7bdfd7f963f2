// ESLint 9 flat config: typescript-eslint's recommended rules everywhere, plus import rules that
// hold the architecture in place (see "Architecture" below). `pnpm lint` runs it on the whole
// workspace.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Node's built-in modules, bare (`zlib`) and prefixed (`node:zlib`), for the runtime-neutral rules. */
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_')).flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`]));

/** Framework adapters: each is a thin layer over `@ssehub/core/adapter` (and `/adapter/node`). */
const adapters = ['express', 'koa', 'hono', 'fastify', 'fetch'].map((name) => `packages/${name}/src/**/*.ts`);

/** Adapters reach core only through its adapter entries, never the app entry or core's files. */
const adapterImports = {
  patterns: [
    {
      regex: '^@ssehub/core(?!/adapter(?:/node)?$)',
      message: "Framework adapters import core only through '@ssehub/core/adapter' or '@ssehub/core/adapter/node'.",
    },
    {
      group: ['**/core/src', '**/core/src/**'],
      message: "Framework adapters import core only through '@ssehub/core/adapter' or '@ssehub/core/adapter/node'.",
    },
  ],
};

/** Libraries core must not depend on: frameworks and backplane or metrics libraries live in their own packages. */
const coreForbidden = {
  paths: ['express', 'koa', 'hono', 'fastify', 'ioredis', 'redis', 'prom-client', 'next'].map((name) => ({
    name,
    message: 'packages/core is framework- and backplane-neutral: this belongs in its own package.',
  })),
  patterns: [
    {
      group: ['@hono/*', '@fastify/*', '@koa/*', '@ssehub/*', 'express/*', 'koa/*', 'hono/*', 'fastify/*', 'ioredis/*', 'prom-client/*', 'next/*'],
      message: 'packages/core depends on no framework, backplane library, or other ssehub package.',
    },
  ],
};

/** Same as {@link coreForbidden}, plus Node's built-ins: for the parts of core that run on any runtime. */
const neutralCoreForbidden = {
  paths: [
    ...coreForbidden.paths,
    ...nodeBuiltins.map((name) => ({
      name,
      message: 'This part of core is runtime-neutral: Node-only code goes in src/node/**, src/zlib.ts or src/adapter-node.ts.',
    })),
  ],
  patterns: coreForbidden.patterns,
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      '**/reports/**',
      '**/.stryker-tmp/**',
      'bench/results/**',
      '**/test-artifacts/**',
      '**/.next/**',
      '**/next-env.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // An unused argument or binding is fine when its name says so (`_req`), and so is an unused
      // rest sibling (`const { a, ...rest } = o` to drop `a`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `any` erases a generic where `unknown` does not fit its variance: `Hub<any>` (any event map),
      // Fastify's `FastifyRequest<any, any, any>`, prom-client's `Registry<any>`.
      '@typescript-eslint/no-explicit-any': 'off',
      // Object-literal getters that read the owner (`get closed() { return hub.closed; }`).
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['hub', 'family'] }],
    },
  },
  {
    // Tests, their fixtures and the benchmark load modules lazily or under aliases (`require('express-4')`,
    // `jest.isolateModules`, packages only some runtimes have); CommonJS files (the mutation hooks) use require.
    files: ['packages/*/test/**', 'packages/testing/**', 'packages/server/browser/**', 'bench/**', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The demo page's script runs in the browser.
    files: ['examples/shared/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },

  // ---- Architecture --------------------------------------------------------------------------
  {
    files: adapters,
    rules: { 'no-restricted-imports': ['error', adapterImports] },
  },
  {
    files: ['packages/core/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', coreForbidden] },
  },
  {
    // Everything in core but its Node transport runs on any runtime (Node, Bun, Deno, edge workers).
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/node/**', 'packages/core/src/zlib.ts', 'packages/core/src/adapter-node.ts'],
    rules: { 'no-restricted-imports': ['error', neutralCoreForbidden] },
  },
);
