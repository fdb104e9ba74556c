// A negative control on a real VM: the kernel module built for Debian's 5.10
// kernel, inserted into Debian's 6.1 kernel, must be refused — and the claim
// kmod-tied-to-kernel is judged supported from it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readResults } from '../../harness/results.js';
import { describeCell, endRuns, REPORTS, runMatrix } from './helpers.js';

describe('integration: negative controls', function () {
  // cold: both kernels, the 0.23.2 module for 5.10, sid's sysdig image
  this.timeout(30 * 60_000);
  const CONTROL = 'debian-6.1-amd64/kmod@0.23.2/control-from-debian-5.10-amd64';
  /** How a kernel says a module is not its own (insmod's words, or the kernel's in dmesg). */
  const REFUSAL = /Invalid module format|invalid module format|disagrees about version of symbol|version magic|no symbol version for|Exec format error/;
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    r = await runMatrix([CONTROL]);
  });

  after(endRuns);

  it("6.1 refuses 5.10's module: the control passes at load, in the kernel's words", () => {
    const c = r.byId.get(CONTROL)!;
    assert.deepEqual([c.status, c.phase], ['pass', 'load'], describeCell(c));
    assert.equal(c.control?.refused, true);
    assert.equal(c.control?.from, 'debian-5.10-amd64');
    assert.match(c.control!.fromRelease!, /^5\.10\./);
    assert.match(c.kernel.release!, /^6\.1\./, 'booted 6.1');
    assert.match(c.control!.message!, REFUSAL);
    assert.match(c.reason!, REFUSAL);
    assert.match(c.reason!, /^debian-6\.1-amd64 \(6\.1\.[^)]+\) refused a kernel module built for debian-5\.10-amd64 \(5\.10\./);
    assert.ok(c.evidence?.lines?.some((l) => REFUSAL.test(l)), JSON.stringify(c.evidence));
    assert.equal(c.evidence?.marker, false, 'no consumer, no capture');
  });

  it("the module inserted is the one built against 5.10's headers", () => {
    const c = r.byId.get(CONTROL)!;
    const log = readFileSync(path.join(REPORTS, r.run.id, c.logs.build!), 'utf8');
    assert.match(log.split('\n')[0]!, new RegExp(`-C /kernel/usr/src/linux-headers-${c.control!.fromRelease!.replace(/\./g, '\\.')} `));
    const console = readFileSync(path.join(REPORTS, r.run.id, c.logs.console!), 'utf8');
    assert.match(console, /KMATRIX v1 insmod rc=[1-9]/);
    assert.doesNotMatch(console, /KMATRIX v1 consumer started/, 'the guest stopped after insmod');
  });

  it('results.json judges kmod-tied-to-kernel supported from it, and no platform counts it', () => {
    const file = readResults(path.join(REPORTS, r.run.id, 'results.json'));
    const claim = file.verdicts!.claims.find((c) => c.id === 'kmod-tied-to-kernel')!;
    assert.equal(claim.verdict, 'supported', claim.why);
    assert.deepEqual(claim.cells, [CONTROL]);
    assert.match(claim.why, /debian-6\.1-amd64 .*refused the module built for debian-5\.10-amd64/);
    const kmodAny = file.verdicts!.claims.find((c) => c.id === 'kmod-any-kernel')!;
    assert.equal(kmodAny.verdict, 'untested');
    assert.ok(!kmodAny.cells.includes(CONTROL));
    for (const p of file.verdicts!.platforms) for (const e of p.evidence) assert.ok(!e.cells.includes(CONTROL), `${p.platform} counts the control`);
  });
});
