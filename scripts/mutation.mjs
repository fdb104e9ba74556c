// Each mutated file's mutation score from Stryker's JSON report
// (reports/mutation/mutation.json, written by `npm run mutation`), as a
// table; exit 1 unless every file scores at least the bar (Stryker's own
// `thresholds.break` holds only the whole run's score to it).
//
//   node scripts/mutation.mjs [--run] [--min 80] [--survivors] [--report FILE]
//
// --run runs Stryker first (stryker.config.mjs; what `npm run mutation` does):
// the table is printed even when Stryker's own break threshold failed the run,
// and a report older than the run (Stryker died before writing) is refused.
//
// Score = detected / valid: killed and timed-out mutants over those plus the
// survivors and the uncovered (compile errors and ignored mutants left out),
// as Stryker counts it.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { run: { type: 'boolean', default: false }, min: { type: 'string', default: '80' }, survivors: { type: 'boolean', default: false }, report: { type: 'string', default: 'reports/mutation/mutation.json' } },
});
const min = Number(values.min);
let strykerFailed = false;
if (values.run) {
  const started = Date.now();
  const r = spawnSync('npx', ['stryker', 'run'], { stdio: 'inherit' });
  strykerFailed = r.status !== 0;
  const written = (() => {
    try {
      return statSync(values.report).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (written < started) {
    console.error(`mutation: Stryker exited ${r.status ?? r.signal} without writing ${values.report}`);
    process.exit(1);
  }
  console.log(`mutation: Stryker took ${Math.round((Date.now() - started) / 1000)} s`);
}
let report;
try {
  report = JSON.parse(readFileSync(values.report, 'utf8'));
} catch (e) {
  console.error(`mutation: cannot read ${values.report} (run npm run mutation first): ${e.message}`);
  process.exit(1);
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const rows = Object.entries(report.files)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([file, { mutants }]) => {
    const count = (set) => mutants.filter((m) => set.has(m.status)).length;
    const detected = count(DETECTED);
    const undetected = count(UNDETECTED);
    const valid = detected + undetected;
    return { file, mutants, detected, survived: count(new Set(['Survived'])), noCoverage: count(new Set(['NoCoverage'])), valid, score: valid ? (100 * detected) / valid : 100 };
  });

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const width = Math.max(4, ...rows.map((r) => r.file.length));
console.log(`${pad('file', width)}  ${lpad('score', 7)}  ${lpad('killed', 6)}  ${lpad('survived', 8)}  ${lpad('no cov', 6)}  ${lpad('valid', 5)}`);
for (const r of rows) console.log(`${pad(r.file, width)}  ${lpad(`${r.score.toFixed(2)}%`, 7)}  ${lpad(r.detected, 6)}  ${lpad(r.survived, 8)}  ${lpad(r.noCoverage, 6)}  ${lpad(r.valid, 5)}${r.score < min ? `  < ${min}` : ''}`);

if (values.survivors)
  for (const r of rows)
    for (const m of r.mutants.filter((m) => UNDETECTED.has(m.status)))
      console.log(`${r.file}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}`);

const below = rows.filter((r) => r.score < min);
if (!rows.length) {
  console.error('mutation: the report has no file');
  process.exit(1);
}
if (below.length) {
  console.error(`mutation: ${below.map((r) => `${r.file} ${r.score.toFixed(2)}%`).join(', ')} below ${min}%`);
  process.exit(1);
}
console.log(`mutation: every file scores at least ${min}%`);
if (strykerFailed) process.exit(1);
