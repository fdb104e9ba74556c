// Runs the mocha suites (unit, then integration) with the mochawesome reporter
// (HTML + JSON under reports/tests/) and ends with a plain
// "N passed, N failed, N skipped" line for CI logs.
import Mocha from 'mocha';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const only = process.argv[2]; // optional: "unit" or "integration"
const files = ['unit', 'integration']
  .filter((s) => !only || s === only)
  .flatMap((s) => {
    const dir = `dist/test/${s}`;
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(dir, f));
  });
const mocha = new Mocha({
  reporter: 'mochawesome',
  reporterOptions: { reportDir: 'reports/tests', reportFilename: 'index', quiet: true, charts: false },
  timeout: 20_000,
});
files.forEach((f) => mocha.addFile(path.resolve(f)));
await mocha.loadFilesAsync();
const runner = mocha.run((failures) => {
  const s = runner.stats;
  console.log(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped`);
  process.exitCode = failures ? 1 : 0;
});
