// Failure classes (harness/failures.ts), the behaviour mutation testing found
// unchecked: the fetch phase, the build log's own lines, the battery's
// counts, the precedence of the load rules, the infrastructure reasons, and
// the counts by class.
import assert from 'node:assert/strict';
import { classCounts, classOf, classify, isFailureClass, isKernelCrash, mayBeIntermittent, type Classifiable } from '../../harness/failures.js';

const fail = (phase: Classifiable['phase'], reason: string, firstError?: string): Classifiable => ({ status: 'fail', phase, reason, firstError });
const error = (reason: string): Classifiable => ({ status: 'error', phase: 'boot', reason });

describe('failure classes (mutants)', () => {
  it('a fetch failure is classed like a build one', () => {
    assert.equal(classify(fail('fetch', 'the source did not fetch', '/x.c:1:2: error: y')), 'build:compiler');
    assert.equal(classify(fail('fetch', 'nothing said')), 'build:other');
    assert.equal(classify(fail('build', 'Kernel version must be >= 4.14')), 'build:kernel-version-check', 'the reason when the first error says nothing');
  });

  it("the build log: only its error-looking lines, never the probe's configure chatter or expr's", () => {
    const r = fail('build', 'the kernel module did not build', 'build failed');
    assert.equal(classify(r, { build: 'cc foo.c\n/build/x.c:3:1: error: bad\n' }), 'build:compiler');
    assert.equal(classify(r, { build: '[configure-kmod] x.c:1:1: error: probe\n[configure-bpf] fatal error: y\n' }), 'build:other');
    assert.equal(classify(r, { build: 'expr: syntax error: unexpected argument\n' }), 'build:other');
    assert.equal(classify(r, { build: 'x.c:1: warning: w\nfatal error: nope.h: No such file\n' }), 'build:compiler');
    assert.equal(classify(r, { build: 'make exited 0 but built no scap.ko\n' }), 'build:no-artifact');
    assert.equal(classify(r, { build: 'Kernel version must be >= 4.14\n' }), 'build:kernel-version-check');
    assert.equal(classify(r, { build: 'the build system is broken\n' }), 'build:configure');
    const many = Array.from({ length: 250 }, (_, i) => `error ${i}`).join('\n');
    assert.equal(classify(r, { build: `${many}\nfatal error: late\n` }), 'build:other', 'the first 200 error lines only');
  });

  it("the battery's verdict: its first problem says which; else its counts", () => {
    const battery = (wrong: number, missing: number, first: string) => classify(fail('capture', `marker seen, but the battery has ${wrong} call(s) wrong and ${missing} missing`, first));
    assert.equal(battery(0, 0, 'battery: the battery printed nothing: kmbattery: x'), 'capture:other');
    assert.equal(battery(0, 2, 'battery: something else'), 'capture:missing-events');
    assert.equal(battery(2, 0, 'battery: something else'), 'capture:wrong-params');
    assert.equal(battery(1, 1, 'battery: read #6: no event'), 'capture:missing-events');
    assert.equal(classify(fail('capture', 'marker not found', 'wrong param 3')), 'capture:wrong-params');
    assert.equal(classify(fail('capture', 'marker not found in 3 captured event(s)')), 'capture:no-marker');
    assert.equal(classify(fail('capture', 'the capture said: marker not found')), 'capture:other');
    assert.equal(classify(fail('capture', 'x', "insmod: can't insert: Key was rejected by service")), 'load:signature', 'a load error seen at capture');
  });

  it('the load rules in order: signature before vermagic before permission; a verifier with its reason before permission', () => {
    assert.equal(classify(fail('load', 'x', 'Key was rejected by service: Invalid module format')), 'load:signature');
    assert.equal(classify(fail('load', 'x', 'Invalid module format: Operation not permitted')), 'load:vermagic');
    assert.equal(classify(fail('load', 'x', "libbpf: prog 'p': BPF program load failed: Operation not permitted — R1 invalid mem access")), 'load:verifier');
    assert.equal(classify(fail('load', 'x', "libbpf: prog 'p': BPF program load failed: Operation not permitted")), 'load:permission');
    assert.equal(classify(fail('load', 'x', 'could not parse param 3')), 'capture:corrupt-event');
    assert.equal(classify(fail('load', 'no answer from insmod')), 'load:timeout');
    assert.equal(classify(fail('load', 'kernel crashed while loading the module')), 'kernel:oops');
    assert.equal(classify(fail('load', 'kernel panic while loading the driver')), 'kernel:oops');
    assert.equal(classify(fail('load', 'the kernel panic while x')), 'load:other');
  });

  it('infrastructure: each reason its class', () => {
    const cases: [string, string][] = [
      ['boot timed out', 'infra:boot-timeout'],
      ['vagrant up did not finish within 600 s', 'infra:boot-timeout'],
      ['the kernel crashed before init reported (oops)', 'infra:boot-crash'],
      ['QEMU was ended from outside (SIGKILL) during load', 'infra:qemu-died'],
      ['the QEMU exited (code 1)', 'infra:qemu-died'],
      ['xQEMU exited', 'infra:other'],
      ['a harness error: x', 'infra:other'],
      ['the fetch failed: x', 'infra:other'],
      ['then the consumer did not build', 'infra:other'],
      ['SD card image failed: x', 'infra:tool'],
      ['libvirt could not be started', 'infra:tool'],
      ['vagrant up failed', 'infra:tool'],
      ['vagrant ssh ended', 'infra:tool'],
      ['the VM did not start', 'infra:tool'],
      ['the compiler was killed', 'infra:tool'],
      ['apt Timed Out', 'infra:tool'],
      ['the build Sandbox is gone', 'infra:tool'],
    ];
    for (const [reason, want] of cases) assert.equal(classify(error(reason)), want, reason);
    assert.equal(classify({ status: 'error', phase: 'boot' }), 'infra:other', 'no reason at all');
  });

  it("a flaky cell has no class; a result's own class is kept only where it did not pass", () => {
    assert.equal(classify({ status: 'flaky', phase: 'capture', reason: 'x' }), undefined);
    assert.equal(classOf({ status: 'pass', phase: 'capture', reason: 'ok', class: 'load:btf' }), 'load:btf');
    assert.equal(classOf({ status: 'error', phase: 'boot', reason: 'boot timed out' }), 'infra:boot-timeout');
    assert.equal(classOf({ status: 'error', phase: 'boot', reason: 'boot timed out', class: 'infra:tool' }), 'infra:tool');
  });

  it('counts by class, most first, then by name; passes not counted', () => {
    const cells: Classifiable[] = [
      fail('load', 'no answer from insmod'),
      error('boot timed out'),
      fail('load', 'no answer from insmod'),
      error('QEMU exited (code 1)'),
      { status: 'pass', phase: 'capture', reason: 'ok' },
      { status: 'skip', phase: 'fetch', reason: 'x' },
    ];
    assert.deepEqual(classCounts(cells), [
      ['load:timeout', 2],
      ['infra:boot-timeout', 1],
      ['infra:qemu-died', 1],
    ]);
    assert.deepEqual(classCounts([]), []);
  });

  it('run once more: a failure at load or capture, no kernel crash, of no deterministic class', () => {
    const dead = fail('capture', 'the consumer was killed by signal 9 (SIGKILL) during the battery');
    assert.equal(mayBeIntermittent(dead), true);
    assert.equal(mayBeIntermittent(fail('load', 'insmod failed (exit 1)', 'insmod: ERROR: could not insert module: Cannot allocate memory')), true, 'load:other');
    assert.equal(mayBeIntermittent(fail('load', 'insmod failed (exit 1)', 'insmod: ERROR: could not insert module: Invalid module format')), false, 'load:vermagic is deterministic');
    assert.equal(mayBeIntermittent({ ...dead, class: 'load:signature' }), false, 'the class it carries');
    assert.equal(mayBeIntermittent({ ...dead, class: 'capture:drops' }), true);
    assert.equal(mayBeIntermittent({ ...dead, class: 'no:such' }), true, 'an unknown class is no deterministic one');
    for (const phase of ['fetch', 'build', 'boot'] as const) assert.equal(mayBeIntermittent({ ...dead, phase }), false, phase);
    for (const status of ['pass', 'error', 'skip', 'flaky'] as const) assert.equal(mayBeIntermittent({ ...dead, status }), false, status);
    // a kernel crash: its class, or an excerpt kept with another reason
    assert.equal(mayBeIntermittent({ ...dead, oops: 'Oops: 0000 [#1] SMP' }), false);
    assert.equal(isKernelCrash({ ...dead, oops: 'Oops: 0000 [#1] SMP' }), true);
    assert.equal(isKernelCrash({ ...dead, oops: '' }), false);
    assert.equal(isKernelCrash(dead), false);
    assert.equal(isKernelCrash(fail('capture', 'kernel WARNING while capturing')), true);
    assert.equal(isKernelCrash({ ...dead, class: 'kernel:oops' }), true);
    assert.equal(isKernelCrash({ ...dead, status: 'error', oops: 'Oops' }), false, 'an error is no crash of the driver');
    assert.equal(isKernelCrash({ ...dead, status: 'pass', class: 'kernel:oops' }), false);
  });

  it("the crash and the consumer's death only as the judge words them", () => {
    assert.equal(classify(fail('load', 'kernel crashed while loading the module')), 'kernel:oops');
    assert.equal(classify(fail('load', 'no answer from insmod (kernel crashed?)')), 'load:timeout');
    assert.notEqual(classify(fail('capture', 'marker seen, but the consumer exited (code 1) during the battery run')), 'capture:consumer-died');
    assert.notEqual(classify(fail('capture', 'marker not found: the consumer exited (code 1) during the soak')), 'capture:consumer-died');
    assert.equal(classify(fail('capture', 'the consumer exited (code 1) during the soak')), 'capture:consumer-died');
  });

  it('a class name is one of the vocabulary, never an inherited property', () => {
    assert.equal(isFailureClass('load:btf'), true);
    assert.equal(isFailureClass('toString'), false);
    assert.equal(isFailureClass(3), false);
    assert.equal(isFailureClass('load:nope'), false);
  });
});
