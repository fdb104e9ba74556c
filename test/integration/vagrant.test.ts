// The Vagrant backend for real: the local box (built from Debian packages),
// kmod@0.23.2 built in the box and its marker captured over vagrant ssh; the
// same kernel as a QEMU cell gives the same status; a box that cannot be had
// is a skip; afterwards nothing the test started is left (domain, volume,
// network, namespace, libvirtd).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { cacheDir } from '../../harness/cache/cache.js';
import { boxAdded } from '../../harness/images/box.js';
import { describeCell, endRuns, REPORTS, runMatrix } from './helpers.js';

const BOX = 'debian-6.1-box/kmod@0.23.2/host';
const QEMU = 'debian-6.1-amd64/kmod@0.23.2/host';
const REMOTE = 'centos-7-box/kmod@0.23.2/host';

/** Can REMOTE's box be had: added already (under the harness's VAGRANT_HOME), or its catalog answers? What the cell must then show. */
async function remoteBox(): Promise<{ reachable: boolean; why: string }> {
  const matrix = parse(readFileSync('matrix.yaml', 'utf8')) as { kernels: Record<string, { box?: { name?: string; version?: string } }> };
  const box = matrix.kernels['centos-7-box']?.box;
  if (!box?.name || !box.version) return { reachable: false, why: 'centos-7-box has no pinned box in matrix.yaml' };
  if (boxAdded(box.name, box.version)) return { reachable: true, why: `${box.name} ${box.version} is added already` };
  const url = `https://vagrantcloud.com/api/v2/vagrant/${box.name}`;
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    return { reachable: r.ok, why: `${url}: HTTP ${r.status}` };
  } catch (e) {
    return { reachable: false, why: `${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}` };
  }
}
const remote = await remoteBox();

async function ours(): Promise<string[]> {
  const r = await execa('ps', ['-eo', 'pid,args'], { reject: false });
  const pid = String(process.pid);
  return r.stdout.split('\n').filter((l) => l.includes(`kmatrix-libvirt-${pid}`) || l.includes(`kmatrix-${pid}-`) || l.includes(`kmatrix-vg-${pid}`));
}

describe('integration: the Vagrant backend (local box, libvirt in a network namespace)', function () {
  // Sized for a cold cache: building the local box (up to ≈ 17 min here under TCG), its cell's first
  // in-box module build (≈ 7.5 min) and `vagrant up`s, beside the QEMU cell's kernel, builder
  // root and build.
  this.timeout(90 * 60_000);
  let run: Awaited<ReturnType<typeof runMatrix>>;
  let walls: Map<string, number>;

  before(async () => {
    const began = new Map<string, number>();
    walls = new Map();
    run = await runMatrix([BOX, QEMU, REMOTE], undefined, 2, [
      (e) => {
        if (e.type === 'phase-start' && !began.has(e.cell)) began.set(e.cell, Date.now());
        if (e.type === 'cell-end') walls.set(e.result.id, (Date.now() - began.get(e.result.id)!) / 1000);
      },
    ]);
    for (const r of run.results) console.log(`      ${r.status.padEnd(5)} ${r.id} ${walls.get(r.id)?.toFixed(0)}s ${JSON.stringify(r.durations)} ${r.reason ?? ''}`);
  });

  after(endRuns);

  it(`${BOX} passes: the module built in the box, loaded, the marker openat captured over vagrant ssh`, () => {
    const c = run.byId.get(BOX)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.evidence?.marker, true);
    assert.ok(c.evidence!.lines!.some((l) => /openat .*kmatrix-marker-/.test(l)), 'an openat of the marker file');
    assert.match(c.kernel.release!, /^6\.1\.0-\d+-amd64$/, "the box's kernel, as the guest reported it");
    assert.equal(c.kernel.machine, 'vagrant');
    for (const p of ['boot', 'build', 'load', 'capture'] as const) assert.ok(c.durations[p] !== undefined, `duration of ${p}`);
    const consoleLog = readFileSync(path.join(REPORTS, run.run.id, c.logs.console!), 'utf8');
    assert.match(consoleLog, /KMATRIX v1 insmod rc=0/);
    assert.match(readFileSync(path.join(REPORTS, run.run.id, c.logs.build!), 'utf8'), /box kernel 6\.1\.0-\d+-amd64/, 'built in the box');
  });

  it('the same kernel as a QEMU cell and as a Vagrant cell gives the same status: pass', () => {
    const q = run.byId.get(QEMU)!, v = run.byId.get(BOX)!;
    // both pass: two errors (or two skips) agreeing would prove nothing
    assert.deepEqual([q.status, v.status], ['pass', 'pass'], `qemu: ${describeCell(q)}; vagrant: ${describeCell(v)}`);
    assert.equal(v.kernel.release, q.kernel.release, 'the same Debian kernel');
  });

  it(remote.reachable
    ? `${REMOTE}: its box can be had (${remote.why}): the cell runs to a real status, pass or fail with its phase`
    : `${REMOTE}: its box cannot be had (${remote.why}): a skip at fetch saying the box is unreachable`, () => {
    const c = run.byId.get(REMOTE)!;
    if (remote.reachable) {
      assert.ok(c.status === 'pass' || (c.status === 'fail' && c.phase !== undefined), describeCell(c));
    } else {
      assert.deepEqual([c.status, c.phase], ['skip', 'fetch'], describeCell(c));
      assert.match(c.reason!, /^box unreachable: \S/);
    }
  });

  it('leaves nothing behind: no namespace, libvirtd, QEMU domain, network or cell volume', async () => {
    assert.deepEqual(await ours(), [], 'no process of the test session');
    const netns = await execa('ip', ['netns', 'list'], { reject: false });
    assert.doesNotMatch(netns.stdout, new RegExp(`kmatrix-vg-${process.pid}\\b`));
    assert.equal(existsSync(`/tmp/kmatrix-libvirt-${process.pid}`), false, "the session's libvirt state (domains, networks) is gone");
    const pool = path.join(cacheDir(), 'vagrant', 'pool');
    const volumes = existsSync(pool) ? readdirSync(pool) : [];
    assert.deepEqual(volumes.filter((v) => v.startsWith(`kmatrix-${process.pid}-`)), [], "no cell volume of this run in the pool (base box volumes are cache and stay)");
  });
});
