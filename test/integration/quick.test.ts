// Real VMs, real Debian kernels, real driver builds: the foundation's cells.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cacheDir } from '../../harness/cache/cache.js';
import { liveVmCount } from '../../harness/machines.js';
import { parseMatrix } from '../../harness/matrix.js';
import { readResults } from '../../harness/results.js';
import type { CellResult, RunEvent } from '../../harness/types.js';
import { describeCell, endRuns, qemuProcesses, REPORTS, runMatrix } from './helpers.js';

/** Files under the cache that a rerun must not add to: downloaded packages and cache entries, named as produced.log names them. */
function cacheInventory(): string[] {
  const root = cacheDir();
  const out: string[] = [];
  for (const kind of ['kernels', 'builds', 'guests', 'sources', 'builders']) {
    const d = path.join(root, kind);
    if (existsSync(d)) out.push(...readdirSync(d).filter((e) => !/\.tmp-\d+$/.test(e)).map((e) => `${kind}/${e}`)); // another process's entry in the making is not ours
  }
  const apt = path.join(root, 'apt');
  for (const dist of existsSync(apt) ? readdirSync(apt) : []) {
    const debs = path.join(apt, dist, 'debs');
    if (existsSync(debs)) out.push(...readdirSync(debs).map((f) => `apt/${dist}/debs/${f}`));
    const stamp = path.join(apt, dist, 'lists', '.updated');
    if (existsSync(stamp)) out.push(`apt/${dist}/lists@${statSync(stamp).mtimeMs}`);
  }
  return out.sort();
}

/** What other processes (another lane of the test runner) produced in the cache: produced.log's lines with another pid. */
function producedByOthers(): Set<string> {
  const log = path.join(cacheDir(), 'produced.log');
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')) : [];
  return new Set(lines.filter(([, pid]) => pid !== String(process.pid)).map(([rel]) => rel!));
}

