// Negative controls: their cells from matrix.yaml, their ids, their verdict
// from the guest's facts, the claim kmod-tied-to-kernel, and the verdicts
// and the report setting them apart from the driver evidence.
import assert from 'node:assert/strict';
import { explainCell } from '../../harness/cli/explain.js';
import { controlPairs, isControl, judgeControl, refusalLines } from '../../harness/controls.js';
import { UserError } from '../../harness/errors.js';
import type { GuestReport, GuestVerdict } from '../../harness/guest.js';
import { cellId, filterCells, loadMatrix, parseCellId, parseMatrix } from '../../harness/matrix.js';
import { renderReport } from '../../harness/reports/html.js';
import type { CellResult, DriverId, KernelSpec } from '../../harness/types.js';
import { claimVerdicts, kernelOutcome, platformVerdicts, type RecommendedTable } from '../../harness/verdicts.js';

const base = `
kernels:
  k510: { arch: amd64, machine: q35, debian: { suite: bullseye, flavour: amd64 } }
  k61: { arch: amd64, machine: q35, debian: { suite: bookworm, flavour: amd64 } }
  k612: { arch: amd64, machine: q35, debian: { suite: trixie, flavour: amd64 } }
  a61-virt: { arch: arm64, machine: virt, debian: { suite: bookworm, flavour: arm64 } }
  a61-pi: { arch: arm64, machine: raspi3b, debian: { suite: bookworm, flavour: arm64 } }
  a612-virt: { arch: arm64, machine: virt, debian: { suite: trixie, flavour: arm64 } }
  hf61: { arch: armhf, machine: raspi2b, debian: { suite: bookworm, flavour: armmp } }
  st49: { machine: q35, store: { release: 4.9.229, arch: amd64 } }
  box: { arch: amd64, machine: vagrant, box: { name: kmatrix/debian12-6.1, local: true } }
consumers:
  c: { kind: sysdig, debian: { suite: sid, package: sysdig }, engines: [kmod, ebpf], requires: { api: "8.0.0", schema: "4.0.0" } }
  c2: { kind: sysdig, debian: { suite: bookworm, package: sysdig }, engines: [kmod], requires: { api: "1.0.0", schema: "1.0.0" } }
sources:
  "0.23.2": { debian: { suite: sid, package: falcosecurity-scap-dkms }, consumer: c2, consumers: { kmod: c } }
matrix:
  - { kernels: [k510, k61, k612, a61-virt, a61-pi, a612-virt, hf61, st49], drivers: [kmod], sources: ["0.23.2"] }
  - { kernels: [box], drivers: [kmod], sources: ["0.23.2"] }
`;

function expectUserError(fn: () => unknown, ...patterns: RegExp[]): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return;
  }
  assert.fail('expected an error');
}

const controlIds = (text: string) => parseMatrix(text, 'm.yaml').cells.filter((c) => c.control).map((c) => c.id);

