// Fault injection, for real: a guest init that panics, a guest that never
// reports, a kernel module (built by the harness from a fixture tree against
// the 6.1 headers) that Oopses on load, QEMU killed mid-cell, SIGINT to the
// CLI mid-run then --resume, and kill -9 of the CLI then a new run. Each
// checks status and reason, that no QEMU is left, and that the results hold
// every finished cell exactly once.
import assert from 'node:assert/strict';
import { execa, type ResultPromise } from 'execa';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processStart, type PidRecord } from '../../harness/leftovers.js';
import { liveVmCount } from '../../harness/machines.js';
import { loadMatrix } from '../../harness/matrix.js';
import { GUEST_INIT } from '../../harness/paths.js';
import { cellDirName } from '../../harness/plan.js';
import { readResultLines, readResults } from '../../harness/results.js';
import type { CellResult, RunEvent } from '../../harness/types.js';
import { Children } from '../processes.js';
import { describeCell, endRuns, qemuProcesses, REPORTS, runMatrix } from './helpers.js';

const PASS = 'debian-6.1-amd64/kmod@0.23.2/host';
const OTHER = 'debian-6.1-amd64/kmod@0.1.1dev/host';
const PANIC = 'debian-6.1-amd64/kmod@0.23.2/panic-init';
const SILENT = 'debian-6.1-amd64/kmod@0.23.2/silent';
const OOPS = 'debian-6.1-amd64/kmod@oops/host';

/** A module whose init writes through a NULL pointer; its driver_config.h claims 0.23.2's versions so sysdig 0.41 accepts it. */
function oopsTree(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'Makefile'), 'obj-m := scap.o\n');
  writeFileSync(
    path.join(dir, 'scap.c'),
    [
      '#include <linux/module.h>',
      '#include <linux/init.h>',
      'static int __init kmatrix_fault_init(void) { *(volatile int *)0 = 1; return 0; }',
      'static void __exit kmatrix_fault_exit(void) {}',
      'module_init(kmatrix_fault_init);',
      'module_exit(kmatrix_fault_exit);',
      'MODULE_LICENSE("GPL");',
      '',
    ].join('\n'),
  );
  const v = (k: string, n: [number, number, number]) => ['MAJOR', 'MINOR', 'PATCH'].map((p, i) => `#define PPM_${k}_CURRENT_VERSION_${p} ${n[i]}`).join('\n');
  writeFileSync(path.join(dir, 'driver_config.h'), `#define DRIVER_VERSION "0.0.0-oops"\n${v('API', [8, 0, 4])}\n${v('SCHEMA', [4, 1, 0])}\n`);
}

/** The real init behind a prelude that, by kernel argument, exits at once (the kernel panics) or reports boot and then nothing. */
function faultyInit(file: string): void {
  const real = readFileSync(GUEST_INIT, 'utf8').replace(/^#!.*\n/, '');
  const prelude = [
    '#!/bin/busybox sh',
    '/bin/busybox mkdir -p /proc && /bin/busybox mount -t proc proc /proc',
    'case " $(/bin/busybox cat /proc/cmdline) " in',
    '  *" kmatrix.fault=panic "*) exit 1 ;;',
    '  *" kmatrix.fault=silent "*) echo "KMATRIX v1 boot release=$(/bin/busybox uname -r) btime=1 nproc=1"; while :; do /bin/busybox sleep 60; done ;;',
    'esac',
    '/bin/busybox umount /proc',
    '',
  ].join('\n');
  writeFileSync(file, prelude + real, { mode: 0o755 });
}

/** matrix.yaml with short load/capture timeouts, the fault profiles, and the Oops fixture as a driver source. */
function faultMatrix(dir: string, oopsDir: string): string {
  const text = readFileSync('matrix.yaml', 'utf8')
    .replace(/^timeouts:.*$/m, 'timeouts: { boot: 300, load: 20, capture: 60 }')
    .replace(/^recommended: (\S+)$/m, (_, f: string) => `recommended: ${path.resolve(f)}`)
    .replace(/^profiles:\n/m, 'profiles:\n  panic-init: { cmdline: ["kmatrix.fault=panic"] }\n  silent: { cmdline: ["kmatrix.fault=silent"] }\n')
    .replace(/^sources:\n/m, `sources:\n  oops: { dir: ${oopsDir}, consumer: sysdig-0.41 }\n`)
    .replace(/^matrix:\n[\s\S]*$/m, [
      'matrix:',
      '  - { kernels: [debian-6.1-amd64], drivers: [kmod], sources: ["0.23.2"], profiles: [host, panic-init, silent] }',
      '  - { kernels: [debian-6.1-amd64], drivers: [kmod], sources: ["0.1.1dev", oops], profiles: [host] }',
      '',
    ].join('\n'));
  const file = path.join(dir, 'faults.yaml');
  writeFileSync(file, text);
  return file;
}

/** Processes of a run still alive, by its pid files (the CLI's VMs are not children of this process). */
function runVms(id: string): PidRecord[] {
  const dir = path.join(REPORTS, id, 'pids');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as PidRecord)
    .filter((p) => processStart(p.pid) === p.start);
}

