// Runs the compiled mocha suites (unit, then integration) with the mochawesome
// reporter (spec-style progress on stdout; HTML + JSON under reports/tests/).
// Its last line is mocha's own count, "N passed, N failed, N skipped" (a
// failed hook is one failure, as in mocha's "N failing"), for CI logs; before
// it, each failed hook with the tests it kept from running.
//
//   node scripts/test.mjs                       unit, then integration
//   node scripts/test.mjs unit|integration      one of them
//   node scripts/test.mjs PATH...               compiled test files, or directories of *.test.js
//   --reports DIR                               the mochawesome report's directory (default reports/tests)
//
// `.only` is refused (forbidOnly). A run that finds no test file, or no test,
// exits 1 saying so.
import Mocha from 'mocha';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const SUITES = ['unit', 'integration'];
const { values, positionals } = parseArgs({ options: { reports: { type: 'string', default: 'reports/tests' } }, allowPositionals: true });
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
});
const ended = watchRun(runner);
