/**
 * Reading and merging Stryker's JSON reports (the incremental file is one): the per-file scores of
 * docs/mutation.md, with the mutants mutation/equivalent.json lists taken out.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export function readReport(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * `base` with the files `update` mutated replaced by `update`'s: a run over some modules
 * (`--mutate`) writes a report of those only. Test ids are numbers local to a report, so `base`'s
 * are renamed to `update`'s by test file and name (tests `update` does not know are added).
 */
export function mergeReports(base, update) {
  const merged = { ...update, files: { ...update.files }, testFiles: structuredClone(update.testFiles ?? {}) };
  const byKey = new Map();
  let next = 0;
  for (const [file, { tests }] of Object.entries(merged.testFiles)) {
    for (const t of tests) {
      byKey.set(`${file}\0${t.name}`, t.id);
      next = Math.max(next, Number(t.id) + 1);
    }
  }
  const rename = new Map();
  for (const [file, { tests, source }] of Object.entries(base.testFiles ?? {})) {
    for (const t of tests) {
      let id = byKey.get(`${file}\0${t.name}`);
      if (id === undefined) {
        id = String(next++);
        byKey.set(`${file}\0${t.name}`, id);
        merged.testFiles[file] ??= { source, tests: [] };
        merged.testFiles[file].tests.push({ ...t, id });
      }
      rename.set(t.id, id);
    }
  }
  const renamed = (ids) => ids?.map((id) => rename.get(id) ?? id);
  for (const [file, result] of Object.entries(base.files)) {
    if (file in merged.files) continue;
    merged.files[file] = {
      ...result,
      mutants: result.mutants.map((m) => ({ ...m, coveredBy: renamed(m.coveredBy), killedBy: renamed(m.killedBy) })),
    };
  }
  merged.files = Object.fromEntries(Object.entries(merged.files).sort(([a], [b]) => a.localeCompare(b)));
  return merged;
}

/** Does `m` (a report mutant of `file`) match an entry of mutation/equivalent.json? */
export function isListed(entry, file, m, lines) {
  if (entry.file !== file || entry.mutator !== m.mutatorName) return false;
  if (entry.replacement !== undefined && entry.replacement !== m.replacement) return false;
  // `previous` tells apart lines that read the same (the same guard at the top of several methods).
  if (entry.previous !== undefined && !(lines[m.location.start.line - 2] ?? '').includes(entry.previous)) return false;
  return lines[m.location.start.line - 1].includes(entry.line);
}

/** Per-file counts and scores; `equivalent` is mutation/equivalent.json's list. */
export function scores(report, equivalent = []) {
  const rows = [];
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    const lines = source.split('\n');
    const n = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, equivalent: 0, errors: 0, ignored: 0 };
    for (const m of mutants) {
      const listed = (m.status === 'Survived' || m.status === 'NoCoverage') && equivalent.some((e) => isListed(e, file, m, lines));
      if (listed) n.equivalent++;
      else if (m.status === 'Killed') n.killed++;
      else if (m.status === 'Timeout') n.timeout++;
      else if (m.status === 'Survived') n.survived++;
      else if (m.status === 'NoCoverage') n.noCoverage++;
      else if (m.status === 'Ignored') n.ignored++;
      else n.errors++;
    }
    const detected = n.killed + n.timeout;
    const valid = detected + n.survived + n.noCoverage;
    const raw = valid + n.equivalent;
    rows.push({
      file,
      ...n,
      score: valid ? (100 * detected) / valid : 100,
      rawScore: raw ? (100 * detected) / raw : 100,
    });
  }
  return rows;
}

/** The score table of docs/mutation.md. */
export function scoreTable(rows) {
  const pct = (x) => x.toFixed(1);
  const out = [
    '| file | score | score, equivalents counted | killed | timeout | survived | no coverage | equivalent | compile errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    // Core modules by their path in the core; others (the Redis backplane) by package.
    const name = r.file.replace(/^packages\/core\/src\//, '').replace(/^packages\/(\w+)\/src\//, '$1: ');
    out.push(`| ${name} | ${pct(r.score)}% | ${pct(r.rawScore)}% | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.equivalent} | ${r.errors} |`);
  }
  return out.join('\n');
}

/**
 * Rewrites the score table of `doc` (between its `<!-- scores:start -->` and `<!-- scores:end -->`
 * markers) from the results in `incremental`, leaving out the mutants mutation/equivalent.json lists.
 */
export function writeScores(incremental, doc) {
  const report = readReport(incremental);
  const equivalent = JSON.parse(readFileSync('mutation/equivalent.json', 'utf8')).mutants;
  const table = scoreTable(scores(report, equivalent));
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- scores:start -->';
  const end = '<!-- scores:end -->';
  const at = text.indexOf(start);
  const to = text.indexOf(end);
  if (at === -1 || to === -1) throw new Error(`${doc} has no ${start} ... ${end} markers`);
  writeFileSync(doc, `${text.slice(0, at + start.length)}\n${table}\n${text.slice(to)}`);
}
