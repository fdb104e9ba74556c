// Reliability pieces without a VM: results lines and resume state, pid files
// and leftovers, the cache's usage and pruning, -j auto.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { prunePlan } from '../../harness/cache/usage.js';
import { UserError } from '../../harness/errors.js';
import { processStart, reapLeftovers, writePidFile } from '../../harness/leftovers.js';
import { readResultLines, resumeState } from '../../harness/results.js';
import { DETERMINISTIC_CLASSES, FAILURE_CLASS_NAMES, classify, isKernelCrash, mayBeIntermittent } from '../../harness/failures.js';
import { claimRunId, flakyOrNot } from '../../harness/run.js';
import { autoJobs } from '../../harness/scheduler.js';
import { tempDir } from '../tmp.js';
import type { CellResult, FailureClass, Phase } from '../../harness/types.js';

const tmp = (p: string) => tempDir(`kmatrix-${p}-`);
const cell = (id: string, status = 'pass') => ({ id, status, kernel: { id: 'k', arch: 'amd64', machine: 'q35' }, driver: { id: 'kmod', source: 's' }, profile: 'host', durations: {}, logs: {}, attempts: 1 });

describe('reliability', () => {
  it('runs started in the same second get directories of their own (-2, -3…), made when the id is given', async () => {
    const reports = path.join(tempDir('km-runid-'), 'reports');
    const at = new Date('2026-12-02T17:04:02.345Z');
    const ids = await Promise.all([claimRunId(reports, at), claimRunId(reports, at), claimRunId(reports, at)]);
    assert.deepEqual([...ids].sort(), ['20261202-170402Z', '20261202-170402Z-2', '20261202-170402Z-3']);
    for (const id of ids) assert.ok(existsSync(path.join(reports, id)));
    assert.equal(await claimRunId(reports, new Date('2026-12-02T17:04:03Z')), '20261202-170403Z');
  });

  it('results.jsonl: one result per cell (the last wins), a torn last line ignored', () => {
    const f = path.join(tmp('jsonl'), 'results.jsonl');
    writeFileSync(f, [cell('a', 'error'), cell('b'), cell('a')].map((c) => JSON.stringify(c)).join('\n') + '\n{"id":"c","sta');
    assert.deepEqual(readResultLines(f).map((c) => [c.id, c.status]), [['a', 'pass'], ['b', 'pass']]);
  });

  it('resume: the run asked for, what finished; the jsonl rewritten whole; an unknown run is a UserError', async () => {
    const reports = tmp('reports');
    const dir = path.join(reports, 'R1');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ run: { id: 'R1', matrix: { path: 'm.yaml', hash: 'h' } }, cells: ['a', 'b', 'c'] }));
    writeFileSync(path.join(dir, 'results.jsonl'), JSON.stringify(cell('b')) + '\n' + JSON.stringify(cell('zz')) + '\n{"torn');
    const r = await resumeState(reports, 'R1');
    assert.deepEqual([r.cells, r.previous.map((c) => c.id)], [['a', 'b', 'c'], ['b']]);
    assert.equal(readFileSync(path.join(dir, 'results.jsonl'), 'utf8'), JSON.stringify(cell('b')) + '\n');
    await assert.rejects(resumeState(reports, 'nope'), (e) => e instanceof UserError && /Cannot resume run nope/.test(e.message));
  });

  it("leftovers: a VM whose harness is gone is ended; a live harness's and a reused pid are left alone", async () => {
    const reports = tmp('leftovers');
    const pids = path.join(reports, 'R', 'pids');
    const stray = spawn('sleep', ['60'], { stdio: 'ignore' });
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !(processStart(stray.pid!) && processStart(other.pid!)); i++) await new Promise((r) => setTimeout(r, 20));
      // ours (this process is alive): kept
      await writePidFile(pids, other.pid!, 'sleep of a live harness');
      // a dead harness's, pid and start time matching: ended
      writeFileSync(path.join(pids, String(stray.pid)), JSON.stringify({ pid: stray.pid, start: processStart(stray.pid!), harness: 999999999, harnessStart: '1', what: 'stray' }));
      // a dead harness's, pid reused (other start time): not touched, file removed
      writeFileSync(path.join(pids, '1'), JSON.stringify({ pid: 1, start: 'not-init', harness: 999999999, harnessStart: '1', what: 'reused' }));
      const ended = await reapLeftovers(reports);
      assert.deepEqual(ended, [`R: pid ${stray.pid} (stray)`]);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stray.signalCode, 'SIGKILL');
      assert.equal(other.exitCode ?? other.signalCode, null, 'the live harness’s process runs on');
      assert.deepEqual([existsSync(path.join(pids, '1')), existsSync(path.join(pids, String(other.pid)))], [false, true]);
    } finally {
      stray.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });

  it('cache prune: what none of the last N runs used goes, and dead processes’ half-made entries; no usage yet is a UserError', () => {
    const root = tmp('cache');
    for (const e of ['kernels/aa', 'kernels/bb', 'builds/cc', 'builds/dd.tmp-999999999', 'apt/bookworm-amd64-x/debs']) mkdirSync(path.join(root, e), { recursive: true });
    writeFileSync(path.join(root, 'apt/bookworm-amd64-x/debs/used.deb'), '');
    writeFileSync(path.join(root, 'apt/bookworm-amd64-x/debs/old.deb'), '');
    assert.throws(() => prunePlan(5, root), UserError);
    mkdirSync(path.join(root, 'usage'));
    writeFileSync(path.join(root, 'usage/R1.json'), JSON.stringify(['kernels/aa', 'apt/bookworm-amd64-x/debs/used.deb']));
    const plan = prunePlan(5, root);
    assert.deepEqual(plan.remove.sort(), ['apt/bookworm-amd64-x/debs/old.deb', 'builds/cc', 'builds/dd.tmp-999999999', 'kernels/bb']);
    assert.equal(plan.keep, 2);
  });

  it('-j auto: one per core, fewer when memory is short, at least one', () => {
    const q35 = [{ kernel: { machine: 'q35' } }, { kernel: { machine: 'q35' } }, { kernel: { machine: 'q35' } }] as never[];
    assert.equal(autoJobs(q35, 2, 16_000), 2);
    assert.equal(autoJobs(q35, 8, 4_000), 2, 'memory: 1 GiB guest + QEMU and a build per slot');
    assert.equal(autoJobs(q35, 8, 500), 1);
    assert.equal(autoJobs(q35.slice(0, 1), 8, 64_000), 1, 'no more slots than cells');
  });

  describe('run once more, or not: a failure that may be intermittent is, a deterministic one or a kernel crash never', () => {
    // as runCell finalizes a result: its class from classify()
    const failed = (phase: Phase, reason: string, firstError: string, extra: Partial<CellResult> = {}): CellResult => {
      const r = { ...cell('k6.1/kmod@1/host', 'fail'), phase, reason, firstError, ...extra } as CellResult;
      return { ...r, class: classify(r)! };
    };
    const oops = failed('load', 'kernel Oops while loading the driver', 'BUG: kernel NULL pointer dereference, address: 0000000000000000', { oops: 'BUG: kernel NULL pointer dereference\nRIP: kmatrix_fault_init+0x5/0x10 [scap]' });

    it('a kernel Oops, BUG, panic or WARNING (its class, or an oops excerpt) is never run again', () => {
      assert.equal(oops.class, 'kernel:oops');
      assert.equal(mayBeIntermittent(oops), false);
      assert.equal(mayBeIntermittent(failed('capture', 'kernel WARNING while capturing', 'WARNING: CPU: 0 PID: 1 at kernel/x.c:1')), false);
      assert.equal(mayBeIntermittent(failed('load', 'kernel crashed while loading the module', 'Kernel panic - not syncing: Fatal exception')), false);
      // an oops excerpt kept with another reason (a result of another shape) is a crash too
      const excerpt = failed('capture', 'the consumer was killed by signal SIGSEGV', '', { oops: 'Oops: 0000 [#1] SMP' });
      assert.equal(excerpt.class, 'capture:consumer-died');
      assert.equal(isKernelCrash(excerpt), true);
      assert.equal(mayBeIntermittent(excerpt), false);
    });

    it('a kernel crash is never flaky: the first run\'s failure stands, whatever came after', () => {
      const after = { ...cell('k6.1/kmod@1/host', 'pass'), reason: 'marker seen' } as CellResult;
      const r = flakyOrNot(oops, after);
      assert.equal(r.status, 'fail');
      assert.equal(r.class, 'kernel:oops');
      assert.equal(r.oops, oops.oops);
      // an ordinary failure that passes the second time is flaky (the rule above is not everything's)
      assert.equal(flakyOrNot(failed('capture', 'the consumer was killed by signal SIGBUS', ''), after).status, 'flaky');
    });

    it('deterministic classes are run once: the build, the verifier, BTF, a map type, a signature, vermagic, the API', () => {
      const once: [Phase, string, string, FailureClass][] = [
        ['build', 'the kernel module did not build', "/build/main.c:1:2: error: implicit declaration of function 'fd_is_open'", 'build:compiler'],
        ['build', 'the eBPF probe did not build', '/build/bpf/quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled', 'build:kernel-version-check'],
        ['build', 'the eBPF probe did not build', 'make exited 0 but built no bpf/probe.o', 'build:no-artifact'],
        ['load', 'the consumer exited (code 13) without capturing', "libbpf: prog 'signal_deliver': failed to load: -13 — R9 invalid mem access 'scalar'", 'load:verifier'],
        ['load', 'the consumer exited (code 7) without capturing', 'libbpf: prog too large: program is too large (1000001 insns)', 'load:verifier-limit'],
        ['load', 'the consumer exited (code 22) without capturing', 'libbpf: failed to find valid kernel BTF', 'load:btf'],
        ['load', 'the consumer exited (code 95) without capturing', 'libpman: ring buffer map type is not supported (errno: 22 | message: Invalid argument)', 'load:unsupported-map'],
        ['load', 'the consumer exited (code 1) without capturing', 'Kernel version must be >= 4.14 with eBPF enabled', 'load:kernel-version-check'],
        ['load', 'insmod failed (exit 1)', "insmod: can't insert '/kmatrix/scap.ko': Key was rejected by service", 'load:signature'],
        ['load', 'insmod failed (exit 1)', "insmod: can't insert '/kmatrix/scap.ko': Required key not available", 'load:signature'],
        ['load', 'insmod failed (exit 1)', "insmod: can't insert '/kmatrix/scap.ko': Invalid module format", 'load:vermagic'],
        ['load', 'the consumer exited (code 1) without capturing', 'Driver supports API version 1.0.0, but running version needs 8.0.0', 'load:api-mismatch'],
      ];
      for (const [phase, reason, first, cls] of once) {
        const r = failed(phase, reason, first);
        assert.equal(r.class, cls, first);
        assert.ok(DETERMINISTIC_CLASSES.has(cls), cls);
        assert.equal(mayBeIntermittent(r), false, `${cls} is run once`);
        // a result without its class (written before classes) is classed the same way
        assert.equal(mayBeIntermittent({ ...r, class: undefined }), false, `${cls}, computed`);
      }
      for (const c of FAILURE_CLASS_NAMES.filter((k) => k.startsWith('build:'))) assert.ok(DETERMINISTIC_CLASSES.has(c), `every build class: ${c}`);
    });

    it('other load and capture failures are run once more (they may be intermittent); passes, skips and errors are not', () => {
      const again: [Phase, string, string, FailureClass][] = [
        ['load', 'no answer from insmod', '', 'load:timeout'],
        ['load', 'the consumer exited (code 1) without capturing', 'unable to mmap the perf-buffer for cpu 0: Cannot allocate memory', 'load:mmap'],
        ['load', 'insmod failed (exit 1)', "insmod: can't insert '/kmatrix/scap.ko': Operation not permitted", 'load:permission'],
        ['load', 'the consumer exited (code 1) without capturing', 'Unable to load the BPF probe', 'load:other'],
        ['capture', 'the consumer was killed by signal SIGBUS', '', 'capture:consumer-died'],
        ['capture', 'the battery has 0 call(s) wrong and 19 missing', 'battery: mkdirat #1: no event', 'capture:missing-events'],
        ['capture', 'the consumer could not parse events', 'corrupted filler for event type 293 (added 19 args, should have added 20)', 'capture:corrupt-event'],
        ['capture', 'marker not found in 12 events', '', 'capture:no-marker'],
      ];
      for (const [phase, reason, first, cls] of again) {
        const r = failed(phase, reason, first);
        assert.equal(r.class, cls, reason);
        assert.ok(!DETERMINISTIC_CLASSES.has(cls));
        assert.equal(mayBeIntermittent(r), true, `${cls} is run once more`);
      }
      assert.equal(mayBeIntermittent(cell('a') as CellResult), false);
      assert.equal(mayBeIntermittent({ ...cell('a', 'skip'), reason: 'no engine' } as CellResult), false);
      assert.equal(mayBeIntermittent({ ...cell('a', 'error'), phase: 'load', reason: 'QEMU was ended from outside (signal SIGKILL) during load' } as CellResult), false, 'an infrastructure error is retried, not run once more');
    });
  });
});
