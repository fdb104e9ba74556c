// Two real `kmatrix run` processes on one cold cache, needing the same entries
// at once (apt lists, downloads, builder root, kernel, guest, build): both
// pass, and every entry is produced once (<cache>/produced.log), the other
// process waiting for it instead of making it again or reading it half-made.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readResults } from '../../harness/results.js';

// its cold path needs two suites' lists (bookworm kernel, sid driver and sysdig), downloads, a builder root, a build
const CELL = 'debian-6.1-amd64/kmod@0.23.2/host';

describe('two kmatrix processes sharing one cold cache', function () {
  this.timeout(40 * 60_000); // cold: apt lists, kernel and package downloads, mmdebstrap builder root (2-3 min), build, boot
  let root = '';
  let cache = '';
  const runs: { proc: ChildProcess; exited: Promise<number | null>; reports: string; log: string }[] = [];
  let passed = false;

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'kmatrix-shared-cache-')); // TMPDIR chooses where (1-2 GB)
    cache = path.join(root, 'cache');
  });

  after(async () => {
    // a failed or interrupted test leaves no kmatrix, QEMU or build behind: each run is its own process group
    for (const r of runs) if (r.proc.exitCode === null && r.proc.signalCode === null) process.kill(-r.proc.pid!, 'SIGTERM');
    await Promise.race([Promise.all(runs.map((r) => r.exited)), new Promise((r) => setTimeout(r, 15_000))]);
    for (const r of runs)
      try {
        process.kill(-r.proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    if (passed) rmSync(root, { recursive: true, force: true });
    else console.log(`    cache, reports and logs kept in ${root}`);
  });

  it(`two runs of ${CELL} at once both pass, each entry produced once`, async () => {
    for (const name of ['a', 'b']) {
      const reports = path.join(root, `reports-${name}`);
      const log = path.join(root, `${name}.log`);
      const proc = spawn(process.execPath, ['bin/kmatrix.js', 'run', '-c', CELL, '--reports', reports], {
        env: { ...process.env, KMATRIX_CACHE_DIR: cache },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const out = createWriteStream(log);
      proc.stdout!.pipe(out);
      proc.stderr!.pipe(out);
      runs.push({ proc, exited: new Promise((r) => proc.on('exit', (code) => r(code))), reports, log });
    }
    const codes = await Promise.all(runs.map((r) => r.exited));
    for (const [i, r] of runs.entries()) {
      const results = path.join(r.reports, 'latest', 'results.json');
      const cell = existsSync(results) ? readResults(results).cells.find((c) => c.id === CELL) : undefined;
      const why = `run ${i}: exit ${codes[i]}, ${cell ? `${cell.status} ${cell.phase ?? ''} ${cell.reason ?? ''} ${cell.firstError ?? ''}` : 'no result'}; log ${r.log}`;
      assert.equal(cell?.status, 'pass', why);
      assert.equal(codes[i], 0, why);
    }
    const lines = readFileSync(path.join(cache, 'produced.log'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
    const made = lines.map((l) => l[0]!);
    const by = runs.map((r) => lines.filter((l) => l[1] === String(r.proc.pid)).length);
    console.log(`    ${made.length} entries and downloads made, ${by.join(' + ')} by the two runs`);
    const twice = made.filter((p, i) => made.indexOf(p) !== i);
    assert.deepEqual(twice, [], 'produced more than once');
    for (const kind of ['builders', 'kernels', 'guests', 'builds', 'sources'])
      assert.ok(made.some((p) => p.startsWith(`${kind}/`)), `the cold runs produced a ${kind} entry (${made.join(', ')})`);
    assert.ok(made.filter((p) => /^apt\/[^/]+\/lists$/.test(p)).length >= 2, 'the lists of both suites were updated, once each');
    assert.ok(made.some((p) => /^apt\/[^/]+\/debs\//.test(p)), 'packages were downloaded, once each');
    passed = true;
  });
});