describe('integration: the quick matrix on real VMs', function () {
  this.timeout(45 * 60_000);
  let first: Awaited<ReturnType<typeof runMatrix>>;
  const PASS = 'debian-6.1-amd64/kmod@0.23.2/host';
  const BUILD_FAIL = 'debian-6.12-amd64/kmod@0.1.1dev/host';

  before(async () => {
    first = await runMatrix([PASS, BUILD_FAIL]);
  });

  after(endRuns);

  /** The known build failure of 0.1.1dev on 6.12, as any run must show it. */
  const assertBuildFailure = (c: CellResult | undefined) => {
    assert.deepEqual([c?.status, c?.phase], ['fail', 'build'], describeCell(c));
    assert.match(c!.firstError!, /error: implicit declaration of function .fd_is_open./);
  };

  it(`${PASS} passes: module loaded, the guest's marker openat captured`, () => {
    const c = first.byId.get(PASS)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.evidence?.marker, true);
    assert.ok(c.evidence!.lines!.some((l) => /openat .*kmatrix-marker-/.test(l)), 'an openat of the marker file');
    assert.match(c.kernel.release!, /^6\.1\.0-\d+-amd64$/, 'release reported by the guest');
    assert.match(c.kernel.version!, /^6\.1\.\d+$/);
    assert.equal(c.driver.version, '0.23.2');
    for (const p of ['fetch', 'build', 'boot', 'load', 'capture'] as const) assert.ok(c.durations[p] !== undefined, `duration of ${p}`);
    const consoleLog = readFileSync(path.join(REPORTS, first.run.id, c.logs.console!), 'utf8');
    assert.match(consoleLog, /KMATRIX v1 insmod rc=0/);
  });

  it(`${BUILD_FAIL} fails at build with the compiler's real error line`, () => {
    const c = first.byId.get(BUILD_FAIL)!;
    assertBuildFailure(c);
    assert.ok(existsSync(path.join(REPORTS, first.run.id, c.logs.build!)), 'build log kept');
  });

  it('writes results.jsonl as cells end and results.json with the contract fields', () => {
    const dir = path.join(REPORTS, first.run.id);
    const lines = readFileSync(path.join(dir, 'results.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    const file = readResults(path.join(dir, 'results.json'));
    assert.equal(file.run.id, first.run.id);
    assert.equal(file.run.accel, 'tcg');
    for (const c of file.cells) for (const k of ['id', 'status', 'profile', 'kernel', 'driver'] as const) assert.ok(c[k] !== undefined, k);
    assert.equal(readlinkSync(path.join(REPORTS, 'latest')), first.run.id, 'reports/latest points at the newest run');
  });

  it('phase events arrive in order for each cell, and every started phase ends', () => {
    const phases = first.events.filter((e): e is Extract<RunEvent, { type: 'phase-start' | 'phase-end' }> => e.type === 'phase-start' || e.type === 'phase-end' ).filter((e) => e.cell === PASS);
    assert.deepEqual(phases.filter((e) => e.type === 'phase-start').map((e) => e.phase), ['fetch', 'build', 'boot', 'load', 'capture']);
    assert.equal(phases.filter((e) => e.type === 'phase-end').length, 5);
  });

  it('a second run reuses every download and build', async () => {
    const before = cacheInventory();
    const again = await runMatrix([PASS, BUILD_FAIL]);
    const others = producedByOthers();
    const added = cacheInventory().filter((e) => !before.includes(e) && !others.has(e.replace(/@.*$/, '')));
    assert.deepEqual(added, [], 'nothing new in the cache');
    const built = again.events.filter((e) => e.type === 'phase-end' && e.phase === 'build' && e.cell === PASS);
    assert.deepEqual(built.map((e) => e.type === 'phase-end' && e.detail), ['cached']);
    assert.equal(again.byId.get(PASS)!.status, 'pass', describeCell(again.byId.get(PASS)));
    assertBuildFailure(again.byId.get(BUILD_FAIL)); // the failure cached, with its first error
  });

  it('a kernel that cannot boot ends as error within its timeout and leaves no QEMU behind', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kmatrix-garbage-'));
    writeFileSync(path.join(dir, 'vmlinuz'), Buffer.alloc(4 << 20, 0x5a));
    const text = readFileSync('matrix.yaml', 'utf8')
      .replace(/^timeouts:.*$/m, 'timeouts: { boot: 20, load: 20, capture: 20 }')
      .replace(/^kernels:\n/m, `kernels:\n  garbage-amd64: { arch: amd64, machine: q35, debian: { suite: bookworm, flavour: amd64 }, image: ${path.join(dir, 'vmlinuz')} }\n`)
      .replace(/^matrix:\n/m, 'matrix:\n  - { kernels: [garbage-amd64], drivers: [kmod], sources: ["0.23.2"] }\n');
    const m = parseMatrix(text, path.resolve('matrix.yaml')); // relative paths (the recommended table) as in the real file
    const started = Date.now();
    const r = await runMatrix(['garbage-amd64/kmod@0.23.2/host'], m);
    const c: CellResult = r.results[0]!;
    assert.deepEqual([c.status, c.phase], ['error', 'boot'], describeCell(c));
    // QEMU refuses the image at once (exit code 1), before any guest: its own error is in the console log
    assert.match(c.reason!, /^QEMU .*\(exit code 1\) before the guest reached init: QEMU said "qemu: linux kernel too old to load a ram disk"$/, describeCell(c));
    assert.equal(c.firstError, 'qemu: linux kernel too old to load a ram disk');
    assert.match(readFileSync(path.join(REPORTS, r.run.id, c.logs.console!), 'utf8'), /^# qemu: qemu: linux kernel too old to load a ram disk$/m);
    assert.equal(c.attempts, 2, 'an infrastructure error is retried');
    assert.ok((Date.now() - started) / 1000 < 2 * 20 + 60, 'within the boot timeouts (plus fetch)');
    assert.equal(liveVmCount(), 0);
    assert.deepEqual(await qemuProcesses(), []);
  });
});
