// scripts/test.mjs, the runner of these suites: its closing line is mocha's own
// count (a failed hook is a failure, pending tests are skipped), a failed hook
// names the tests it kept from running, `.only` and an empty run fail.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { closingLine, exitCode, summaryLines } from '../mocha-summary.js';
import { mergeReports, splitLanes, type MochawesomeReport } from '../lanes.js';

const script = path.resolve('scripts/test.mjs');

/** scripts/test.mjs on a directory of test files (CommonJS, mocha's globals), its report in the same temporary directory. */
async function runTests(files: Record<string, string>, args: string[] = []) {
  const root = tempDir('kmatrix-runner-');
  const dir = path.join(root, 'tests');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const r = await execa('node', [script, dir, '--reports', path.join(root, 'report'), ...args], { reject: false, all: true });
  return { ...r, report: path.join(root, 'report') };
}

const lastLine = (out: string) => out.trimEnd().split('\n').at(-1);

const MIXED = `
const assert = require('node:assert');
describe('plain', () => {
  it('passes', () => {});
  it.skip('is pending');
  it('fails', () => assert.equal(1, 2));
});
describe('fixture missing', function () {
  before(() => { throw new Error('no fixture'); });
  it('first kept', () => {});
  describe('inner', () => { it('second kept', () => {}); });
});
describe.skip('no mirrors (pending: reason)', () => { it('a', () => {}); it('b', () => {}); });
`;

describe('scripts/test.mjs: the closing line', function () {
  this.timeout(60_000);

  it('counts as mocha does: a failed before-all hook is one failure, pending tests are skipped; the closing line is last', async () => {
    const r = await runTests({ 'mixed.test.js': MIXED });
    assert.equal(r.exitCode, 1, r.all);
    assert.equal(lastLine(r.all), '1 passed, 2 failed, 3 skipped', r.all);
    // the same numbers mocha printed itself
    assert.match(r.all, /^ {2}1 passing/m);
    assert.match(r.all, /^ {2}2 failing/m);
    assert.match(r.all, /^ {2}3 pending/m);
    // spec-style progress, the pending tests shown one by one
    assert.match(r.all, /^ {4}✔ passes/m);
    assert.match(r.all, /^ {4}- a\n {4}- b/m);
  });

  it('names the tests a failed hook kept from running, sub-suites included', async () => {
    const r = await runTests({ 'mixed.test.js': MIXED });
    assert.match(r.all, /failed hook: fixture missing "before all" hook for "first kept" — kept 2 test\(s\) from running:\n {2}not run: fixture missing first kept\n {2}not run: fixture missing inner second kept\n/);
  });

  it('a failed before-each hook: one failure, the rest of its suite named as not run', async () => {
    const r = await runTests({
      'each.test.js': `
        describe('each', () => {
          let n = 0;
          beforeEach(() => { if (++n === 2) throw new Error('second time'); });
          it('runs', () => {});
          it('kept one', () => {});
          it('kept two', () => {});
        });`,
    });
    assert.equal(lastLine(r.all), '1 passed, 1 failed, 0 skipped', r.all);
    assert.match(r.all, /kept 2 test\(s\) from running:\n {2}not run: each kept one\n {2}not run: each kept two\n/);
  });

  it('all green: exit 0, the mochawesome report written', async () => {
    const r = await runTests({ 'a.test.js': `describe('a', () => { it('one', () => {}); it('two', () => {}); });` });
    assert.equal(r.exitCode, 0, r.all);
    assert.equal(lastLine(r.all), '2 passed, 0 failed, 0 skipped');
    const report = JSON.parse(readFileSync(path.join(r.report, 'index.json'), 'utf8')) as { stats: { passes: number } };
    assert.equal(report.stats.passes, 2);
  });

  it('no test files: exit 1, saying so', async () => {
    const r = await runTests({ 'README.md': 'not a test' });
    assert.equal(r.exitCode, 1);
    assert.match(r.all, /^test: no test files in \S+kmatrix-runner-\S+\/tests$/);
  });

  it('test files without a test: exit 1, saying so, the closing line last', async () => {
    const r = await runTests({ 'empty.test.js': '// nothing\n' });
    assert.equal(r.exitCode, 1);
    assert.match(r.all, /no tests ran: the test files define none\n0 passed, 0 failed, 0 skipped$/);
  });

  it('.only is refused (forbidOnly): exit 1, nothing run', async () => {
    const r = await runTests({ 'only.test.js': `describe('x', () => { it.only('o', () => {}); it('p', () => {}); });` });
    assert.equal(r.exitCode, 1);
    assert.match(r.all, /`\.only` forbidden/);
    assert.doesNotMatch(r.all, /passed, /);
  });

  it('the summary functions: hooks first, the closing line last; exit code', () => {
    const s = { counts: { passes: 3, failures: 1, pending: 2 }, failedHooks: [{ title: 'x "after all" hook', kept: [] }] };
    assert.equal(closingLine(s.counts), '3 passed, 1 failed, 2 skipped');
    assert.deepEqual(summaryLines(s), ['failed hook: x "after all" hook (it kept no test from running)', '3 passed, 1 failed, 2 skipped']);
    assert.equal(exitCode(s, 1), 1);
    assert.equal(exitCode({ counts: { passes: 0, failures: 0, pending: 4 }, failedHooks: [] }, 0), 0, 'pending only is not a failure');
    assert.equal(exitCode({ counts: { passes: 0, failures: 0, pending: 0 }, failedHooks: [] }, 0), 1, 'nothing ran');
  });
});

