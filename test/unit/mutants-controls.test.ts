// Negative controls (harness/controls.ts), the behaviour mutation testing
// found unchecked: the control's profile, telling a control apart, the pairs
// of kernels, the kernel's refusal lines and the verdict's edge cases.
import assert from 'node:assert/strict';
import { controlFromProfile, controlPairs, controlProfile, isControl, isRefusal, judgeControl, refusalLines } from '../../harness/controls.js';
import type { GuestReport, GuestVerdict } from '../../harness/guest.js';
import type { KernelSpec } from '../../harness/types.js';

const kernel = (id: string, arch: KernelSpec['arch'], pkg: string, image?: string): KernelSpec => ({
  id,
  arch,
  machine: 'q35',
  source: { kind: 'debian', package: pkg } as KernelSpec['source'],
  ...(image ? { image } : {}),
});
const pairs = (ks: KernelSpec[]) => controlPairs(ks).map((p) => `${p.kernel.id}<-${p.from.id}`);

describe('negative controls (mutants)', () => {
  it("a control's profile names the module's kernel, and reads back", () => {
    const p = controlProfile('debian-5.10-amd64');
    assert.equal(p.id, 'control-from-debian-5.10-amd64');
    assert.match(p.description!, /built for debian-5\.10-amd64/);
    assert.match(p.description!, /must be refused/);
    assert.equal(controlFromProfile(p.id), 'debian-5.10-amd64');
    assert.equal(controlFromProfile('host'), undefined);
    assert.equal(controlFromProfile('x-control-from-a'), undefined, 'the prefix only at the start');
    assert.doesNotMatch(p.description!, /another architecture/);
    assert.match(controlProfile('debian-12-arm64', 'arm64').description!, /built for debian-12-arm64 \(arm64: another architecture\), inserted/);
  });

  it('a control is told by its facts or, in older results, by its profile alone', () => {
    assert.equal(isControl({ profile: 'host' }), false);
    assert.equal(isControl({ profile: 'host', control: { from: 'a' } }), true);
    assert.equal(isControl({ profile: 'control-from-a' }), true);
  });

  it('pairs: each kernel gets the module of the kernel of its arch before it, wrapping; a lone arch none', () => {
    const a = kernel('a', 'amd64', 'linux-a');
    const b = kernel('b', 'amd64', 'linux-b');
    const c = kernel('c', 'amd64', 'linux-c');
    const x = kernel('x', 'arm64', 'linux-x');
    assert.deepEqual(pairs([a, x, b, c]), ['a<-c', 'b<-a', 'c<-b']);
    assert.deepEqual(pairs([a, b]), ['a<-b', 'b<-a'], 'two kernels: each the other');
    assert.deepEqual(pairs([a]), []);
    assert.deepEqual(pairs([x, a]), [], 'one kernel of each arch: no pair');
  });

  it('pairs: the same packages on another machine are one kernel; another arch or image is another', () => {
    const a = kernel('a', 'amd64', 'linux-a');
    const aAgain = { ...kernel('a-pi', 'amd64', 'linux-a'), machine: 'other' };
    const b = kernel('b', 'amd64', 'linux-b');
    assert.deepEqual(pairs([a, aAgain, b]), ['a<-b', 'b<-a']);
    const patched = kernel('a-patched', 'amd64', 'linux-a', '/images/patched');
    assert.deepEqual(pairs([a, patched]), ['a<-a-patched', 'a-patched<-a']);
    const otherArch = kernel('a-arm', 'arm64', 'linux-a');
    assert.deepEqual(pairs([a, otherArch]), []);
    // across arches: the same line only, a patched image being another line
    const cross = (ks: KernelSpec[]) => controlPairs(ks, true).filter((p) => p.crossed === 'arch').map((p) => `${p.kernel.id}<-${p.from.id}`);
    assert.deepEqual(cross([a, otherArch]), ['a<-a-arm', 'a-arm<-a']);
    assert.deepEqual(cross([patched, otherArch]), [], 'a patched image is another line than the stock one');
  });

  describe('refusal lines', () => {
    const lines = (dmesg?: string, insmod?: string) => refusalLines({ logs: { ...(dmesg !== undefined ? { dmesg } : {}), ...(insmod !== undefined ? { insmod } : {}) } });

    it("the kernel's lines trimmed before their timestamp is taken off", () => {
      assert.deepEqual(lines('   [  12.5] scap: version magic x  '), ['scap: version magic x']);
    });

    it("the kernel's refusals without their timestamp, then insmod's lines, each once", () => {
      assert.deepEqual(lines('[  123.456789] scap: version magic \'6.1\' should be \'5.10\'\n[1.5]Unknown symbol x (err -2)\nrandom: crng init done', '  insmod: ERROR: Invalid module format  \n\n'), [
        "scap: version magic '6.1' should be '5.10'",
        'Unknown symbol x (err -2)',
        'insmod: ERROR: Invalid module format',
      ]);
      assert.deepEqual(lines('scap: Invalid module format', 'scap: Invalid module format'), ['scap: Invalid module format']);
      assert.deepEqual(lines(), []);
      assert.deepEqual(lines('', ''), []);
    });

    it('a bracket later in the line is not a timestamp', () => {
      assert.deepEqual(lines('scap: no symbol version for [module_layout] [1.0]'), ['scap: no symbol version for [module_layout] [1.0]']);
      assert.deepEqual(lines('[  1.0] [2.0] scap: Unknown symbol x'), ['[2.0] scap: Unknown symbol x']);
    });

    it("at most five of the kernel's and three of insmod's", () => {
      const dmesg = Array.from({ length: 8 }, (_, i) => `[${i}.0] scap: disagrees about version of symbol s${i}`).join('\n');
      const insmod = Array.from({ length: 5 }, (_, i) => `insmod: line ${i}: Invalid module format`).join('\n');
      const got = lines(dmesg, insmod);
      assert.deepEqual(got, [0, 1, 2, 3, 4].map((i) => `scap: disagrees about version of symbol s${i}`).concat([0, 1, 2].map((i) => `insmod: line ${i}: Invalid module format`)));
    });

    it("every way a kernel says a module is not its own; insmod's ENOEXEC words only from insmod", () => {
      const kernelSays = ['version magic x', 'disagrees about version of symbol y', 'no symbol version for z', 'Unknown symbol w', 'Invalid architecture in ELF header', 'module_layout'];
      const insmodSays = ['Invalid module format', 'Exec format error'];
      for (const l of kernelSays) {
        assert.deepEqual(lines(l), [l], l);
        assert.deepEqual(lines(l.toUpperCase()), [l.toUpperCase()], `${l}: any case`);
        assert.equal(isRefusal({ logs: { dmesg: l } }), true, l);
      }
      for (const l of insmodSays) {
        assert.deepEqual(lines(undefined, l), [l], l);
        assert.deepEqual(lines(undefined, l.toLowerCase()), [l.toLowerCase()], `${l}: any case`);
        assert.deepEqual(lines(l), [], `${l} in dmesg is not the kernel's refusal`);
        assert.equal(isRefusal({ logs: { insmod: l } }), true, l);
      }
      // insmod's other failures, and the kernel's own words in insmod's log, are no refusal
      for (const l of ['invalid ELF header', 'module has bad taint', 'ENOEXEC', 'No such file or directory', 'version magic x'])
        assert.deepEqual([lines(undefined, l), isRefusal({ logs: { insmod: l } })], [[], false], l);
    });

    it('ENOEXEC from insmod is no refusal when the kernel says the file itself is broken', () => {
      for (const broken of ['Invalid ELF header len 0', 'Invalid ELF header magic', 'Invalid ELF header type', 'Module len 5 truncated', 'Invalid ELF section header', 'scap.ko: not an ELF file'])
        assert.equal(isRefusal({ logs: { dmesg: `[  3.0] ${broken}`, insmod: 'insmod: Invalid module format' } }), false, broken);
      assert.equal(isRefusal({ logs: { dmesg: '[  3.0] random: crng init done', insmod: 'insmod: Invalid module format' } }), true);
      // the kernel's own refusal wins over a broken file
      assert.equal(isRefusal({ logs: { dmesg: 'Invalid ELF header len 0\nscap: version magic x', insmod: '' } }), true);
      assert.equal(isRefusal({ logs: {} }), false);
    });
  });

  describe('the verdict', () => {
    const verdict = (over: Partial<GuestVerdict> = {}): GuestVerdict => ({ status: 'fail', phase: 'load', reason: 'insmod failed (exit 1)', events: 0, marker: false, lines: [], ...over });
    const report = (over: Partial<GuestReport> = {}): GuestReport => ({ boot: { release: '6.1.0-50-amd64', btime: 1 }, insmod: { rc: 1 }, loops: {}, logs: {}, done: true, ...over });

    it("insmod failing when neither the kernel nor insmod said why: an error (no evidence), with insmod's exit code", () => {
      const { verdict: v, control } = judgeControl(report({ boot: { release: '', btime: 1 }, insmod: { rc: 2 } }), verdict({ oops: 'WARNING: x' }), 'kb', { id: 'ka' });
      assert.equal(v.status, 'error');
      assert.equal(v.phase, 'load');
      assert.equal(v.reason, "the control's insmod failed (exit 2) without refusing the module as another kernel's: insmod exit 2, with no words");
      assert.deepEqual(control, { from: 'ka', message: 'insmod exit 2, with no words' }, 'neither refused nor accepted');
      assert.equal(v.events, 0);
      assert.equal(v.marker, false);
      assert.deepEqual(v.lines, []);
      assert.equal(v.oops, 'WARNING: x', "the guest's crash text is kept");
      // a refusal without the kernel's release names the kernel alone; it saw no marker
      const refused = judgeControl(report({ boot: { release: '', btime: 1 }, logs: { dmesg: 'scap: version magic x' } }), verdict({ marker: true, events: 3 }), 'kb', { id: 'ka' }).verdict;
      assert.deepEqual([refused.status, refused.reason, refused.marker, refused.events], ['pass', 'kb refused a kernel module built for ka: scap: version magic x', false, 0]);
      // insmod's first three lines, then the kernel's first two about a broken file
      const said = judgeControl(report({ logs: { insmod: 'i1\ni2\ni3\ni4', dmesg: 'Module len 1 truncated\nInvalid ELF header len 0\nnot an ELF x' } }), verdict(), 'kb', { id: 'ka' }).verdict;
      assert.deepEqual(said.lines, ['i1', 'i2', 'i3', 'Module len 1 truncated', 'Invalid ELF header len 0']);
      assert.equal(said.marker, false);
    });

    it('an accepted module: the kernel\'s line is its first error, never insmod\'s', () => {
      const r = report({ insmod: { rc: 0 }, logs: { dmesg: '[1.0] scap: module_layout checked', insmod: 'insmod: ok' } });
      const { verdict: v, control } = judgeControl(r, verdict(), 'kb', { id: 'ka', release: '5.10' });
      assert.equal(v.status, 'fail');
      assert.equal(v.phase, 'load');
      assert.equal(v.reason, 'kernel kb (6.1.0-50-amd64) accepted a kernel module built for ka (5.10) (insmod exit 0): the load phase cannot tell a foreign module');
      assert.equal(v.firstError, 'scap: module_layout checked');
      assert.deepEqual(control, { from: 'ka', fromRelease: '5.10', refused: false, message: 'scap: module_layout checked' });
      assert.deepEqual(v.lines, ['scap: module_layout checked'], "insmod's line says no refusal");
      // the first of the kernel's lines that is a refusal's words, never a line of insmod's echoed in dmesg
      const later = judgeControl(report({ insmod: { rc: 0 }, logs: { dmesg: 'random: crng init done\ninsmod: module_layout x\n[1.0] scap: module_layout checked (loaded by insmod)' } }), verdict(), 'kb', { id: 'ka' });
      assert.equal(later.verdict.firstError, 'scap: module_layout checked (loaded by insmod)');
      assert.equal(later.verdict.marker, false);
      const quiet = judgeControl(report({ insmod: { rc: 0 }, logs: { insmod: 'insmod: ok' } }), verdict(), 'kb', { id: 'ka' });
      assert.equal('firstError' in quiet.verdict, false);
      assert.deepEqual(quiet.control, { from: 'ka', refused: false });
    });

    it('insmod with no exit code, or a crash after boot, keeps the ordinary verdict; a crash at boot does not', () => {
      const v = verdict({ reason: 'kernel Oops while loading the driver' });
      const nan = judgeControl(report({ insmod: { rc: NaN } }), v, 'kb', { id: 'ka' });
      assert.equal(nan.verdict, v);
      assert.deepEqual(nan.control, { from: 'ka' });
      const crash = (phase: 'boot' | 'load' | 'capture') => ({ kind: 'oops' as const, headline: 'Oops', phase, excerpt: '' });
      assert.equal(judgeControl(report({ crash: crash('load') }), v, 'kb', { id: 'ka' }).verdict, v);
      assert.equal(judgeControl(report({ crash: crash('capture') }), v, 'kb', { id: 'ka' }).verdict, v);
      const atBoot = judgeControl(report({ crash: crash('boot'), logs: { dmesg: '[1.0] scap: version magic x' } }), v, 'kb', { id: 'ka' }).verdict;
      assert.deepEqual([atBoot.status, atBoot.reason], ['pass', 'kb (6.1.0-50-amd64) refused a kernel module built for ka: scap: version magic x']);
      const err = verdict({ status: 'error' });
      assert.equal(judgeControl(report(), err, 'kb', { id: 'ka' }).verdict, err);
      assert.equal(judgeControl(report({ insmod: { rc: 0 } }), err, 'kb', { id: 'ka' }).verdict, err);
    });
  });
});
