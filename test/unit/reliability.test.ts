// Reliability pieces without a VM: results lines and resume state, pid files
// and leftovers, the cache's usage and pruning, -j auto.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prunePlan } from '../../harness/cache/usage.js';
import { UserError } from '../../harness/errors.js';
import { processStart, reapLeftovers, writePidFile } from '../../harness/leftovers.js';
import { readResultLines, resumeState } from '../../harness/results.js';
import { autoJobs } from '../../harness/scheduler.js';

const tmp = (p: string) => mkdtempSync(path.join(tmpdir(), `kmatrix-${p}-`));
const cell = (id: string, status = 'pass') => ({ id, status, kernel: { id: 'k', arch: 'amd64', machine: 'q35' }, driver: { id: 'kmod', source: 's' }, profile: 'host', durations: {}, logs: {}, attempts: 1 });

describe('reliability', () => {
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
});
