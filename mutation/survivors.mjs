// Lists the mutants of reports/mutation/mutation.json that are not killed: `node mutation/survivors.mjs [file-substring]`.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[3] ?? 'reports/mutation/mutation.json', 'utf8'));
const only = process.argv[2] ?? '';
for (const [file, { source, mutants }] of Object.entries(report.files)) {
  if (!file.includes(only)) continue;
  const lines = source.split('\n');
  for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
    const { start } = m.location;
    console.log(`${file}:${start.line}:${start.column} ${m.status} ${m.mutatorName}`);
    console.log(`  - ${lines[start.line - 1].trim()}`);
    console.log(`  + ${m.replacement ?? ''}`.slice(0, 300));
  }
}
