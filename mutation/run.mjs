/**
 * `pnpm mutation [stryker options]`: runs Stryker (stryker.config.mjs) in incremental mode against
 * the committed mutation/incremental.json, then writes the per-file scores into docs/mutation.md.
 *
 * Stryker's report covers the files it mutated only (the core's, or those `--mutate <files>` names):
 * the run starts from a copy of the committed results and its report is merged back into them, so
 * the other modules' results stay.
 * Files of packages/redis/src are mutated only when named, in a run of their own, against the Redis
 * suites (SSEHUB_MUTATION_TESTS=redis, set here; they need redis-server on 127.0.0.1:6379).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeReports, readReport, writeScores } from './report.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const INCREMENTAL = 'mutation/incremental.json';
const PARTIAL = 'reports/mutation/partial-incremental.json';
const DOC = 'docs/mutation.md';

// `pnpm mutation -- --mutate x` passes the `--` along.
const args = process.argv.slice(2).filter((a) => a !== '--');
if (args.some((a) => a === '--incrementalFile' || a.startsWith('--incrementalFile='))) {
  throw new Error('mutation/run.mjs chooses the incremental file itself: run `npx stryker run` for another');
}

// The files named with --mutate (`--mutate a,b`, `--mutate=a,b` or `-m a,b`).
const named = args
  .flatMap((a, i) => (a.startsWith('--mutate=') ? [a.slice('--mutate='.length)] : (args[i - 1] === '--mutate' || args[i - 1] === '-m') ? [a] : []))
  .flatMap((list) => list.split(','));
// The Redis backplane's mutants are killed by its suites over a real Redis, not by the core's tests.
if (named.length && named.every((f) => f.startsWith('packages/redis/'))) process.env.SSEHUB_MUTATION_TESTS = 'redis';
else if (named.some((f) => f.startsWith('packages/redis/'))) {
  throw new Error('mutation/run.mjs: mutate packages/redis/src in a run of its own (its tests are the Redis suites)');
}

// Every run starts from a copy and is merged back, so a run of the core's modules (the default) keeps
// the Redis backplane's results, and a run of some modules keeps the others'.
mkdirSync(path.dirname(PARTIAL), { recursive: true });
if (existsSync(INCREMENTAL)) copyFileSync(INCREMENTAL, PARTIAL);

const stryker = fileURLToPath(new URL('../node_modules/@stryker-mutator/core/bin/stryker.js', import.meta.url));
const started = Date.now();
const run = spawnSync(process.execPath, [stryker, 'run', ...args, '--incrementalFile', PARTIAL], { stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
const minutes = ((Date.now() - started) / 60_000).toFixed(1);

const base = existsSync(INCREMENTAL) ? readReport(INCREMENTAL) : { files: {}, testFiles: {} };
writeFileSync(INCREMENTAL, JSON.stringify(mergeReports(base, readReport(PARTIAL)), null, 2) + '\n');

writeScores(INCREMENTAL, DOC);
console.log(`\nmutation: ${minutes} min; scores written to ${DOC} (from ${INCREMENTAL})`);
