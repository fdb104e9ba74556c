// Expectations (harness/ci/expectations.ts), the behaviour mutation testing
// found unchecked: each refusal of a bad expectations.yaml, each kind of
// mismatch and its words, known failures, exit codes and the printed lines.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkExpectations, exitCodeFor, knownFailures, loadExpectations, mismatchLines, type Expectation } from '../../harness/ci/expectations.js';
import { UserError } from '../../harness/errors.js';
import { tempDir } from '../tmp.js';
import type { CellResult } from '../../harness/types.js';

const dir = tempDir('kmatrix-mutants-exp-');
let n = 0;
function file(text: string): string {
  const f = path.join(dir, `e${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}
function refused(text: string, ...patterns: RegExp[]): string {
  const f = file(text);
  try {
    loadExpectations(f, IDS);
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.ok(e.message.startsWith(f), `names the file: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return e.message;
  }
  return assert.fail(`expected ${text} to be refused`);
}

const cell = (id: string, status: CellResult['status'], extra: Partial<CellResult> = {}): CellResult => ({
  id,
  kernel: { id: id.split('/')[0]!, arch: 'amd64', machine: 'q35' },
  driver: { id: 'kmod', source: '0.23.2' },
  profile: 'host',
  status,
  ...(status === 'fail' ? { phase: 'load' as const, reason: 'insmod failed (exit 1)', firstError: 'insmod: ERROR: Invalid module format' } : {}),
  durations: {},
  logs: {},
  attempts: 1,
  ...extra,
});
const exp = (cellGlob: string, status: Expectation['status'] = 'fail', extra: Partial<Expectation> = {}): Expectation => ({ cell: cellGlob, status, reason: 'known', ...extra });
const TODAY = new Date('2026-12-02T12:00:00Z');
/** The matrix's cells these files' entries stand for. */
const IDS = ['a', 'b', 'c', 'a/kmod@1/host', 'b/x'];

