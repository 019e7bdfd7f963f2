/**
 * `node mutation/scores.mjs`: rewrites the score table of docs/mutation.md from the committed
 * results (mutation/incremental.json) and mutation/equivalent.json, without running Stryker: after
 * listing an equivalent mutant, or after copying the results of a run made in another checkout.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeScores } from './report.mjs';

process.chdir(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
writeScores('mutation/incremental.json', 'docs/mutation.md');
console.log('mutation: scores written to docs/mutation.md (from mutation/incremental.json)');
