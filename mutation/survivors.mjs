// Lists the mutants of a Stryker report that are not killed:
// `node mutation/survivors.mjs [file-substring] [report.json] [--all]`. The report defaults to
// reports/mutation/mutation.json; the mutants mutation/equivalent.json lists are left out unless `--all`.
import { readFileSync } from 'node:fs';
import { isListed } from './report.mjs';

const args = process.argv.slice(2).filter((a) => a !== '--all');
const all = args.length < process.argv.length - 2;
const report = JSON.parse(readFileSync(args[1] ?? 'reports/mutation/mutation.json', 'utf8'));
const equivalent = JSON.parse(readFileSync(new URL('./equivalent.json', import.meta.url), 'utf8')).mutants;
const only = args[0] ?? '';
for (const [file, { source, mutants }] of Object.entries(report.files)) {
  if (!file.includes(only)) continue;
  const lines = source.split('\n');
  for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
    const listed = equivalent.some((e) => isListed(e, file, m, lines));
    if (listed && !all) continue;
    const { start } = m.location;
    console.log(`${file}:${start.line}:${start.column} ${m.status} ${m.mutatorName}${listed ? ' (listed as equivalent)' : ''}`);
    console.log(`  - ${lines[start.line - 1].trim()}`);
    console.log(`  + ${m.replacement ?? ''}`.slice(0, 300));
  }
}
