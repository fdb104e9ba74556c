import assert from 'node:assert/strict';
import { execa } from 'execa';
import path from 'node:path';
import { answerText, checkAnswer, checkCells, checkFragment, checkKernel, sourceOf } from '../../harness/check.js';
import { UserError } from '../../harness/errors.js';
import { parseMatrix } from '../../harness/matrix.js';
import type { CellResult, DriverId } from '../../harness/types.js';

const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);
// A matrix of today's Falco (read by Falco itself and by scap-open) and the document's drivers.
const MATRIX = `
kernels:
  k61: { arch: amd64, machine: q35, debian: { suite: bookworm, flavour: amd64 } }
consumers:
  falco: { kind: falco, falco: { git: { url: https://github.com/o/falco, commit: ${C1} }, libs: { url: https://github.com/o/libs, commit: ${C1} }, driver: { url: https://github.com/o/libs, commit: ${C2} }, suite: trixie, version: 0.44.1 }, engines: [kmod, modern-ebpf], requires: { api: "10.0.0", schema: "4.3.0" } }
  scap: { kind: scap-open, libs: { suite: trixie, git: { url: https://github.com/o/libs, commit: ${C1} }, modern: true }, engines: [kmod, modern-ebpf], requires: { api: "10.0.0", schema: "4.3.0" } }
  old: { kind: sysdig, git: { url: https://github.com/o/sysdig, commit: ${C2}, suite: bullseye }, engines: [kmod, pdig], requires: { api: "0.0.0", schema: "0.0.0" } }
  old-bpf: { kind: sysdig, git: { url: https://github.com/o/sysdig, commit: ${C2}, suite: bullseye }, engines: [kmod, ebpf], requires: { api: "0.0.0", schema: "0.0.0" } }
sources:
  "10.2.0": { git: { url: https://github.com/o/libs, commit: ${C2} }, consumer: scap }
  falco-0.44.1: { git: { url: https://github.com/o/libs, commit: ${C2} }, name: falco, consumer: falco }
  falco-0.26.0: { git: { url: https://github.com/o/sysdig, commit: ${C2} }, consumer: old, consumers: { ebpf: old-bpf } }
profiles:
  locked-down: { cmdline: ["module.sig_enforce=1"] }
  ptrace-only: { capabilities: [sys_ptrace] }
today: { falco: "0.44.1", sources: ["10.2.0", falco-0.44.1] }
document: { sources: [falco-0.26.0] }
matrix:
  - { kernels: [k61], drivers: [kmod, modern-ebpf, ebpf], sources: ["10.2.0", falco-0.44.1] }
  - { kernels: [k61], drivers: [kmod, ebpf], sources: [falco-0.26.0] }
`;

function expectUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, not ${String(e)}`);
    assert.match(e.message, pattern);
    assert.doesNotMatch(e.message, /\n/, 'one paragraph');
    return true;
  });
}

function result(driver: DriverId, status: CellResult['status'], profile = 'host', extra: Partial<CellResult> & { source?: string } = {}): CellResult {
  const { source = 'falco-0.44.1', ...rest } = extra;
  return {
    id: `check-6.1.0-amd64/${driver}@${source}/${profile}`,
    kernel: { id: 'check-6.1.0-amd64', release: '6.1.0-41-amd64', arch: 'amd64', machine: 'q35' },
    driver: { id: driver, source },
    profile,
    status,
    ...(status === 'pass' ? { evidence: { events: 900, marker: true, battery: { right: 20, wrong: 0, missing: 0, calls: new Array(20).fill({}) } } } : {}),
    durations: {},
    logs: {},
    attempts: 1,
    ...rest,
  } as CellResult;
}
const ERA = { 'falco-0.44.1': 'today', 'falco-0.26.0': 'document' } as const;

describe('kmatrix check', () => {
  describe('the answer, from the results', () => {
    it("modern eBPF first when it passed: falcoctl's order, the others named after it", () => {
      const a = checkAnswer([result('kmod', 'pass'), result('modern-ebpf', 'pass'), result('ebpf', 'skip', 'host', { reason: 'removed upstream' })], ERA);
      assert.deepEqual(a.answers.map((x) => [x.profile, x.era, x.use?.driver]), [['host', 'today', 'modern-ebpf']]);
      assert.equal(a.answers[0]!.use!.cell, 'check-6.1.0-amd64/modern-ebpf@falco-0.44.1/host');
      assert.match(a.answers[0]!.why, /kmod passed too, after it in falcoctl's order \(modern-ebpf > kmod > ebpf > pdig\)/);
      assert.deepEqual(a.kernel, { id: 'check-6.1.0-amd64', arch: 'amd64', release: '6.1.0-41-amd64' });
    });

    it('the next driver when the preferred one failed; flaky, skipped, errored and mispaired cells never answer', () => {
      const failing = checkAnswer([result('modern-ebpf', 'fail', 'host', { phase: 'load', firstError: 'ring buffer map type not supported' }), result('kmod', 'pass')], ERA);
      assert.equal(failing.answers[0]!.use?.driver, 'kmod');
      for (const notEvidence of [
        result('modern-ebpf', 'flaky', 'host', { reason: 'failed at load, then passed', evidence: { events: 1, marker: true } }),
        result('modern-ebpf', 'pass', 'host', { class: 'pairing:schema-mismatch' } as never),
      ]) {
        const a = checkAnswer([notEvidence, result('kmod', 'pass')], ERA);
        assert.equal(a.answers[0]!.use?.driver, 'kmod', notEvidence.status);
      }
      const none = checkAnswer([result('kmod', 'skip', 'host', { reason: 'no such kernel' }), result('modern-ebpf', 'error', 'host', { phase: 'boot', reason: 'QEMU died' }), result('ebpf', 'fail', 'host', { phase: 'build', firstError: 'error: x' })], ERA);
      assert.equal(none.answers[0]!.use, undefined);
      assert.equal(none.answers[0]!.why, 'no driver passed; failed: ebpf at build (error: x); no evidence: kmod skip (no such kernel); modern-ebpf error (QEMU died)');
    });

    it('one answer per profile, and the document\'s drivers apart from today\'s', () => {
      const a = checkAnswer(
        [
          result('kmod', 'pass'),
          result('kmod', 'fail', 'locked-down', { phase: 'load', firstError: 'Key was rejected by service', class: 'load:signature' }),
          result('modern-ebpf', 'pass', 'locked-down'),
          result('kmod', 'fail', 'ptrace-only', { phase: 'load', firstError: 'Operation not permitted' }),
          result('modern-ebpf', 'fail', 'ptrace-only', { phase: 'load', firstError: 'Operation not permitted' }),
          result('kmod', 'pass', 'host', { source: 'falco-0.26.0' }),
        ],
        ERA,
      );
      assert.deepEqual(a.answers.map((x) => `${x.era} ${x.profile} ${x.use?.driver ?? '-'}`), ['today host kmod', 'today locked-down modern-ebpf', 'today ptrace-only -', 'document host kmod']);
      assert.equal(a.answers.find((x) => x.era === 'document')!.use!.source, 'falco-0.26.0');
    });

    // mutation-style: the answer follows the evidence, not the order the cells came in
    it('flipping one cell flips the answer', () => {
      const cells = [result('kmod', 'pass'), result('modern-ebpf', 'pass')];
      assert.equal(checkAnswer(cells, ERA).answers[0]!.use?.driver, 'modern-ebpf');
      assert.equal(checkAnswer([...cells].reverse(), ERA).answers[0]!.use?.driver, 'modern-ebpf');
      assert.equal(checkAnswer([cells[0]!, { ...cells[1]!, status: 'fail', phase: 'capture' }], ERA).answers[0]!.use?.driver, 'kmod');
      assert.equal(checkAnswer([{ ...cells[0]!, status: 'fail', phase: 'load' }, { ...cells[1]!, status: 'skip' }], ERA).answers[0]!.use, undefined);
    });

    it("each cell with its status, battery and first error, in words and as JSON", () => {
      const a = checkAnswer([result('kmod', 'pass'), result('modern-ebpf', 'fail', 'host', { phase: 'load', firstError: 'libpman: ring buffer not supported' })], ERA);
      assert.deepEqual(a.cells[0]!.battery, { right: 20, wrong: 0, missing: 0, calls: 20 });
      assert.equal(a.cells[1]!.battery, undefined);
      assert.equal(a.cells[1]!.firstError, 'libpman: ring buffer not supported');
      const text = answerText(a, '0.44.1');
      assert.match(text, /^kernel 6\.1\.0-41-amd64 \(amd64\)\ntoday's Falco 0\.44\.1:\n  host: use kmod \(falco-0\.44\.1\) — kmod passed/);
      assert.match(text, /PASS  check-6\.1\.0-amd64\/kmod@falco-0\.44\.1\/host: battery 20 right, 0 wrong, 0 missing of 20/);
      assert.match(text, /FAIL  check-6\.1\.0-amd64\/modern-ebpf@falco-0\.44\.1\/host: no evidence — at load: libpman: ring buffer not supported/);
      assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
    });
  });

  describe('the kernel from the command line', () => {
    it('an apt or yum fragment as matrix.yaml gives it', () => {
      assert.deepEqual(checkFragment({ apt: 'https://r', suite: 'noble-updates', key: 'k.gpg', flavour: 'azure' }, []), {
        kind: 'apt',
        fragment: { url: 'https://r', suite: 'noble-updates', component: 'main', key: path.resolve('k.gpg'), flavour: 'azure' },
      });
      assert.deepEqual(checkFragment({ mirrorlist: '${KMATRIX_REPO_AMAZONLINUX2}', newest: 'kernel' }, []), { kind: 'yum', fragment: { mirrorlist: '${KMATRIX_REPO_AMAZONLINUX2}', newest: 'kernel' } });
      assert.deepEqual(checkFragment({ yum: 'https://r', key: '/k', release: '5.14.0-570.el9' }, []), { kind: 'yum', fragment: { url: 'https://r', key: '/k', release: '5.14.0-570.el9' } });
      assert.equal(checkFragment({}, ['a.deb']), undefined);
    });

    it('no kernel, two kernels, or options of the other kind: one paragraph saying how to give one', () => {
      expectUserError(() => checkFragment({}, []), /^kmatrix check: no kernel given\. Give one kernel: `--apt <url>/);
      expectUserError(() => checkFragment({ apt: 'a', yum: 'b' }, []), /--apt and --yum name two repositories/);
      expectUserError(() => checkFragment({ yum: 'a', mirrorlist: 'b', newest: 'kernel' }, []), /--yum and --mirrorlist name two repositories/);
      expectUserError(() => checkFragment({ apt: 'a', suite: 's', key: 'k', flavour: 'azure' }, ['x.deb']), /--apt and package files \(x\.deb\) are two kernels/);
      expectUserError(() => checkFragment({ suite: 's' }, ['x.deb']), /--suite is for a repository, not for package files/);
      expectUserError(() => checkFragment({ apt: 'a', key: 'k', flavour: 'azure' }, []), /--apt needs --suite/);
      expectUserError(() => checkFragment({ apt: 'a', suite: 's', flavour: 'azure' }, []), /--apt needs --key/);
      expectUserError(() => checkFragment({ apt: 'a', suite: 's', key: 'k', flavour: 'azure', release: '5.15.0-1127-azure' }, []), /exactly one of --release .* and --flavour/);
      expectUserError(() => checkFragment({ apt: 'a', suite: 's', key: 'k', newest: 'kernel' }, []), /--newest is for a yum repository/);
      expectUserError(() => checkFragment({ yum: 'a', flavour: 'azure', newest: 'kernel' }, []), /--flavour is for an apt repository, not --yum/);
      expectUserError(() => checkFragment({ yum: 'a' }, []), /--yum needs exactly one of --release .* and --newest/);
    });

    it("the kernel: checked against its kind's schema, an id from what it is, the machine of its arch", () => {
      const k = checkKernel(sourceOf('store', { release: '4.9.229', arch: 'amd64' }), 'amd64', undefined, '4.9.229');
      assert.deepEqual(k, { id: 'check-4.9.229-amd64', arch: 'amd64', machine: 'q35', source: { kind: 'store', release: '4.9.229', arch: 'amd64' } });
      assert.equal(checkKernel(k.source, 'arm64', undefined, 'x').machine, 'virt');
      expectUserError(() => checkKernel(k.source, 'i386', undefined, 'x'), /--arch i386 is not one of amd64, arm64, armhf/);
      expectUserError(() => checkKernel(k.source, 'arm64', 'q35', 'x'), /--machine q35 does not run arm64 kernels/);
      expectUserError(() => sourceOf('store', { relase: '4.9' }), /^kmatrix check: the store kernel /);
      expectUserError(() => sourceOf('nope', {}), /this kmatrix has no nope kernel source/);
    });
  });

  describe('the cells, from the matrix file', () => {
    const m = parseMatrix(MATRIX, 'm.yaml');
    const kernel = checkKernel(sourceOf('store', { release: '6.1.0', arch: 'amd64' }), 'amd64', undefined, '6.1.0');

    it("today's Falco's drivers as the matrix pairs them, under every profile; the document's with --document", () => {
      const { cells, era } = checkCells(m, kernel);
      assert.deepEqual(era, { 'falco-0.44.1': 'today' }, 'the source Falco itself reads');
      assert.equal(cells.length, 9);
      assert.deepEqual([...new Set(cells.map((c) => c.driver))], ['kmod', 'modern-ebpf', 'ebpf']);
      assert.deepEqual([...new Set(cells.map((c) => c.profile.id))], ['host', 'locked-down', 'ptrace-only']);
      assert.ok(cells.every((c) => c.consumer.id === 'falco' && c.kernel === kernel));
      const doc = checkCells(m, kernel, { document: true, profiles: ['host'] });
      assert.deepEqual(doc.cells.map((c) => `${c.id} ${c.consumer.id}`), [
        'check-6.1.0-amd64/kmod@falco-0.44.1/host falco',
        'check-6.1.0-amd64/modern-ebpf@falco-0.44.1/host falco',
        'check-6.1.0-amd64/ebpf@falco-0.44.1/host falco',
        'check-6.1.0-amd64/kmod@falco-0.26.0/host old',
        'check-6.1.0-amd64/ebpf@falco-0.26.0/host old-bpf',
      ]);
      assert.equal(doc.era['falco-0.26.0'], 'document');
      assert.deepEqual(checkCells(m, kernel, { profiles: ['host'], drivers: ['kmod'] }).cells.map((c) => c.id), ['check-6.1.0-amd64/kmod@falco-0.44.1/host']);
    });

    it('an unknown profile or driver, or --document without document:, is bad input', () => {
      expectUserError(() => checkCells(m, kernel, { profiles: ['gke'] }), /--profile gke is not a profile of .*m\.yaml \(known: host, locked-down, ptrace-only\)/);
      expectUserError(() => checkCells(m, kernel, { drivers: ['kmdo'] }), /--driver kmdo is not one of kmod/);
      expectUserError(() => checkCells(m, kernel, { drivers: ['pdig'] }), /no cell to run: --driver pdig is not paired with falco-0\.44\.1/);
      expectUserError(() => checkCells(parseMatrix(MATRIX.replace(/^document:.*$/m, ''), 'm.yaml'), kernel, { document: true }), /--document, but .*m\.yaml has no document: section/);
    });
  });

  describe('the command line', function () {
    this.timeout(60_000); // CLI starts: seconds on a busy machine
    const kmatrix = (args: string[]) => execa('node', [path.resolve('bin/kmatrix.js'), 'check', ...args], { reject: false, env: { CI: 'true' } });
    const oneParagraph = (r: { exitCode?: number; stderr: string }, pattern: RegExp) => {
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, /^kmatrix: kmatrix check: /);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one paragraph');
    };

    it('no kernel, two repositories, an unknown flag: one paragraph, exit code 2', async () => {
      const [none, both, unknown] = await Promise.all([kmatrix([]), kmatrix(['--apt', 'https://a', '--yum', 'https://b']), kmatrix(['--flavor', 'azure'])]);
      oneParagraph(none, /no kernel given\. Give one kernel/);
      oneParagraph(both, /--apt and --yum name two repositories/);
      oneParagraph(unknown, /unknown option '--flavor' \(Did you mean --flavour\?\)\. See kmatrix check --help\./);
    });
  });
});