describe('expectations (mutants)', () => {
  describe('loading', () => {
    it('no file, an empty one or an empty list: no expectation', () => {
      assert.deepEqual(loadExpectations(path.join(dir, 'absent.yaml'), IDS), []);
      assert.deepEqual(loadExpectations(file(''), IDS), []);
      assert.deepEqual(loadExpectations(file('expected:\n'), IDS), []);
      assert.deepEqual(loadExpectations(file('expected: []\n'), IDS), []);
    });

    it('reads each field, the default status, and the line of each entry', () => {
      const f = file('# known\nexpected:\n  - cell: "a/kmod@1/host"\n    reason: r1\n    class: build:compiler\n  - cell: "b/*"\n    status: flaky\n    reason: r2\n    until: "2027-01-31"\n  - cell: c\n    reason: r3\n    class: load:vermagic\n');
      assert.deepEqual(loadExpectations(f, IDS), [
        { cell: 'a/kmod@1/host', status: 'fail', reason: 'r1', class: 'build:compiler', line: 3 },
        { cell: 'b/*', status: 'flaky', reason: 'r2', until: '2027-01-31', line: 6 },
        { cell: 'c', status: 'fail', reason: 'r3', class: 'load:vermagic', line: 10 },
      ]);
    });

    it('refuses bad YAML and a non-list, naming the file', () => {
      const yaml = refused('expected: [a, b\n', /: invalid YAML: \S.{8,}$/);
      assert.doesNotMatch(yaml, /\n/, "the parser's first line only");
      refused('expected: { cell: a }\n', /"expected" must be a list/);
    });

    it('refuses each bad entry, naming its line and index', () => {
      refused('expected:\n  - reason: r\n', /:2 \(expected\.0\): each expectation needs "cell"/);
      refused('expected:\n  - cell: ""\n    reason: r\n', /needs "cell"/);
      refused('expected:\n  - 3\n', /needs "cell"/);
      refused('expected:\n  - null\n', /needs "cell"/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n  - cell: b\n', /:5 \(expected\.1\): b needs a "reason"/);
      // a failure without its class would hide a new failure behind the known one
      refused('expected:\n  - cell: a\n    reason: r\n', /:2 \(expected\.0\): a is expected to fail but names no "class": give the failure class it fails with \(docs\/failure-classes\.md/);
      refused('expected:\n  - cell: a\n    reason: r\n    status: fail\n', /a is expected to fail but names no "class"/);
      refused('expected:\n  - cell: a\n    reason: "  "\n', /a needs a "reason"/);
      refused('expected:\n  - cell: a\n    reason: 5\n', /a needs a "reason"/);
      refused('expected:\n  - cell: a\n    reason: r\n    status: pass\n', /status must be fail, skip or flaky, not pass/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:nope\n', /class must be one of the failure classes .*load:vermagic.* not load:nope/);
      refused('expected:\n  - cell: a\n    reason: r\n    status: skip\n    class: load:vermagic\n', /a class is for a failure, not for status skip/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n    until: 2027-1-5\n', /until must be a date YYYY-MM-DD, not 2027-1-5/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n    until: "x2027-01-05"\n', /until must be a date/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n    until: "2027-01-05x"\n', /until must be a date/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n    until: "2027-13-45"\n', /until must be a date YYYY-MM-DD, not 2027-13-45/);
      // dates JavaScript reads, but not the day alone
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n    until: "2027-01-05 12:00"\n', /until must be a date YYYY-MM-DD, not 2027-01-05 12:00\.$/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n    until: "Mon 2027-01-05"\n', /until must be a date YYYY-MM-DD, not Mon 2027-01-05\.$/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:vermagic\n    until: "02027-01-05"\n', /until must be a date YYYY-MM-DD, not 02027-01-05\.$/);
      // the classes listed one by one
      refused('expected:\n  - cell: a\n    reason: r\n    class: load:nope\n', /\(docs\/failure-classes\.md\): [a-z-]+:[a-z-]+, [a-z-]+:[a-z-]+, .*load:vermagic, /);
      // a list: every one a class, and at least one
      refused('expected:\n  - cell: a\n    reason: r\n    class: [load:vermagic, load:nope]\n', /or a list of them — not load:nope\.$/);
      refused('expected:\n  - cell: a\n    reason: r\n    class: []\n', /or a list of them — not \[\] \(an empty list\)\.$/);
      refused('expected:\n  - cell: a\n    reason: r\n    status: skip\n    class: [load:vermagic]\n', /a class is for a failure, not for status skip/);
    });

    it("each entry against the matrix's cells: one matching none, and two matching one cell, are refused together", () => {
      const none = refused('expected:\n  - { cell: a, reason: r, status: skip }\n  - { cell: "z/*", reason: r, status: skip }\n', /:3 \(expected\.1\): z\/\* matches no cell of the matrix \(a cell renamed or removed\? remove or fix the entry\)\.$/);
      assert.doesNotMatch(none, /expected\.0/);
      const f = file('expected:\n  - { cell: "b/*", reason: r, status: skip }\n  - { cell: a, reason: r, status: skip }\n  - { cell: "*", reason: r, status: flaky }\n  - { cell: q, reason: r, status: skip }\n');
      assert.throws(
        () => loadExpectations(f, IDS, 'm.yaml'),
        (e: Error) => {
          assert.ok(e instanceof UserError);
          const problems = [
            `${f}:5 (expected.3): q matches no cell of m.yaml (a cell renamed or removed? remove or fix the entry).`,
            `${f}:3 (expected.1) (a) and line 4 (expected.2: *) overlap: both match a of m.yaml; make them disjoint (a cell fails one way: the one of its first failing phase).`,
          ];
          assert.equal(e.message, problems.join(' '), 'b/* and * overlap on no cell: `*` stays within a segment');
          return true;
        },
      );
      // each pair of entries is named once, at the first cell both match
      const twice = refused('expected:\n  - { cell: "*", reason: r, status: skip }\n  - { cell: "[ab]", reason: r, status: skip }\n');
      assert.equal(twice.match(/overlap/g)?.length, 1);
      assert.match(twice, /both match a of the matrix/);
      // a glob matching several cells, none another entry's: fine
      assert.equal(loadExpectations(file('expected:\n  - { cell: "[abc]", reason: r, status: skip }\n  - { cell: "*/*", reason: r, status: skip }\n'), IDS).length, 2);
    });

    it('accepts skip and flaky, and a class on a failure', () => {
      assert.deepEqual(
        loadExpectations(file('expected:\n  - { cell: a, reason: r, status: skip }\n  - { cell: b, reason: r, status: flaky }\n  - { cell: c, reason: r, status: fail, class: "build:compiler" }\n'), IDS).map((e) => [e.status, e.class]),
        [
          ['skip', undefined],
          ['flaky', undefined],
          ['fail', 'build:compiler'],
        ],
      );
      const two = loadExpectations(file('expected:\n  - { cell: a, reason: r, class: [capture:missing-events, capture:consumer-died] }\n'), IDS);
      assert.deepEqual(two[0]!.class, ['capture:missing-events', 'capture:consumer-died']);
    });
  });

  describe('checking a run', () => {
    it('a failure nobody expects, and a regression when it passed last time', () => {
      const r = cell('k/kmod@1/host', 'fail');
      assert.deepEqual(checkExpectations([r], [], [], TODAY), [{ kind: 'unexpected-failure', cell: r.id, why: 'fails at load: insmod: ERROR: Invalid module format' }]);
      assert.deepEqual(checkExpectations([r], [], [cell(r.id, 'pass')], TODAY), [
        { kind: 'regression', cell: r.id, why: 'passed in the previous run, fails at load: insmod: ERROR: Invalid module format' },
      ]);
      assert.equal(checkExpectations([r], [], [cell(r.id, 'skip')], TODAY)[0]!.kind, 'unexpected-failure');
      assert.equal(checkExpectations([r], [], [cell('other/kmod@1/host', 'pass')], TODAY)[0]!.kind, 'unexpected-failure');
      const bare = cell('k/kmod@1/host', 'fail', { firstError: undefined, reason: undefined });
      assert.match(checkExpectations([bare], [], [], TODAY)[0]!.why, /no error recorded$/);
      const reasonOnly = cell('k/kmod@1/host', 'fail', { firstError: undefined });
      assert.match(checkExpectations([reasonOnly], [], [], TODAY)[0]!.why, /: insmod failed \(exit 1\)$/);
    });

    it('passes, skips and errors nobody expects are no mismatch', () => {
      assert.deepEqual(checkExpectations([cell('a', 'pass'), cell('b', 'skip'), cell('c', 'error'), cell('d', 'flaky')], [], [], TODAY), []);
    });

    it('an expected failure that fails matches; one that passes is an unexpected pass', () => {
      assert.deepEqual(checkExpectations([cell('k/kmod@1/host', 'fail')], [exp('k/*/host')], [], TODAY), []);
      assert.deepEqual(checkExpectations([cell('k/kmod@1/host', 'pass')], [exp('k/*/host')], [], TODAY), [
        { kind: 'unexpected-pass', cell: 'k/kmod@1/host', why: 'expected to fail (known) but passed: remove or update the expectation' },
      ]);
      assert.deepEqual(checkExpectations([cell('k/kmod@1/host', 'error')], [exp('k/*/host')], [], TODAY), [], 'an error is no evidence');
      // nor of another class than the one expected: only a failure has a class to compare
      for (const status of ['error', 'skip'] as const)
        assert.deepEqual(checkExpectations([cell('a', status, { class: 'load:other' })], [exp('a', 'fail', { class: 'load:signature' })], [], TODAY), [], status);
    });

    it('`*` stays within a segment', () => {
      assert.equal(checkExpectations([cell('k/kmod@1/host', 'fail')], [exp('k/*')], [], TODAY).length, 1);
    });

    it('an expected skip that runs: a pass or a failure is unexpected', () => {
      assert.deepEqual(checkExpectations([cell('a', 'fail')], [exp('a', 'skip')], [], TODAY), [{ kind: 'unexpected-pass', cell: 'a', why: 'expected to skip (known) but failed at load: remove or update the expectation' }]);
      assert.equal(checkExpectations([cell('a', 'pass')], [exp('a', 'skip')], [], TODAY)[0]!.kind, 'unexpected-pass');
      assert.deepEqual(checkExpectations([cell('a', 'skip')], [exp('a', 'skip')], [], TODAY), []);
    });

    it('flaky now after a pass: a regression unless known flaky, in its reason or the default words', () => {
      const now = cell('a', 'flaky', { reason: 'failed at capture, then passed' });
      assert.deepEqual(checkExpectations([now], [], [cell('a', 'pass')], TODAY), [{ kind: 'flaky-regression', cell: 'a', why: 'passed in the previous run, flaky now: failed at capture, then passed' }]);
      assert.equal(checkExpectations([cell('a', 'flaky')], [], [cell('a', 'pass')], TODAY)[0]!.why, 'passed in the previous run, flaky now: failed, then passed');
      assert.deepEqual(checkExpectations([now], [exp('a', 'flaky')], [cell('a', 'pass')], TODAY), []);
      assert.deepEqual(checkExpectations([now], [], [cell('a', 'fail')], TODAY), []);
      // expected to fail, and flaky: the expectation is wrong
      assert.equal(checkExpectations([cell('a', 'flaky')], [exp('a', 'fail', { class: 'load:vermagic' })], [], TODAY)[0]!.why, 'expected to fail (known) but was flaky (failed, then passed): remove or update the expectation');
      assert.equal(checkExpectations([now], [exp('a', 'fail', { class: 'load:vermagic' })], [], TODAY)[0]!.why, 'expected to fail (known) but was flaky (failed at capture, then passed): remove or update the expectation');
    });

    it('flaky: a pass or a flaky run matches; a failure is still a failure', () => {
      assert.deepEqual(checkExpectations([cell('a', 'pass'), cell('b', 'flaky')], [exp('a', 'flaky'), exp('b', 'flaky')], [], TODAY), []);
      assert.deepEqual(
        checkExpectations([cell('a', 'fail')], [exp('a', 'flaky')], [cell('a', 'pass')], TODAY).map((m) => m.kind),
        ['regression'],
      );
      assert.deepEqual(checkExpectations([cell('a', 'fail')], [exp('a', 'flaky')], [], TODAY).map((m) => m.kind), ['unexpected-failure']);
    });

    it('a failure of another class than expected', () => {
      const r = cell('a', 'fail');
      assert.deepEqual(checkExpectations([r], [exp('a', 'fail', { class: 'load:vermagic' })], [], TODAY), []);
      assert.deepEqual(checkExpectations([r], [exp('a', 'fail', { class: 'load:signature' })], [], TODAY), [
        { kind: 'unexpected-class', cell: 'a', why: 'fails, but as load:vermagic not load:signature (known): at load: insmod: ERROR: Invalid module format' },
      ]);
      const bare = cell('a', 'fail', { firstError: undefined, reason: undefined, class: 'load:other' });
      assert.match(checkExpectations([bare], [exp('a', 'fail', { class: 'load:signature' })], [], TODAY)[0]!.why, /as load:other not load:signature .*: no error recorded$/);
      const reasonOnly = cell('a', 'fail', { firstError: undefined, class: 'load:other' });
      assert.match(checkExpectations([reasonOnly], [exp('a', 'fail', { class: 'load:signature' })], [], TODAY)[0]!.why, /: insmod failed \(exit 1\)$/);
      assert.deepEqual(checkExpectations([cell('a', 'pass')], [exp('a', 'fail', { class: 'load:signature' })], [], TODAY).map((m) => m.kind), ['unexpected-pass']);
      // a list: failing as any one of them matches; as another, the mismatch names them all
      const either = exp('a', 'fail', { class: ['load:signature', 'load:vermagic'] });
      assert.deepEqual(checkExpectations([r], [either], [], TODAY), []);
      assert.deepEqual(checkExpectations([cell('a', 'fail', { class: 'load:signature' })], [either], [], TODAY), []);
      assert.deepEqual(checkExpectations([cell('a', 'fail', { class: 'load:other' })], [either], [], TODAY).map((m) => m.why.split(' (')[0]), ['fails, but as load:other not load:signature or load:vermagic']);
    });

    it('an expectation past its day is a mismatch whatever the cell did; on its day it still holds', () => {
      const e = exp('a', 'fail', { until: '2026-12-01', line: 7 });
      for (const status of ['pass', 'fail', 'skip'] as const)
        assert.deepEqual(checkExpectations([cell('a', status)], [e], [], TODAY), [
          { kind: 'expired', cell: 'a', why: 'expectation "known" expired on 2026-12-01 (expectations.yaml line 7): fix the cell or renew it' },
        ]);
      assert.equal(checkExpectations([cell('a', 'fail')], [{ ...e, line: undefined }], [], TODAY)[0]!.why, 'expectation "known" expired on 2026-12-01: fix the cell or renew it');
      assert.deepEqual(checkExpectations([cell('a', 'fail')], [exp('a', 'fail', { until: '2026-12-02' })], [], TODAY), []);
      assert.deepEqual(checkExpectations([cell('a', 'fail')], [exp('a', 'fail', { until: '2026-12-03' })], [], TODAY), []);
    });
  });

  it('known failures: an expected failure with its class, failing as that class', () => {
    const known = knownFailures([exp('a', 'fail', { class: 'load:vermagic' }), exp('b', 'fail'), exp('c', 'flaky'), exp('d', 'skip')]);
    assert.equal(known(cell('a', 'fail')), true);
    assert.equal(known(cell('a', 'fail', { class: 'load:signature' })), false, 'another class');
    assert.equal(known(cell('a', 'pass')), false);
    assert.equal(known(cell('a', 'error', { class: 'load:vermagic' })), false);
    assert.equal(known(cell('b', 'fail')), false, 'no class: not known enough');
    assert.equal(known(cell('c', 'fail')), false);
    assert.equal(known(cell('d', 'fail')), false);
    assert.equal(known(cell('z', 'fail')), false);
    // any one of several known failures; a class on something other than a failure is not one
    const two = knownFailures([exp('a', 'fail', { class: 'load:vermagic' }), exp('b', 'fail', { class: 'load:vermagic' }), exp('c', 'flaky', { class: 'load:vermagic' })]);
    assert.equal(two(cell('b', 'fail')), true);
    assert.equal(two(cell('c', 'fail')), false);
    const either = knownFailures([exp('a', 'fail', { class: ['load:signature', 'load:vermagic'] })]);
    assert.equal(either(cell('a', 'fail')), true);
    assert.equal(either(cell('a', 'fail', { class: 'load:signature' })), true);
    assert.equal(either(cell('a', 'fail', { class: 'load:other' })), false);
  });

  it('exit codes and lines', () => {
    const m = { kind: 'unexpected-failure' as const, cell: 'a', why: 'w' };
    assert.equal(exitCodeFor([m], [cell('a', 'error')]), 1);
    assert.equal(exitCodeFor([], [cell('a', 'pass'), cell('b', 'error')]), 3);
    assert.equal(exitCodeFor([], [cell('a', 'pass'), cell('b', 'fail')]), 0);
    assert.deepEqual(mismatchLines([m, { kind: 'expired', cell: 'b', why: 'x' }]), ['UNEXPECTED FAILURE: a — w', 'EXPIRED: b — x']);
  });
});