describe('scripts/test.mjs: lanes (test files in mocha processes side by side)', function () {
  this.timeout(60_000);

  it('each file whole in one lane, its output prefixed; the counts, failed hooks and report are the lanes\' together', async () => {
    const r = await runTests({ 'a.test.js': `describe('a', () => { it('one', () => {}); it('two', () => {}); });`, 'mixed.test.js': MIXED }, ['--lanes', '2']);
    assert.equal(r.exitCode, 1, r.all);
    assert.equal(lastLine(r.all), '3 passed, 2 failed, 3 skipped', r.all);
    const lanes = [...r.all.matchAll(/^\[(\d)\] lane \d of 2: (.+)$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(lanes.sort(), [['1', 'a.test.js'], ['2', 'mixed.test.js']].sort(), r.all);
    assert.match(r.all, /^\[1\] {5}✔ one$/m);
    assert.match(r.all, /^\[2\] {5}✔ passes$/m);
    assert.match(r.all, /failed hook: fixture missing "before all" hook for "first kept" — kept 2 test\(s\) from running:\n {2}not run: fixture missing first kept\n/);
    const report = JSON.parse(readFileSync(path.join(r.report, 'index.json'), 'utf8')) as MochawesomeReport;
    // mochawesome counts the failed test, not the failed hook (as in one lane)
    assert.deepEqual([report.stats.passes, report.stats.failures, report.stats.pending, report.results.length], [3, 1, 3, 2]);
    const durations = JSON.parse(readFileSync(path.join(r.report, 'durations.json'), 'utf8')) as Record<string, number>;
    assert.deepEqual(Object.keys(durations).sort(), ['tests/a.test.js', 'tests/mixed.test.js']);
  });

  it('all green in lanes: exit 0', async () => {
    const r = await runTests({ 'a.test.js': `describe('a', () => { it('one', () => {}); });`, 'b.test.js': `describe('b', () => { it('two', () => {}); });` }, ['--lanes', '2']);
    assert.equal(r.exitCode, 0, r.all);
    assert.equal(lastLine(r.all), '2 passed, 0 failed, 0 skipped');
  });

  it('a lane that dies without its summary is a failure, named', async () => {
    const r = await runTests({ 'a.test.js': `describe('a', () => { it('one', () => {}); });`, 'b.test.js': `process.exit(7);` }, ['--lanes', '2']);
    assert.equal(r.exitCode, 1, r.all);
    assert.match(r.all, /failed hook: lane 2 ended \(7\) without its summary/);
    assert.match(lastLine(r.all)!, /^1 passed, 1 failed, 0 skipped$/);
  });

  it('the lanes end with the runner, however it ends (kill -9)', async () => {
    const root = tempDir('kmatrix-runner-');
    const slow = `describe('s', function () { this.timeout(60000); it('waits', () => new Promise((r) => setTimeout(r, 30000))); });`;
    for (const f of ['s1.test.js', 's2.test.js']) writeFileSync(path.join(root, f), slow);
    const runner = execa('node', [script, root, '--reports', path.join(root, 'report'), '--lanes', '2'], { reject: false });
    const lanes = async () => (await execa('pgrep', ['-f', `${root}/report/lane-`], { reject: false })).stdout.split('\n').filter(Boolean);
    for (let i = 0; i < 50 && (await lanes()).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await lanes()).length, 2, 'both lanes started');
    runner.kill('SIGKILL');
    await runner;
    for (let i = 0; i < 30 && (await lanes()).length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await lanes(), [], 'no lane outlives the runner');
  });

  it('--lanes must be a whole number of at least 1', async () => {
    const r = await runTests({ 'a.test.js': `describe('a', () => { it('one', () => {}); });` }, ['--lanes', '0']);
    assert.equal(r.exitCode, 1);
    assert.match(r.all, /--lanes wants a whole number of at least 1, not 0/);
  });

  it('splitLanes: longest first onto the least loaded lane, each lane in the given order', () => {
    const s: Record<string, number> = { u1: 1, u2: 1, check: 900, apt: 850, vagrant: 650, quick: 100, pdig: 300 };
    const lanes = splitLanes(Object.keys(s), 2, (f) => s[f]!);
    assert.deepEqual(lanes, [['u1', 'u2', 'check', 'quick', 'pdig'], ['apt', 'vagrant']]);
    assert.deepEqual(splitLanes(['a'], 3, () => 1), [['a']], 'no empty lane');
  });

  it('mergeReports: counts added, suites side by side, wall time from the first start to the last end', () => {
    const report = (passes: number, start: string, end: string): MochawesomeReport => ({
      stats: { suites: 1, tests: passes, passes, pending: 1, failures: 0, testsRegistered: passes + 1, skipped: 0, other: 0, start, end, duration: 1 },
      results: [{ title: `${passes}` }],
    });
    const m = mergeReports([report(2, '2026-12-02T10:00:00.000Z', '2026-12-02T10:05:00.000Z'), report(3, '2026-12-02T10:00:01.000Z', '2026-12-02T10:07:00.000Z')]);
    assert.deepEqual([m.stats.passes, m.stats.pending, m.stats.tests, m.stats.testsRegistered, m.stats.duration], [5, 2, 5, 7, 420_000]);
    assert.deepEqual([m.stats.start, m.stats.end], ['2026-12-02T10:00:00.000Z', '2026-12-02T10:07:00.000Z']);
    assert.deepEqual(m.results, [{ title: '2' }, { title: '3' }]);
  });
});
