// Mutation testing of the judging code (issue 20): Stryker mutates these
// TypeScript sources in its sandbox (.stryker-tmp/), rebuilds with tsc, and
// runs the unit tests that exercise them from dist/ (no VMs). `npm run
// mutation` runs it, then scripts/mutation.mjs checks every file's score.
// Reports: reports/mutation/index.html and mutation.json.
const JUDGING = ['harness/battery.ts', 'harness/guest.ts', 'harness/verdicts.ts', 'harness/controls.ts', 'harness/failures.ts', 'harness/ci/expectations.ts'];
const TESTS = ['battery', 'guest', 'verdicts', 'controls', 'failures', 'falco', 'ci', 'reliability', 'classes', 'early', 'first-screen', 'mutants-*'];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: JUDGING,
  testRunner: 'mocha',
  mochaOptions: { spec: TESTS.map((t) => `dist/test/unit/${t}.test.js`) },
  // the tests run the compiled code: the mutated sources are compiled in the sandbox first
  buildCommand: 'npx tsc -p tsconfig.json',
  // the instrumented sources hold every mutant at once: not type-correct, so tsc must not check them
  disableTypeChecks: 'harness/**/*.ts',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  coverageAnalysis: 'perTest',
  // static mutants (module-level patterns and tables) reload the ESM test process each: ~30 s apiece, hours in all
  ignoreStatic: true,
  // 2 cores, shared
  concurrency: 2,
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