function alive(pid: number): boolean {
  return processStart(pid) !== undefined && !/^\S+ \(\S+\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

interface Cli {
  proc: ResultPromise;
  lines: string[];
  /** The first line matching `re` from line `from` on (now or later). */
  waitFor(re: RegExp, from?: number, seconds?: number): Promise<string>;
}

/** The CLI as a child process (ended by `after` if a test timed out), its (non-TTY) UI lines collected. */
function cli(children: Children, args: string[]): Cli {
  const proc = children.start('node', ['bin/kmatrix.js', ...args], { reject: false, all: true, env: { CI: '1' }, extendEnv: true });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let partial = '';
  proc.all!.on('data', (b: Buffer) => {
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts.filter(Boolean)) {
      lines.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l));
    }
  });
  return {
    proc,
    lines,
    waitFor: (re, from = 0, seconds = 300) =>
      new Promise((resolve, reject) => {
        const seen = lines.slice(from).find((l) => re.test(l));
        if (seen) return resolve(seen);
        const t = setTimeout(() => reject(new Error(`no line matching ${re} in ${seconds}s:\n${lines.join('\n')}`)), seconds * 1000);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
      }),
  };
}

function runIdOf(c: Cli): string {
  return /run (\S+): /.exec(c.lines.find((l) => /run \S+: \d+ cell/.test(l)) ?? '')?.[1] ?? '';
}

function exactlyOnce(cells: CellResult[]): void {
  const ids = cells.map((c) => c.id);
  assert.deepEqual(ids, [...new Set(ids)], 'every finished cell once');
}