describe('negative controls', () => {
  describe('cells from matrix.yaml', () => {
    it('each Debian kernel B gets the module of the kernel of its arch before it (wrapping); one per kernel package; no box, store or lone arch', () => {
      const m = parseMatrix(base + 'controls: { sources: ["0.23.2"] }\n', 'm.yaml');
      const controls = m.cells.filter((c) => c.control);
      assert.deepEqual(
        controls.map((c) => c.id),
        [
          'k510/kmod@0.23.2/control-from-k612',
          'k61/kmod@0.23.2/control-from-k510',
          'k612/kmod@0.23.2/control-from-k61',
          'a61-virt/kmod@0.23.2/control-from-a612-virt',
          'a612-virt/kmod@0.23.2/control-from-a61-virt',
        ],
      );
      const c = controls[1]!;
      assert.equal(c.kernel.id, 'k61');
      assert.equal(c.control!.from.id, 'k510');
      assert.equal(c.driver, 'kmod');
      assert.equal(c.consumer.id, 'c', "the source's kmod consumer");
      assert.equal(c.profile.id, 'control-from-k510');
      assert.equal(c.profile.cmdline, undefined, 'the host environment: no kernel arguments');
      assert.equal(c.profile.capabilities, undefined, 'the host environment: root with every capability');
      // the ordinary cells are still all there, and none of them is a control
      assert.equal(m.cells.filter((x) => !x.control).length, 9);
      assert.equal(m.controls?.sources[0], '0.23.2');
    });

    it('crossArch: per arch, its first kernel B with a kernel of the same line on another arch gets that one\'s module', () => {
      const m = parseMatrix(base + 'controls: { sources: ["0.23.2"], crossArch: true }\n', 'm.yaml');
      const ids = m.cells.filter((c) => c.control).map((c) => c.id);
      assert.deepEqual(ids.slice(5), ['k61/kmod@0.23.2/control-from-a61-virt', 'a61-virt/kmod@0.23.2/control-from-k61', 'hf61/kmod@0.23.2/control-from-k61']);
      assert.deepEqual(ids.slice(0, 5), controlIds(base + 'controls: { sources: ["0.23.2"] }\n'), 'the version controls are unchanged');
      const cross = m.cells.find((c) => c.id === 'k61/kmod@0.23.2/control-from-a61-virt')!;
      assert.deepEqual([cross.kernel.arch, cross.control!.from.arch], ['amd64', 'arm64']);
      assert.match(cross.profile.description!, /built for a61-virt \(arm64: another architecture\)/);
      const at = base.split('\n').length;
      expectUserError(
        () => parseMatrix(base + 'controls: { sources: ["0.23.2"], kernels: [k510, k612], crossArch: true }\n', 'm.yaml'),
        new RegExp(`^m\\.yaml:${at}: crossArch needs a kernel B and a kernel of the same line`),
      );
      expectUserError(() => parseMatrix(base + 'controls: { sources: ["0.23.2"], crossArch: yes }\n', 'm.yaml'), /crossArch/);
    });

    it('without `controls:` there are none', () => {
      assert.deepEqual(controlIds(base), []);
    });

    it('`kernels:` chooses the kernels B', () => {
      assert.deepEqual(controlIds(base + 'controls: { sources: ["0.23.2"], kernels: [k612, st49] }\n'), ['k612/kmod@0.23.2/control-from-st49', 'st49/kmod@0.23.2/control-from-k612']);
    });

    it('a mistake is named with its line', () => {
      const at = base.split('\n').length; // the controls line
      expectUserError(() => parseMatrix(base + 'controls: { sources: ["9.9.9"] }\n', 'm.yaml'), new RegExp(`^m\\.yaml:${at}: controls name source "9\\.9\\.9", which is not under sources`));
      expectUserError(() => parseMatrix(base + 'controls: { sources: ["0.23.2"], drivers: [kmod] }\n', 'm.yaml'), new RegExp(`^m\\.yaml:${at}: unknown key "drivers" under controls`));
      expectUserError(() => parseMatrix(base + 'controls: { kernels: [k61, k612] }\n', 'm.yaml'), new RegExp(`^m\\.yaml:${at}: controls is missing the key "sources"`));
      expectUserError(() => parseMatrix(base + 'controls: { sources: ["0.23.2"], kernels: [k61, box] }\n', 'm.yaml'), new RegExp(`^m\\.yaml:${at}: controls boot their kernel directly: "box"`));
      expectUserError(() => parseMatrix(base + 'controls: { sources: ["0.23.2"], kernels: [k61, nope] }\n', 'm.yaml'), /controls name kernel "nope", which is not defined/);
      expectUserError(() => parseMatrix(base + 'controls: { sources: ["0.23.2"], kernels: [a61-virt, a61-pi] }\n', 'm.yaml'), /no two of these kernels are different kernels of one arch/);
    });

    it('pairs never put the same kernel package on both sides', () => {
      const k = (id: string, arch: KernelSpec['arch'], suite: string, machine = 'q35'): KernelSpec => ({ id, arch, machine, source: { kind: 'debian', suite, flavour: arch } as KernelSpec['source'] });
      const pairs = controlPairs([k('x', 'arm64', 'bookworm', 'virt'), k('y', 'arm64', 'bookworm', 'raspi3b'), k('z', 'arm64', 'trixie', 'virt')]);
      assert.deepEqual(pairs.map((p) => [p.kernel.id, p.from.id]), [['x', 'z'], ['z', 'x']]);
      // across arches: the same line (suite) only, never the same kernel package
      const cross = controlPairs([k('a', 'amd64', 'bullseye'), k('b', 'amd64', 'trixie'), k('x', 'arm64', 'bookworm', 'virt'), k('z', 'arm64', 'trixie', 'virt')], true);
      assert.deepEqual(cross.filter((p) => p.crossed === 'arch').map((p) => [p.kernel.id, p.from.id]), [['b', 'z'], ['z', 'b']]);
      assert.deepEqual(controlPairs([k('only', 'amd64', 'sid')]), []);
    });

    it('the default matrix.yaml has the controls of its Debian kernels; list and globs find them', () => {
      const m = loadMatrix('matrix.yaml');
      const ids = m.cells.filter((c) => c.control).map((c) => c.id);
      assert.ok(ids.includes('debian-6.1-amd64/kmod@0.23.2/control-from-debian-5.10-amd64'), ids.join(', '));
      assert.ok(ids.includes('debian-6.1-amd64/kmod@0.23.2/control-from-debian-6.1-arm64-virt'), `a cross-arch control: ${ids.join(', ')}`);
      assert.ok(ids.every((id) => /^debian-[^/]+\/kmod@0\.23\.2\/control-from-debian-/.test(id)), ids.join(', '));
      assert.ok(!ids.some((id) => /box|raspi3b-sd|store|mainline/.test(id)), ids.join(', '));
      assert.deepEqual(filterCells(m.cells, ['debian-6.1-amd64/kmod@0.23.2/control-from-debian-5.10-amd64']).map((c) => c.id), ['debian-6.1-amd64/kmod@0.23.2/control-from-debian-5.10-amd64']);
      assert.deepEqual(filterCells(m.cells, ['*/kmod@*/control-*']).map((c) => c.id), ids);
    });

    it('explain says what a control does, and its guest stops after insmod', async () => {
      const m = loadMatrix('matrix.yaml');
      const text = await explainCell(m, filterCells(m.cells, ['debian-6.1-amd64/kmod@0.23.2/control-from-debian-5.10-amd64'])[0]!);
      assert.match(text, /negative control\n {2}the kernel module built for debian-5\.10-amd64 .* is inserted into debian-6\.1-amd64/);
      assert.match(text, /mmdebstrap --mode=unshare --variant=apt bullseye/, "built in the module's kernel's builder");
      assert.match(text, /KM_MODE='control'/);
      assert.doesNotMatch(text, /start the consumer/);
    });
  });

  describe('ids', () => {
    it('parses a control id, an ordinary id, and refuses garbage', () => {
      assert.deepEqual(parseCellId('debian-6.1-amd64/kmod@0.23.2/control-from-debian-5.10-amd64'), {
        kernel: 'debian-6.1-amd64',
        driver: 'kmod',
        source: '0.23.2',
        profile: 'control-from-debian-5.10-amd64',
        controlFrom: 'debian-5.10-amd64',
      });
      assert.deepEqual(parseCellId('debian-6.1-amd64/ebpf@falco-0.26.0/host'), { kernel: 'debian-6.1-amd64', driver: 'ebpf', source: 'falco-0.26.0', profile: 'host' });
      assert.equal(parseCellId('debian-6.1-amd64/kmod/host'), undefined);
      assert.equal(parseCellId('debian-6.1-amd64/nope@0.23.2/host'), undefined);
      assert.equal(parseCellId('a/kmod@b/c/d'), undefined);
      for (const c of loadMatrix('matrix.yaml').cells) {
        const p = parseCellId(c.id);
        assert.ok(p, c.id);
        assert.equal(cellId(p.kernel, p.driver, p.source, p.profile), c.id);
        assert.equal(p.controlFrom, c.control?.from.id);
      }
    });
  });

  describe("the guest's facts", () => {
    const verdict = (over: Partial<GuestVerdict> = {}): GuestVerdict => ({ status: 'fail', phase: 'load', reason: 'insmod failed (exit 1)', events: 0, marker: false, lines: [], ...over });
    const report = (rc: number | undefined, dmesg = '', insmod = ''): GuestReport => ({
      boot: { release: '6.1.0-50-amd64', btime: 1 },
      ...(rc !== undefined ? { insmod: { rc } } : {}),
      loops: {},
      logs: { dmesg, insmod },
      done: true,
    });
    const from = { id: 'debian-5.10-amd64', release: '5.10.0-39-amd64' };

    it('a refusal passes at load, in the kernel\'s words', () => {
      const r = report(1, '[    3.1] random: crng init done\n[    5.52] scap: disagrees about version of symbol module_layout\n', "insmod: ERROR: could not insert module /kmatrix/scap.ko: Invalid module format\n");
      assert.deepEqual(refusalLines(r), ['scap: disagrees about version of symbol module_layout', 'insmod: ERROR: could not insert module /kmatrix/scap.ko: Invalid module format']);
      const { verdict: v, control } = judgeControl(r, verdict(), 'debian-6.1-amd64', from);
      assert.deepEqual([v.status, v.phase], ['pass', 'load']);
      assert.equal(v.reason, 'debian-6.1-amd64 (6.1.0-50-amd64) refused a kernel module built for debian-5.10-amd64 (5.10.0-39-amd64): scap: disagrees about version of symbol module_layout');
      assert.deepEqual(control, { from: 'debian-5.10-amd64', fromRelease: '5.10.0-39-amd64', refused: true, message: 'scap: disagrees about version of symbol module_layout' });
      assert.equal(v.lines.length, 2);
    });

    it('another arch: the kernel names the foreign ELF machine (measured: 6.1 amd64, an arm64 module)', () => {
      const r = report(8, '[   35.186212] Invalid architecture in ELF header: 183\n[   36.031029] Invalid architecture in ELF header: 183\n', "insmod: can't insert '/kmatrix/scap.ko': invalid module format\n");
      const { verdict: v, control } = judgeControl(r, verdict(), 'debian-6.1-amd64', { id: 'debian-6.1-arm64-virt', release: '6.1.0-50-arm64', arch: 'arm64' });
      assert.deepEqual([v.status, v.phase], ['pass', 'load']);
      assert.deepEqual(control, { from: 'debian-6.1-arm64-virt', fromRelease: '6.1.0-50-arm64', fromArch: 'arm64', refused: true, message: 'Invalid architecture in ELF header: 183' });
    });

    it('any other insmod failure is an error (no evidence), in insmod\'s words: no file, EPERM, ENOMEM, a truncated module', () => {
      const cases: [string, string, string, RegExp][] = [
        ['', "insmod: can't read '/kmatrix/scap.ko': No such file or directory\n", '', /No such file or directory/],
        ['', "insmod: can't insert '/kmatrix/scap.ko': Operation not permitted\n", '', /Operation not permitted/],
        ['', "insmod: can't insert '/kmatrix/scap.ko': Cannot allocate memory\n", '', /Cannot allocate memory/],
        // ENOEXEC too, but the kernel says the file is broken, not foreign
        ['[    5.1] Invalid ELF header len 0\n', "insmod: can't insert '/kmatrix/scap.ko': invalid module format\n", '', /invalid module format/],
        ['', '', '', /insmod exit 1, with no words/],
      ];
      for (const [dmesg, insmod, , words] of cases) {
        const r = report(1, dmesg, insmod);
        const { verdict: v, control } = judgeControl(r, verdict(), 'debian-6.1-amd64', from);
        assert.deepEqual([v.status, v.phase], ['error', 'load'], insmod);
        assert.match(v.reason, /^the control's insmod failed \(exit 1\) without refusing the module as another kernel's: /);
        assert.match(v.reason, words);
        assert.equal(control.refused, undefined, 'neither refused nor accepted');
        assert.match(control.message!, words);
      }
      // the truncated module: the kernel's line is kept beside insmod's
      assert.deepEqual(judgeControl(report(1, '[    5.1] Invalid ELF header len 0\n', "insmod: can't insert 'x': invalid module format\n"), verdict(), 'b', from).verdict.lines, ["insmod: can't insert 'x': invalid module format", 'Invalid ELF header len 0']);
    });

    it("insmod's own line when the kernel said nothing", () => {
      const { verdict: v, control } = judgeControl(report(1, '', "insmod: can't insert '/kmatrix/scap.ko': invalid module format\n"), verdict(), 'b', from);
      assert.equal(v.status, 'pass');
      assert.equal(control.message, "insmod: can't insert '/kmatrix/scap.ko': invalid module format");
    });

    it('an accepted module fails at load, saying so', () => {
      const { verdict: v, control } = judgeControl(report(0), verdict({ reason: 'the guest stopped before reporting the capture' }), 'debian-6.1-amd64', from);
      assert.deepEqual([v.status, v.phase], ['fail', 'load']);
      assert.match(v.reason, /^kernel debian-6\.1-amd64 \(6\.1\.0-50-amd64\) accepted a kernel module built for debian-5\.10-amd64 \(5\.10\.0-39-amd64\)/);
      assert.equal(control.refused, false);
    });

    it('no answer from insmod, a crash or an infrastructure error keeps the ordinary verdict', () => {
      const silent = verdict({ reason: 'no answer from insmod' });
      assert.equal(judgeControl(report(undefined), silent, 'b', from).verdict, silent);
      assert.equal(judgeControl(report(undefined), silent, 'b', from).control.refused, undefined);
      const err = verdict({ status: 'error', phase: 'boot', reason: 'the guest did not reach init' });
      assert.equal(judgeControl(report(1), err, 'b', from).verdict, err);
      const crashed = { ...report(1), crash: { kind: 'oops' as const, headline: 'Oops: 0000', phase: 'load' as const, excerpt: '' } };
      assert.equal(judgeControl(crashed, silent, 'b', from).verdict.status, 'fail');
    });
  });

  describe('verdicts', () => {
    const KERNELS: Record<string, string> = { k510: '5.10.237', k61: '6.1.176', k612: '6.12.41' };
    const cell = (kernel: string, driver: DriverId, status: CellResult['status'], profile = 'host', extra: Partial<CellResult> = {}): CellResult => ({
      id: `${kernel}/${driver}@0.23.2/${profile}`,
      kernel: { id: kernel, version: KERNELS[kernel], release: `${KERNELS[kernel]}-amd64`, arch: 'amd64', machine: 'q35' },
      driver: { id: driver, source: '0.23.2' },
      profile,
      status,
      ...(status === 'pass' && !profile.startsWith('control-') ? { evidence: { events: 3, marker: true } } : {}),
      durations: {},
      logs: {},
      attempts: 1,
      ...extra,
    });
    const refused = (b: string, a: string, message = `scap: disagrees about version of symbol module_layout`): CellResult =>
      cell(b, 'kmod', 'pass', `control-from-${a}`, { phase: 'load', reason: `${b} refused …: ${message}`, control: { from: a, fromRelease: `${KERNELS[a]}-amd64`, refused: true, message } });
    const accepted = (b: string, a: string): CellResult =>
      cell(b, 'kmod', 'fail', `control-from-${a}`, { phase: 'load', reason: `kernel ${b} accepted a kernel module built for ${a}`, control: { from: a, refused: false } });
    /** k61 (amd64) refusing the module built for the arm64 kernel a61. */
    const crossRefused = (): CellResult =>
      cell('k61', 'kmod', 'pass', 'control-from-a61', { phase: 'load', reason: 'refused', control: { from: 'a61', fromRelease: '6.1.176-arm64', fromArch: 'arm64', refused: true, message: 'Invalid architecture in ELF header: 183' } });
    const table: RecommendedTable = { source: 't', platforms: [{ platform: 'P', recommended: 'kmod' }], claims: [{ id: 'kmod-tied-to-kernel', text: 'tied' }, { id: 'kmod-any-kernel', text: 'any' }] };
    const tied = (cells: CellResult[]) => claimVerdicts(table, cells)[0]!;

    it('kmod-tied-to-kernel: supported when every control that ran was refused, across versions and architectures, naming them', () => {
      const v = tied([refused('k61', 'k510'), refused('k612', 'k61', 'scap: version magic'), crossRefused(), cell('k510', 'kmod', 'skip', 'control-from-k612', { reason: 'no control: the module did not build', control: { from: 'k612' } }), cell('k61', 'kmod', 'pass')]);
      assert.equal(v.verdict, 'supported', v.why);
      assert.deepEqual(v.cells, ['k61/kmod@0.23.2/control-from-k510', 'k612/kmod@0.23.2/control-from-k61', 'k61/kmod@0.23.2/control-from-a61']);
      assert.match(
        v.why,
        /^every negative control that ran was refused, across versions and architectures: k61 \(6\.1\.176-amd64\) refused the module built for k510 \(5\.10\.237-amd64\) across version: scap: disagrees about version of symbol module_layout; k612 .* refused the module built for k61 .* across version: scap: version magic; k61 .* refused the module built for a61 \(6\.1\.176-arm64\) across architecture \(arm64 → amd64\): Invalid architecture in ELF header: 183$/,
      );
    });

    it('kmod-tied-to-kernel: untested when the controls crossed only one dimension of the claim', () => {
      const versions = tied([refused('k61', 'k510'), refused('k612', 'k61')]);
      assert.equal(versions.verdict, 'untested');
      assert.match(versions.why, /but none crossed the architecture \(matrix\.yaml controls: crossArch: true\)$/);
      assert.deepEqual(versions.cells, ['k61/kmod@0.23.2/control-from-k510', 'k612/kmod@0.23.2/control-from-k61']);
      const arch = tied([crossRefused()]);
      assert.equal(arch.verdict, 'untested');
      assert.match(arch.why, /but none crossed the version$/);
    });

    it('kmod-tied-to-kernel: a control whose insmod failed otherwise (error) is no evidence', () => {
      const missing = cell('k612', 'kmod', 'error', 'control-from-k61', {
        phase: 'load',
        reason: "the control's insmod failed (exit 1) without refusing the module as another kernel's: insmod: can't read '/kmatrix/scap.ko': No such file or directory",
        control: { from: 'k61', message: "insmod: can't read '/kmatrix/scap.ko': No such file or directory" },
      });
      const v = tied([missing]);
      assert.equal(v.verdict, 'untested');
      assert.match(v.why, /no negative control was refused or accepted \(1 skipped\/errored\/flaky cell\(s\): the control's insmod failed .*No such file or directory\)/);
      assert.deepEqual(v.cells, ['k612/kmod@0.23.2/control-from-k61']);
      // beside refusals of both kinds, it changes nothing: it is named, never counted
      const both = tied([refused('k61', 'k510'), crossRefused(), missing]);
      assert.equal(both.verdict, 'supported', both.why);
      assert.deepEqual(both.cells, ['k61/kmod@0.23.2/control-from-k510', 'k61/kmod@0.23.2/control-from-a61']);
    });

    it('kmod-tied-to-kernel: contradicted when one was accepted', () => {
      const v = tied([refused('k61', 'k510'), accepted('k612', 'k61')]);
      assert.equal(v.verdict, 'contradicted', v.why);
      assert.equal(v.why, 'k612 accepted the kernel module built for k61 (across version)');
      assert.deepEqual(v.cells, ['k612/kmod@0.23.2/control-from-k61']);
    });

    it('kmod-tied-to-kernel: untested without controls, or when none answered', () => {
      const none = tied([cell('k61', 'kmod', 'pass'), cell('k510', 'kmod', 'fail', 'host', { phase: 'load' })]);
      assert.equal(none.verdict, 'untested');
      assert.match(none.why, /^no negative control ran/);
      const skipped = tied([cell('k61', 'kmod', 'skip', 'control-from-k510', { reason: 'no control: the kernel module did not build for k510', control: { from: 'k510' } })]);
      assert.equal(skipped.verdict, 'untested');
      assert.match(skipped.why, /no negative control was refused or accepted \(1 skipped\/errored\/flaky cell\(s\): no control: the kernel module did not build for k510\)/);
      const crashed = tied([refused('k612', 'k61'), cell('k61', 'kmod', 'fail', 'control-from-k510', { phase: 'load', reason: 'kernel Oops while loading the driver', control: { from: 'k510' } })]);
      assert.equal(crashed.verdict, 'untested', 'a control that failed without insmod answering is not a refusal');
    });

    it('controls are never driver evidence: kernel outcomes, platforms, recommendations and the other claims set them aside', () => {
      const ctl = [refused('k61', 'k510'), refused('k612', 'k61'), accepted('k510', 'k612')];
      assert.ok(ctl.every((c) => isControl(c)));
      assert.ok(isControl({ profile: 'control-from-k1' }), 'an older result without the control field');
      assert.equal(kernelOutcome('k61', ctl).outcome, 'none');
      assert.equal(kernelOutcome('k510', [...ctl, cell('k510', 'kmod', 'pass')]).outcome, 'pass', "the accepted control's failure is not kmod's");
      const mapping = [{ platform: 'P', profile: 'host', kernels: ['k510', 'k61', 'k612'] }];
      // controls alone: the platform is untested, nothing recommended
      const [p] = platformVerdicts(table, mapping, ctl);
      assert.equal(p!.verdict, 'untested', p!.why);
      assert.equal(p!.evidenceRecommends, undefined);
      assert.ok(p!.evidence.every((e) => e.cells.length === 0), JSON.stringify(p!.evidence));
      // with driver cells: the same verdicts as without the controls
      const drivers = [cell('k510', 'kmod', 'pass'), cell('k61', 'kmod', 'pass'), cell('k612', 'kmod', 'fail', 'host', { phase: 'build', firstError: 'x' })];
      assert.deepEqual(platformVerdicts(table, mapping, [...drivers, ...ctl]), platformVerdicts(table, mapping, drivers));
      // today's recommendation: controls of today's sources are not its evidence either
      const today = { falco: '0.44.1', sources: ['0.23.2'], removed: {} };
      assert.equal(platformVerdicts(table, mapping, ctl, today)[0]!.today!.recommends, undefined);
      // the other claims
      const any = (cells: CellResult[]) => claimVerdicts(table, cells)[1]!;
      assert.deepEqual(any([...drivers, ...ctl]), any(drivers));
      assert.equal(any(ctl).why, 'no host kmod cell ran');
    });
  });

  describe('report', () => {
    it('shows the controls apart from the grid of driver evidence', () => {
      const run = { id: 'r1', startedAt: 'now', host: 'h', accel: 'tcg', kmatrixVersion: '0', matrix: { path: 'm', hash: 'x' }, mirror: 'http://m/debian', expiredSuitesAccepted: [] };
      const host: CellResult = { id: 'k61/kmod@0.23.2/host', kernel: { id: 'k61', version: '6.1.176', release: '6.1.0-50-amd64', arch: 'amd64', machine: 'q35' }, driver: { id: 'kmod', source: '0.23.2' }, profile: 'host', status: 'pass', durations: {}, logs: {}, attempts: 1 };
      const ctl: CellResult = {
        ...host,
        id: 'k61/kmod@0.23.2/control-from-k510',
        profile: 'control-from-k510',
        reason: 'refused',
        control: { from: 'k510', fromRelease: '5.10.0-39-amd64', refused: true, message: 'scap: disagrees about version of symbol <module_layout>' },
      };
      const html = renderReport({ run, cells: [host, ctl] });
      const section = html.slice(html.indexOf('<section id="controls">'));
      assert.ok(html.includes('<section id="controls"><h2>Negative controls</h2>'));
      assert.match(section, /<th class="k">k61<div class="rel">6\.1\.0-50-amd64<\/div><\/th><td>k510<div class="rel">5\.10\.0-39-amd64<\/div><\/td><td>0\.23\.2<\/td><td><span class="st pass">refused<\/span><\/td><td>scap: disagrees about version of symbol &lt;module_layout&gt;<\/td>/);
      assert.doesNotMatch(html, /Profile: control-from/, 'no grid for the controls');
      assert.doesNotMatch(html, /<option value="control-from-k510">/, 'nor a profile filter');
      assert.equal((html.match(/class="c" /g) ?? []).length, 1, 'only the driver cell is in the grid');
      assert.doesNotMatch(renderReport({ run, cells: [host] }), /Negative controls/);
    });
  });
});
