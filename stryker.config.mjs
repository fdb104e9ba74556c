// Mutation testing of the judging code (issue 20): Stryker mutates these
// TypeScript sources in its sandbox (.stryker-tmp/), rebuilds with tsc, and
// runs the unit tests that exercise them from dist/ (no VMs). `npm run
// mutation` runs it, then scripts/mutation.mjs checks every file's score.
// Reports: reports/mutation/index.html and mutation.json.
import { readFileSync } from 'node:fs';

// tsconfig.mutation.json lists them once: the judging code (harness/) and its unit tests (test/, run from dist/)
const { include } = JSON.parse(readFileSync(new URL('./tsconfig.mutation.json', import.meta.url), 'utf8'));
const JUDGING = include.filter((f) => f.startsWith('harness/'));
const TESTS = include.filter((f) => f.startsWith('test/')).map((f) => `dist/${f.replace(/\.ts$/, '.js')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: JUDGING,
  testRunner: 'mocha',
  mochaOptions: { spec: TESTS },
  // the tests run the compiled code: the mutated sources are compiled in the sandbox first
  buildCommand: 'npx tsc -p tsconfig.json',
  // the instrumented sources hold every mutant at once: not type-correct, so tsc must not check them
  disableTypeChecks: 'harness/**/*.ts',
  checkers: ['typescript'],
  // the checker's program: the same files and what they import, not the whole project (a mutant's check is shorter)
  tsconfigFile: 'tsconfig.mutation.json',
  coverageAnalysis: 'perTest',
  // static mutants (module-level patterns and tables) reload the ESM test process each: ~30 s apiece, hours in all
  ignoreStatic: true,
  // 2 checker processes and 1 test runner (Stryker gives checkers half, rounded up): on 2 cores the
  // TypeScript checker is what takes the time — a mutant's tests run in a fraction of its check
  concurrency: 3,
  timeoutMS: 20000,
  ignorePatterns: ['/dist', '/reports', '/.stryker-tmp'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // the whole run's score; scripts/mutation.mjs holds each file to the same bar
  thresholds: { high: 90, low: 80, break: 80 },
};
