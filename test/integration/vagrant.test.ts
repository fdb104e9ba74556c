// The Vagrant backend for real: the local box (built from Debian packages),
// kmod@0.23.2 built in the box and its marker captured over vagrant ssh; the
// same kernel as a QEMU cell gives the same status; a box that cannot be had
// is a skip; afterwards nothing the test started is left (domain, volume,
// network, namespace, libvirtd).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../../harness/cache/cache.js';
import { describeCell, REPORTS, runMatrix } from './helpers.js';

const BOX = 'debian-6.1-box/kmod@0.23.2/host';
const QEMU = 'debian-6.1-amd64/kmod@0.23.2/host';
const REMOTE = 'centos-7-box/kmod@0.23.2/host';

async function ours(): Promise<string[]> {
  const r = await execa('ps', ['-eo', 'pid,args'], { reject: false });
  const pid = String(process.pid);
  return r.stdout.split('\n').filter((l) => l.includes(`kmatrix-libvirt-${pid}`) || l.includes(`kmatrix-${pid}-`) || l.includes(`kmatrix-vg-${pid}`));
}

describe('integration: the Vagrant backend (local box, libvirt in a network namespace)', function () {
  this.timeout(60 * 60_000);
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

  it('the same kernel as a QEMU cell and as a Vagrant cell gives the same status', () => {
    const q = run.byId.get(QEMU)!, v = run.byId.get(BOX)!;
    assert.equal(v.status, q.status, `qemu: ${describeCell(q)}; vagrant: ${describeCell(v)}`);
    assert.equal(v.kernel.release, q.kernel.release, 'the same Debian kernel');
  });

  it(`${REMOTE}: a box that cannot be had is a skip with its reason`, () => {
    const c = run.byId.get(REMOTE)!;
    // online it may really run; here (no network but Debian's mirror) it cannot be fetched
    if (c.status !== 'skip') return;
    assert.equal(c.phase, 'fetch');
    assert.match(c.reason!, /^box unreachable: \S/);
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
