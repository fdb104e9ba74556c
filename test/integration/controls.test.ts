// Negative controls on real VMs: the kernel module built for Debian's 5.10
// kernel (another version) and the one built for Debian's 6.1 arm64 kernel
// (another architecture), inserted into Debian's 6.1 amd64 kernel, must be
// refused — and the claim kmod-tied-to-kernel is judged supported from them.
// Then the same control with a guest init that removes the module before
// insmod: insmod fails, but not as a refusal, so the control is an error
// (no evidence), in insmod's words, and the claim is untested.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadMatrix } from '../../harness/matrix.js';
import { GUEST_INIT } from '../../harness/paths.js';
import { readResults } from '../../harness/results.js';
import { describeCell, endRuns, REPORTS, runMatrix } from './helpers.js';

/** The real init behind a prelude that removes the kernel module the harness put in the guest. */
function moduleRemovingInit(file: string): void {
  const real = readFileSync(GUEST_INIT, 'utf8').replace(/^#!.*\n/, '');
  const prelude = ['#!/bin/busybox sh', 'echo "kmatrix test: removing $(/bin/busybox ls /kmatrix/*.ko)"', '/bin/busybox rm -f /kmatrix/*.ko', ''].join('\n');
  writeFileSync(file, prelude + real, { mode: 0o755 });
}

describe('integration: negative controls', function () {
  // cold: three kernels, the 0.23.2 module for 5.10 and for arm64 6.1, sid's sysdig image; then one boot more
  this.timeout(40 * 60_000);
  const CONTROL = 'debian-6.1-amd64/kmod@0.23.2/control-from-debian-5.10-amd64';
  const CROSS = 'debian-6.1-amd64/kmod@0.23.2/control-from-debian-6.1-arm64-virt';
  /** How a kernel says a module is not its own (insmod's words, or the kernel's in dmesg). */
  const REFUSAL = /Invalid module format|invalid module format|disagrees about version of symbol|version magic|no symbol version for|Exec format error|Invalid architecture in ELF header/;
  let r: Awaited<ReturnType<typeof runMatrix>>;
  let broken: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    r = await runMatrix([CONTROL, CROSS]);
    const work = mkdtempSync(path.join(tmpdir(), 'kmatrix-controls-'));
    moduleRemovingInit(path.join(work, 'init'));
    process.env.KMATRIX_GUEST_INIT = path.join(work, 'init');
    try {
      // one attempt: an error would be retried as infrastructure, the same way
      broken = await runMatrix([CONTROL], loadMatrix('matrix.yaml'), 1);
    } finally {
      delete process.env.KMATRIX_GUEST_INIT;
    }
  });

  after(endRuns);

  it("6.1 refuses 5.10's module: the control passes at load, in the kernel's words", () => {
    const c = r.byId.get(CONTROL)!;
    assert.deepEqual([c.status, c.phase], ['pass', 'load'], describeCell(c));
    assert.equal(c.control?.refused, true);
    assert.equal(c.control?.from, 'debian-5.10-amd64');
    assert.equal(c.control?.fromArch, undefined, 'the same arch');
    assert.match(c.control!.fromRelease!, /^5\.10\./);
    assert.match(c.kernel.release!, /^6\.1\./, 'booted 6.1');
    assert.match(c.control!.message!, REFUSAL);
    assert.match(c.reason!, REFUSAL);
    assert.match(c.reason!, /^debian-6\.1-amd64 \(6\.1\.[^)]+\) refused a kernel module built for debian-5\.10-amd64 \(5\.10\./);
    assert.ok(c.evidence?.lines?.some((l) => REFUSAL.test(l)), JSON.stringify(c.evidence));
    assert.equal(c.evidence?.marker, false, 'no consumer, no capture');
  });

  it("6.1 amd64 refuses 6.1 arm64's module: the cross-arch control passes at load, the kernel naming the foreign machine", () => {
    const c = r.byId.get(CROSS)!;
    assert.deepEqual([c.status, c.phase], ['pass', 'load'], describeCell(c));
    assert.deepEqual([c.control?.refused, c.control?.from, c.control?.fromArch], [true, 'debian-6.1-arm64-virt', 'arm64']);
    assert.match(c.control!.fromRelease!, /^6\.1\..*-arm64$/);
    assert.match(c.kernel.release!, /^6\.1\..*-amd64$/);
    // the kernel's own words (6.1's module loader checks the ELF machine before anything else)
    assert.match(c.control!.message!, /^Invalid architecture in ELF header: 183$/, 'EM_AARCH64 is 183');
    const log = readFileSync(path.join(REPORTS, r.run.id, c.logs.build!), 'utf8');
    assert.match(log.split('\n')[0]!, new RegExp(`-C /kernel/usr/src/linux-headers-${c.control!.fromRelease!.replace(/\./g, '\\.')} `), "built against arm64's headers");
  });

  it("the module inserted is the one built against 5.10's headers", () => {
    const c = r.byId.get(CONTROL)!;
    const log = readFileSync(path.join(REPORTS, r.run.id, c.logs.build!), 'utf8');
    assert.match(log.split('\n')[0]!, new RegExp(`-C /kernel/usr/src/linux-headers-${c.control!.fromRelease!.replace(/\./g, '\\.')} `));
    const console = readFileSync(path.join(REPORTS, r.run.id, c.logs.console!), 'utf8');
    assert.match(console, /KMATRIX v1 insmod rc=[1-9]/);
    assert.doesNotMatch(console, /KMATRIX v1 consumer started/, 'the guest stopped after insmod');
  });

  it('results.json judges kmod-tied-to-kernel supported from both, across version and architecture, and no platform counts them', () => {
    const file = readResults(path.join(REPORTS, r.run.id, 'results.json'));
    const claim = file.verdicts!.claims.find((c) => c.id === 'kmod-tied-to-kernel')!;
    assert.equal(claim.verdict, 'supported', claim.why);
    assert.deepEqual([...claim.cells].sort(), [CONTROL, CROSS].sort());
    assert.match(claim.why, /debian-6\.1-amd64 .*refused the module built for debian-5\.10-amd64 .*across version: /);
    assert.match(claim.why, /debian-6\.1-amd64 .*refused the module built for debian-6\.1-arm64-virt .*across architecture \(arm64 → amd64\): Invalid architecture in ELF header/);
    const kmodAny = file.verdicts!.claims.find((c) => c.id === 'kmod-any-kernel')!;
    assert.equal(kmodAny.verdict, 'untested');
    assert.ok(!kmodAny.cells.includes(CONTROL) && !kmodAny.cells.includes(CROSS));
    for (const p of file.verdicts!.platforms) for (const e of p.evidence) assert.ok(!e.cells.includes(CONTROL) && !e.cells.includes(CROSS), `${p.platform} counts a control`);
  });

  it("an insmod failure that is no refusal (the module file gone) makes the control an error, in insmod's words — never a pass", () => {
    const c = broken.byId.get(CONTROL)!;
    assert.deepEqual([c.status, c.phase, c.attempts], ['error', 'load', 1], describeCell(c));
    assert.match(c.reason!, /^the control's insmod failed \(exit [1-9]\d*\) without refusing the module as another kernel's: insmod: .*No such file or directory/);
    assert.equal(c.control?.refused, undefined, 'neither refused nor accepted');
    assert.match(c.control!.message!, /No such file or directory/);
    assert.match(c.class!, /^infra:/, 'no evidence: an error, not a driver failure');
    const console = readFileSync(path.join(REPORTS, broken.run.id, c.logs.console!), 'utf8');
    assert.match(console, /kmatrix test: removing \/kmatrix\/\S+\.ko/, 'the prelude ran and found the module');
    assert.match(console, /KMATRIX v1 insmod rc=[1-9]/);
    const claim = readResults(path.join(REPORTS, broken.run.id, 'results.json')).verdicts!.claims.find((x) => x.id === 'kmod-tied-to-kernel')!;
    assert.equal(claim.verdict, 'untested', claim.why);
    assert.match(claim.why, /no negative control was refused or accepted .*No such file or directory/);
  });
});
