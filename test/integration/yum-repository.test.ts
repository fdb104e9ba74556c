// A kernel from a yum repository, for real: Linux 4.9.229 (the `make
// bindeb-pkg` packages of ../shared/kernels) repackaged here as EL8-style rpms
// — kernel (empty), kernel-core (image at /lib/modules/<r>/vmlinuz),
// kernel-modules (.ko.xz), kernel-devel (/usr/src/kernels/<r>) — in a signed
// repository on loopback, named in the matrix through an environment variable.
// The kmod cell builds scap.ko against kernel-devel's tree and boots the image.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseMatrix } from '../../harness/matrix.js';
import { createrepo, makeRpm, serveDir, testKey } from '../yum-fixtures.js';
import { describeCell, endRuns, qemuProcesses, runMatrix } from './helpers.js';

// CI clones beside ../shared (KMATRIX_SHARED names it elsewhere, e.g. from a git worktree); the product never reads it, only tests.
const SHARED = path.resolve(process.env.KMATRIX_SHARED ?? '../shared', 'kernels/linux-4.9.229');
const DEBS = ['linux-image-4.9.229_4.9.229-1_amd64.deb', 'linux-headers-4.9.229_4.9.229-1_amd64.deb'];
const pending = DEBS.every((d) => existsSync(path.join(SHARED, d))) ? '' : ` (pending: ${SHARED} lacks ${DEBS.join(' or ')} — the 4.9.229 packages are test data beside the clone, in ../shared)`;
const R = '4.9.229';