describe('integration: faults (panics, hangs, Oopses, killed VMs, interrupted runs)', function () {
  // Sized for a cold cache: the before hook fetches the 6.1 kernel, makes bookworm's builder root
  // (mmdebstrap, 1–3 min), builds the 0.23.2 and fixture modules and sid's sysdig guest, and
  // boots each cell up to twice; the SIGINT test then builds the 0.1.1dev module and bookworm's
  // sysdig guest.
  this.timeout(30 * 60_000);
  const children = new Children();
  const work = mkdtempSync(path.join(tmpdir(), 'kmatrix-faults-'));
  const matrixFile = faultMatrix(work, path.join(work, 'oops-module'));
  let run: Awaited<ReturnType<typeof runMatrix>>;
  let killedAt: string | undefined;

  before(async () => {
    oopsTree(path.join(work, 'oops-module'));
    faultyInit(path.join(work, 'init'));
    process.env.KMATRIX_GUEST_INIT = path.join(work, 'init');
    // QEMU killed from outside once, while the module loads: infrastructure, retried.
    let killed = false;
    let runId = '';
    const killer = async (e: RunEvent) => {
      if (e.type === 'run-start') runId = e.run.id;
      if (killed || e.type !== 'phase-start' || e.cell !== PASS || e.phase !== 'load') return;
      killed = true;
      const pids = path.join(REPORTS, runId, 'pids');
      const vm = readdirSync(pids)
        .map((f) => JSON.parse(readFileSync(path.join(pids, f), 'utf8')) as PidRecord)
        .find((p) => p.what.includes(`/${cellDirName(PASS)}/`));
      killedAt = vm?.what;
      if (vm) process.kill(vm.pid, 'SIGKILL');
    };
    try {
      run = await runMatrix([PASS, PANIC, SILENT, OOPS], loadMatrix(matrixFile), 2, [killer]);
    } finally {
      delete process.env.KMATRIX_GUEST_INIT;
    }
  });

  after(async () => {
    // what a timed-out hook or test left going (in this process, or the CLI), before the checks
    await endRuns();
    await children.endAll();
    assert.equal(liveVmCount(), 0);
    assert.deepEqual(await qemuProcesses(), []);
  });

  it('an init that panics: an infrastructure error at boot, retried, with the panic kept', () => {
    const c = run.byId.get(PANIC)!;
    assert.deepEqual([c.status, c.phase, c.attempts], ['error', 'boot', 2], describeCell(c));
    assert.match(c.reason!, /kernel crashed before init reported \(panic\)/);
    assert.match(c.firstError!, /Attempted to kill init/);
    assert.match(c.oops!, /Kernel panic - not syncing: Attempted to kill init/);
  });

  // a load failure is run once more (to tell an intermittent fault), never as an infrastructure retry: twice in all
  it('a guest that never reports its results: a driver fail at load within the load timeout, run once more, failing again (not flaky)', () => {
    const c = run.byId.get(SILENT)!;
    assert.deepEqual([c.status, c.phase], ['fail', 'load'], describeCell(c));
    assert.deepEqual(c.runs?.map((x) => `${x.status} at ${x.phase}`), ['fail at load', 'fail at load']);
    // two runs; a boot that stalls on a busy host is an infrastructure error, retried, and counts as one more attempt
    assert.ok(c.attempts >= 2, `attempts ${c.attempts}`);
    assert.match(c.reason!, /no answer from insmod/);
    const consoleLog = readFileSync(path.join(REPORTS, run.run.id, c.logs.console!), 'utf8');
    assert.match(consoleLog, /kmatrix: timeout after 20s, killing QEMU/);
  });

  // a kernel crash is never run again (nor flaky): the first run's failure stands
  it('a module that Oopses on load: a driver fail at load, run once (never again, never flaky), the Oops excerpt in results.json', () => {
    const c = run.byId.get(OOPS)!;
    assert.deepEqual([c.status, c.phase, c.attempts], ['fail', 'load', 1], describeCell(c));
    assert.equal(c.runs, undefined, 'one run: no first run kept beside it');
    assert.ok(!run.events.some((e) => e.type === 'note' && e.cell === OOPS && /run once more/.test(e.message)), 'no "run once more" note');
    assert.equal(c.class, 'kernel:oops');
    assert.match(c.reason!, /kernel (BUG|Oops) while loading the driver/);
    assert.match(c.firstError!, /NULL pointer dereference|Oops/);
    const file = readResults(path.join(REPORTS, run.run.id, 'results.json'));
    const saved = file.cells.find((x) => x.id === OOPS)!;
    assert.match(saved.oops!, /kmatrix_fault_init/, 'the excerpt names the faulting function');
    assert.ok(saved.oops!.split('\n').length >= 5, 'more than the headline');
  });

  it('QEMU killed mid-cell: an infrastructure error, retried, then the cell passes', () => {
    assert.ok(killedAt, 'a QEMU was running during load and was killed');
    const c = run.byId.get(PASS)!;
    assert.deepEqual([c.status, c.attempts], ['pass', 2], describeCell(c));
    const note = run.events.find((e) => e.type === 'note' && e.cell === PASS);
    assert.match(note && note.type === 'note' ? note.message : '', /QEMU was ended from outside \(signal SIGKILL\) during load.*retrying/);
  });

  it('the run holds each of its cells exactly once', () => {
    const dir = path.join(REPORTS, run.run.id);
    const lines = readResultLines(path.join(dir, 'results.jsonl'));
    exactlyOnce(lines);
    assert.deepEqual(lines.map((c) => c.id).sort(), [PASS, PANIC, SILENT, OOPS].sort());
  });

  it('SIGINT mid-run stops it, records what finished; --resume runs only the rest', async () => {
    const first = cli(children, ['--matrix', matrixFile, '--reports', REPORTS, 'run', '-j', '1', '--cell', PASS, '--cell', OTHER]);
    await first.waitFor(/(PASS|FAIL|SKIP|ERROR) +debian/);
    await first.waitFor(/: boot…/, first.lines.length); // the second cell's VM is starting
    await new Promise((r) => setTimeout(r, 2000));
    first.proc.kill('SIGINT');
    const r = await first.proc;
    assert.equal(r.exitCode, 130, first.lines.join('\n'));
    const id = runIdOf(first);
    const dir = path.join(REPORTS, id);
    const done = readResultLines(path.join(dir, 'results.jsonl'));
    assert.equal(done.length, 1, 'the finished cell only');
    const file = readResults(path.join(dir, 'results.json'));
    assert.equal(file.run.interrupted, true);
    assert.deepEqual(file.cells.map((c) => c.id), done.map((c) => c.id));
    assert.deepEqual(runVms(id), [], 'no VM of the run left');
    assert.deepEqual(readdirSync(path.join(dir, 'pids')), [], 'no pid file left');
    assert.deepEqual((await execa('pgrep', ['-P', String(first.proc.pid)], { reject: false })).stdout, '', 'no process of the CLI left');

    const again = cli(children, ['--matrix', matrixFile, '--reports', REPORTS, 'run', '--resume', id]);
    const r2 = await again.proc;
    assert.equal(r2.exitCode, 0, again.lines.join('\n'));
    assert.match(again.lines.join('\n'), /resuming \S+: 1 cell\(s\) finished, 1 to run/);
    const all = readResultLines(path.join(dir, 'results.jsonl'));
    exactlyOnce(all);
    assert.deepEqual(all.map((c) => c.id).sort(), [PASS, OTHER].sort());
    const final = readResults(path.join(dir, 'results.json'));
    assert.equal(final.run.interrupted, undefined);
    assert.equal(final.run.resumedAt?.length, 1);
    assert.deepEqual(final.cells.map((c) => c.id).sort(), [PASS, OTHER].sort());
  });

  it('kill -9 of the harness: QEMU dies with it (pdeathsig); the next run ends whatever a killed run left', async () => {
    const first = cli(children, ['--matrix', matrixFile, '--reports', REPORTS, 'run', '-j', '1', '--cell', PASS]);
    await first.waitFor(/: boot…/);
    const id = runIdOf(first);
    const pids = path.join(REPORTS, id, 'pids');
    for (let i = 0; i < 100 && !(existsSync(pids) && readdirSync(pids).length); i++) await new Promise((r) => setTimeout(r, 100));
    const rec = JSON.parse(readFileSync(path.join(pids, readdirSync(pids)[0]!), 'utf8')) as PidRecord;
    assert.ok(alive(rec.pid), 'the VM runs');
    first.proc.kill('SIGKILL');
    await first.proc;
    for (let i = 0; i < 50 && alive(rec.pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(rec.pid), false, 'setpriv --pdeathsig KILL ended QEMU with its harness');
    assert.equal(readdirSync(pids).length, 1, 'its pid file stays behind');

    // A VM that outlived its harness (pdeathsig raced or did not apply): a real QEMU, detached, on the killed run's books.
    const stray = spawn('qemu-system-x86_64', ['-M', 'none', '-display', 'none', '-nodefaults', '-monitor', 'none', '-serial', 'none'], { detached: true, stdio: 'ignore' });
    stray.unref();
    for (let i = 0; i < 50 && !processStart(stray.pid!); i++) await new Promise((r) => setTimeout(r, 100));
    writeFileSync(path.join(pids, String(stray.pid)), JSON.stringify({ ...rec, pid: stray.pid, start: processStart(stray.pid!), what: 'stray qemu' }));

    const next = cli(children, ['--matrix', matrixFile, '--reports', REPORTS, 'run', '--resume', id]);
    const r = await next.proc;
    assert.equal(r.exitCode, 0, next.lines.join('\n'));
    assert.match(next.lines.join('\n'), new RegExp(`ended a VM left by a killed run: ${id}: pid ${stray.pid}`));
    for (let i = 0; i < 50 && alive(stray.pid!); i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(alive(stray.pid!), false, 'the stray VM was ended');
    assert.deepEqual(readdirSync(pids), [], 'no pid file left');
    const cells = readResultLines(path.join(REPORTS, id, 'results.jsonl'));
    exactlyOnce(cells);
    assert.deepEqual(cells.map((c) => [c.id, c.status]), [[PASS, 'pass']]);
  });
});
