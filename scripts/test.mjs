// Runs the compiled mocha suites (unit, then integration) with the mochawesome
// reporter (spec-style progress on stdout; HTML + JSON under reports/tests/).
// Its last line is mocha's own count, "N passed, N failed, N skipped" (a
// failed hook is one failure, as in mocha's "N failing"), for CI logs; before
// it, each failed hook with the tests it kept from running.
//
//   node scripts/test.mjs                       unit, then integration, in 2 lanes
//   node scripts/test.mjs unit|integration      one of them
//   node scripts/test.mjs PATH...               compiled test files, or directories of *.test.js
//   --reports DIR                               the mochawesome report's directory (default reports/tests)
//   --lanes N                                   N mocha processes side by side, each file whole in one
//                                               (default: 2 for the whole suite, KMATRIX_TEST_LANES; else 1)
//
// In lanes, each line of a lane's output is prefixed with its number ("[2] "),
// the counts and failed hooks are the lanes' together, and the report is one.
// `.only` is refused (forbidOnly). A run that finds no test file, or no test,
// exits 1 saying so.
import Mocha from 'mocha';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { parseArgs } from 'node:util';

const SUITES = ['unit', 'integration'];
const { values, positionals } = parseArgs({
  options: { reports: { type: 'string', default: 'reports/tests' }, lanes: { type: 'string' }, summary: { type: 'string' } },
  allowPositionals: true,
});
const targets = positionals.length ? positionals : SUITES;
const where = targets.map((t) => (SUITES.includes(t) ? `dist/test/${t}` : t));

const testFiles = (p) =>
  !existsSync(p) ? [] : statSync(p).isDirectory() ? readdirSync(p, { recursive: true }).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(p, f)) : [p];
const files = where.flatMap(testFiles);
if (!files.length) {
  console.error(`test: no test files in ${where.join(', ')}${where.some((w) => w.startsWith('dist/')) ? ' (compile first: npm run build)' : ''}`);
  process.exit(1);
}

const { watchRun, summaryLines, exitCode } = await import(new URL('../dist/test/mocha-summary.js', import.meta.url).href);
const { splitLanes, pastSeconds, guessSeconds, fileKey, mergeReports } = await import(new URL('../dist/test/lanes.js', import.meta.url).href);
// each file's duration in the last runs: how lanes are balanced
const durations = path.join(values.reports, 'durations.json');
const past = pastSeconds(durations);
const lanes = Number(values.lanes ?? (positionals.length ? 1 : (process.env.KMATRIX_TEST_LANES ?? 2)));
if (!Number.isInteger(lanes) || lanes < 1) {
  console.error(`test: --lanes wants a whole number of at least 1, not ${values.lanes ?? process.env.KMATRIX_TEST_LANES}`);
  process.exit(1);
}
if (lanes > 1 && files.length > 1) process.exit(await runLanes(files, lanes));

const mocha = new Mocha({
  reporter: 'mochawesome',
  reporterOptions: { reportDir: values.reports, reportFilename: 'index', quiet: true, charts: false },
  timeout: 20_000,
  forbidOnly: true,
});
files.forEach((f) => mocha.addFile(path.resolve(f)));
try {
  await mocha.loadFilesAsync();
} catch (e) {
  // mocha's own refusals (e.g. `.only` under forbidOnly) are one line; anything else keeps its stack
  console.error(`test: the test files could not be loaded: ${String(e?.code).startsWith('ERR_MOCHA_') ? e.message : (e?.stack ?? e)}`);
  process.exit(1);
}
const runner = mocha.run((failures) => {
  const summary = ended();
  console.log(['', ...summaryLines(summary)].join('\n'));
  process.exitCode = exitCode(summary, failures);
  if (values.summary) writeFileSync(values.summary, JSON.stringify({ ...summary, exitCode: process.exitCode }));
  else mkdirSync(values.reports, { recursive: true }), writeFileSync(durations, JSON.stringify({ ...past, ...summary.seconds }, null, 1) + '\n');
});
const ended = watchRun(runner);

/** The files in `n` lanes (child processes of this script), their output prefixed, their summaries and reports joined; the exit code. */
async function runLanes(files, n) {
  const known = { ...pastSeconds(path.resolve('test/durations.json')), ...past };
  const groups = splitLanes(files, n, (f) => known[fileKey(f)] ?? guessSeconds(f));
  for (const d of existsSync(values.reports) ? readdirSync(values.reports) : []) if (/^lane-\d+$/.test(d)) rmSync(path.join(values.reports, d), { recursive: true, force: true });
  const lanes = groups.map((group, i) => {
    const dir = path.join(values.reports, `lane-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const summary = path.join(dir, 'summary.json');
    // a lane ends with this process, however it ends (its VMs with it: they die with their harness)
    const child = spawn('setpriv', ['--pdeathsig', 'TERM', process.execPath, process.argv[1], '--lanes', '1', '--reports', dir, '--summary', summary, ...group], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KMATRIX_TEST_LANE: String(i + 1) },
    });
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (l) => console.log(`[${i + 1}] ${l}`));
    console.log(`[${i + 1}] lane ${i + 1} of ${groups.length}: ${group.map((f) => path.basename(f)).join(' ')}`);
    return { dir, summary, exited: new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? signal))) };
  });
  const ends = await Promise.all(lanes.map((l) => l.exited));
  const summaries = lanes.map((l, i) => (existsSync(l.summary) ? JSON.parse(readFileSync(l.summary, 'utf8')) : { counts: { passes: 0, failures: 1, pending: 0 }, failedHooks: [{ title: `lane ${i + 1} ended (${ends[i]}) without its summary`, kept: [] }], exitCode: 1, seconds: {} }));
  const counts = { passes: 0, failures: 0, pending: 0 };
  for (const s of summaries) for (const k of Object.keys(counts)) counts[k] += s.counts[k];
  const reports = lanes.map((l) => path.join(l.dir, 'index.json')).filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, 'utf8')));
  if (reports.length) {
    const { default: marge } = await import('mochawesome-report-generator');
    await marge.create(mergeReports(reports), { reportDir: values.reports, reportFilename: 'index', saveJson: true, charts: false, quiet: true });
  }
  writeFileSync(durations, JSON.stringify(Object.assign(past, ...summaries.map((s) => s.seconds)), null, 1) + '\n');
  const summary = { counts, failedHooks: summaries.flatMap((s) => s.failedHooks) };
  console.log(['', ...summaryLines(summary)].join('\n'));
  return summaries.some((s) => s.exitCode !== 0) ? 1 : exitCode(summary, 0);
}