(pending ? describe.skip : describe)(`integration: a kernel from a signed yum repository (4.9.229 as EL8-style rpms)${pending}`, function () {
  this.timeout(45 * 60_000);
  const CELL = 'yum-4.9-amd64/kmod@0.23.2/host';
  const EBPF = 'yum-4.9-amd64/ebpf@0.23.2/host';
  const MODERN = 'yum-4.9-amd64/modern-ebpf@10.2.0/host';
  let work: string;
  let key: Awaited<ReturnType<typeof testKey>> | undefined;
  let srv: { server: Server; base: string; requests: string[] } | undefined;
  let r: Awaited<ReturnType<typeof runMatrix>>;
  const timings: Record<string, number> = {};

  before(async () => {
    let t = Date.now();
    work = await mkdtemp(path.join(tmpdir(), 'km-yum-it-'));
    const debs = path.join(work, 'debs');
    for (const d of DEBS) await execa('dpkg-deb', ['-x', path.join(SHARED, d), debs]);
    // kernel-core: image, config, System.map, the modules.* indexes, the build link (absolute, as Red Hat's)
    const core = path.join(work, 'core');
    const mod = `lib/modules/${R}`;
    await mkdir(path.join(core, mod), { recursive: true });
    await cp(path.join(debs, `boot/vmlinuz-${R}`), path.join(core, mod, 'vmlinuz'));
    await cp(path.join(debs, `boot/config-${R}`), path.join(core, mod, 'config'));
    await cp(path.join(debs, `boot/System.map-${R}`), path.join(core, mod, 'System.map'));
    await symlink(`/usr/src/kernels/${R}`, path.join(core, mod, 'build'));
    // kernel-modules: every module xz-compressed as EL kernels ship them (the cell does not load any of them)
    const mods = path.join(work, 'modules');
    await mkdir(path.join(mods, mod), { recursive: true });
    await rename(path.join(debs, mod, 'kernel'), path.join(mods, mod, 'kernel'));
    await execa('bash', ['-c', 'find "$1" -name "*.ko" -print0 | xargs -0 -r -n 64 xz --check=crc32 -T1', 'bash', path.join(mods, mod)]);
    // kernel-devel: the headers' tree at /usr/src/kernels/<r>
    const devel = path.join(work, 'devel');
    await mkdir(path.join(devel, 'usr/src/kernels'), { recursive: true });
    await rename(path.join(debs, `usr/src/linux-headers-${R}`), path.join(devel, 'usr/src/kernels', R));
    const pkgs = path.join(work, 'repo/Packages');
    const v = { version: R, release: '1.el8' };
    await Promise.all([
      makeRpm(work, pkgs, { name: 'kernel', ...v }),
      makeRpm(work, pkgs, { name: 'kernel-core', ...v, tree: { root: core, paths: [`/${mod}/vmlinuz`, `/${mod}/config`, `/${mod}/System.map`, `/${mod}/build`] } }),
      makeRpm(work, pkgs, { name: 'kernel-modules', ...v, payload: 'zstd', tree: { root: mods, paths: [`/${mod}/kernel`] } }),
      makeRpm(work, pkgs, { name: 'kernel-devel', ...v, payload: 'zstd', tree: { root: devel, paths: [`/usr/src/kernels/${R}`] } }),
      makeRpm(work, pkgs, { name: 'kernel-headers', version: R, release: '2.el8', files: { 'usr/include/linux/kmatrix.h': '' } }),
    ]);
    await createrepo(path.join(work, 'repo'));
    key = await testKey(work);
    await key.sign(path.join(work, 'repo/repodata/repomd.xml'));
    await writeFile(path.join(work, 'key.asc'), await key.armored());
    srv = await serveDir(work);
    timings.repository = Date.now() - t;
    process.env.KMATRIX_TEST_YUM_URL = `${srv.base}/repo`;
    const text = readFileSync('matrix.yaml', 'utf8')
      .replace(/^kernels:\n/m, `kernels:\n  yum-4.9-amd64: { machine: q35, arch: amd64, yum: { url: "\${KMATRIX_TEST_YUM_URL}", key: "${path.join(work, 'key.asc')}", newest: kernel } }\n`)
      .replace(/^matrix:\n/m, 'matrix:\n  - { kernels: [yum-4.9-amd64], drivers: [kmod, ebpf], sources: ["0.23.2"] }\n  - { kernels: [yum-4.9-amd64], drivers: [modern-ebpf], sources: ["10.2.0"] }\n');
    t = Date.now();
    r = await runMatrix([CELL, EBPF, MODERN], parseMatrix(text, path.resolve('matrix.yaml')));
    timings.cell = Date.now() - t;
    console.log(`      yum repository made in ${(timings.repository / 1000).toFixed(0)} s; ${CELL} ran in ${(timings.cell / 1000).toFixed(0)} s`);
  });

  after(async () => {
    await key?.drop();
    await endRuns();
    srv?.server.close();
    delete process.env.KMATRIX_TEST_YUM_URL;
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(`${CELL}: the packages come from the signed repository, the module builds against kernel-devel's tree, loads and passes the battery`, () => {
    const c = r.byId.get(CELL)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.kernel.release, R);
    assert.match(c.kernel.package!, /^yum:4\.9\.229 \(kernel-4\.9\.229-1\.el8\.x86_64, kernel-core-4\.9\.229-1\.el8\.x86_64, kernel-modules-4\.9\.229-1\.el8\.x86_64, kernel-devel-4\.9\.229-1\.el8\.x86_64\) from http:\/\/127\.0\.0\.1:\d+\/repo$/);
    assert.match(c.kernel.compiler!, /gcc version 11\.3\.0 .*\(from compile\.h\)/);
    assert.equal(c.kernel.builder, 'bookworm gcc-11');
    assert.equal(c.evidence?.marker, true);
    const b = c.evidence?.battery;
    assert.deepEqual([b?.right, b?.wrong, b?.missing, b?.calls.length], [20, 0, 0, 20], b?.firstProblem);
    assert.ok(srv!.requests.includes('/repo/repodata/repomd.xml.asc'), 'the signature was fetched');
    assert.ok(!srv!.requests.some((u) => u.includes('kernel-headers')), 'the decoy was not downloaded');
  });

  it('the probes on the same kernel: the legacy probe refused below 4.14 at build, modern eBPF without BPF ring buffers at load', () => {
    const ebpf = r.byId.get(EBPF)!;
    assert.deepEqual([ebpf.status, ebpf.phase, ebpf.class], ['fail', 'build', 'build:kernel-version-check'], describeCell(ebpf));
    const modern = r.byId.get(MODERN)!;
    assert.deepEqual([modern.status, modern.phase, modern.class], ['fail', 'load', 'load:unsupported-map'], describeCell(modern));
  });

  it('leaves no QEMU behind', async () => {
    assert.deepEqual(await qemuProcesses(), []);
  });
});
