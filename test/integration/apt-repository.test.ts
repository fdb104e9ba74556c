// The apt kernel kind on real VMs: (a) Linux 4.9.229's packages (../shared,
// test data) in an apt repository of Ubuntu's layout signed with a key of the
// test's own, served on 127.0.0.1 and named through ${KMATRIX_REPO_TEST}; (b)
// Debian's archive itself read as a vendor repository (trixie, flavour
// cloud-amd64, Debian's archive key; bookworm-backports' 6.12.95 cloud kernel
// was fetched and built against but double-faulted at boot under TCG here). One kmod cell on each: the
// kernel resolved, verified, booted, the module built, loaded, the battery right.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { debianMirror } from '../../harness/apt.js';
import { loadMatrix, parseMatrix } from '../../harness/matrix.js';
import { pendingUnlessFetchable, useSharedGit } from '../git-mirror.js';
import { addToPool, dropKey, makeKey, serveDir, writeSuite, type TestKey } from '../apt-repository.js';
import { describeCell, endRuns, qemuProcesses, runMatrix } from './helpers.js';

// CI clones beside ../shared (KMATRIX_SHARED names it elsewhere, e.g. from a git worktree); the product never reads it, only tests.
const SHARED = path.resolve(process.env.KMATRIX_SHARED ?? '../shared', 'kernels/linux-4.9.229');
const pending = existsSync(SHARED) ? '' : ` (pending: ${SHARED} is missing — the 4.9.229 packages are test data beside the clone, in ../shared)`;
// today's modern eBPF (driver 10.2.0 and its scap-open) is built from git: without the network or ../shared/git's mirrors, pending with git's reason
const today = loadMatrix('matrix.yaml');
const scapOpen = today.consumers[today.sources['10.2.0']?.consumer ?? '']?.libs;
const modernPending = await pendingUnlessFetchable(
  scapOpen ? [today.sources['10.2.0']!.git!, scapOpen.git!, ...(scapOpen.driver ? [scapOpen.driver] : [])] : [],
  'matrix.yaml no longer has the source 10.2.0 with its scap-open',
);

describe('integration: kernels from apt repositories (the apt kind)', function () {
  this.timeout(45 * 60_000);
  const LOCAL = 'apt-4.9-amd64/kmod@0.23.2/host';
  const DEBIAN = 'apt-debian-trixie-cloud-amd64/kmod@0.23.2/host';
  // the probes on the same vendor-repository kernels: the legacy probe and today's modern eBPF
  const EBPF = { local: 'apt-4.9-amd64/ebpf@0.23.2/host', debian: 'apt-debian-trixie-cloud-amd64/ebpf@0.23.2/host' };
  const MODERN = { local: 'apt-4.9-amd64/modern-ebpf@10.2.0/host', debian: 'apt-debian-trixie-cloud-amd64/modern-ebpf@10.2.0/host' };
  let r: Awaited<ReturnType<typeof runMatrix>>;
  let dir: string, key: TestKey | undefined, served: Awaited<ReturnType<typeof serveDir>> | undefined;
  const seconds: Record<string, number> = {};

  before(async () => {
    useSharedGit();
    dir = await mkdtemp(path.join(tmpdir(), 'km-apt-it-'));
    const kernels: string[] = [];
    const cells: string[] = [];
    if (!pending) {
      const repo = path.join(dir, 'repo');
      key = await makeKey(path.join(dir, 'gnupg'));
      await addToPool(repo, 'main', 'l/linux', readdirSync(SHARED).filter((f) => f.endsWith('_amd64.deb')).map((f) => path.join(SHARED, f)));
      await writeSuite({ repo, suite: 'kmatrix-test', component: 'main', arch: 'amd64', key, signing: 'inrelease' });
      served = await serveDir(repo);
      process.env.KMATRIX_REPO_TEST = served.url;
      kernels.push(`  apt-4.9-amd64: { machine: q35, arch: amd64, apt: { url: "\${KMATRIX_REPO_TEST}", suite: kmatrix-test, component: main, key: "${key.file}", release: 4.9.229 } }\n`);
      cells.push(LOCAL, EBPF.local, ...(modernPending ? [] : [MODERN.local]));
    }
    process.env.KMATRIX_REPO_DEBIAN = debianMirror();
    kernels.push(`  apt-debian-trixie-cloud-amd64: { machine: q35, arch: amd64, apt: { url: "\${KMATRIX_REPO_DEBIAN}", suite: trixie, component: main, key: /usr/share/keyrings/debian-archive-keyring.gpg, flavour: cloud-amd64 } }\n`);
    cells.push(DEBIAN, EBPF.debian, ...(modernPending ? [] : [MODERN.debian]));
    const ids = [...new Set(cells.map((c) => c.split('/')[0]))];
    const text = readFileSync('matrix.yaml', 'utf8')
      .replace(/^kernels:\n/m, `kernels:\n${kernels.join('')}`)
      .replace(/^matrix:\n/m, `matrix:\n  - { kernels: [${ids.join(', ')}], drivers: [kmod, ebpf], sources: ["0.23.2"] }\n  - { kernels: [${ids.join(', ')}], drivers: [modern-ebpf], sources: ["10.2.0"] }\n`);
    const t0 = Date.now();
    r = await runMatrix(cells, parseMatrix(text, path.resolve('matrix.yaml')), 1, [
      (e) => {
        if (e.type === 'phase-end') seconds[`${e.cell} ${e.phase}`] = e.seconds;
      },
    ]);
    seconds.total = (Date.now() - t0) / 1000;
    console.log(`    apt cells' phase times (s): ${JSON.stringify(seconds)}`);
  });

  after(async () => {
    await endRuns();
    await served?.close();
    if (key) await dropKey(key);
    delete process.env.KMATRIX_REPO_TEST;
    delete process.env.KMATRIX_REPO_DEBIAN;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  (pending ? it.skip : it)(`${LOCAL}: 4.9.229 from a signed repository on loopback (\${KMATRIX_REPO_TEST}) boots and passes with its battery${pending}`, () => {
    const c = r.byId.get(LOCAL)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.kernel.release, '4.9.229');
    assert.match(c.kernel.package!, /^apt:http:\/\/127\.0\.0\.1:\d+ kmatrix-test\/main linux-image-4\.9\.229=4\.9\.229-1$/);
    assert.equal(c.kernel.builder, 'bookworm gcc-11');
    const b = c.evidence?.battery;
    assert.deepEqual([b?.right, b?.wrong, b?.missing], [20, 0, 0], b?.firstProblem);
    assert.equal(c.evidence?.marker, true);
  });

  it(`${DEBIAN}: Debian's archive as an apt repository — the newest cloud-amd64 kernel of trixie, verified with Debian's key, boots and passes with its battery`, () => {
    const c = r.byId.get(DEBIAN)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.match(c.kernel.release!, /^\d+\.\d+\.\d+\S*-cloud-amd64$/);
    assert.match(c.kernel.package!, new RegExp(`^apt:\\S+ trixie/main linux-image-${c.kernel.release!.replace(/[.+]/g, '\\$&')}=\\S+$`));
    assert.ok(!c.kernel.package!.includes('unsigned repository'), c.kernel.package);
    assert.match(c.kernel.builder!, /^trixie gcc-14$/); // the oldest builder suite with the kernel's gcc-14
    const b = c.evidence?.battery;
    assert.deepEqual([b?.right, b?.wrong, b?.missing], [20, 0, 0], b?.firstProblem);
    assert.equal(c.evidence?.marker, true);
  });

  (pending ? it.skip : it)(`the legacy probe on 4.9.229 from the repository: refused below 4.14 at build${pending}`, () => {
    const ebpf = r.byId.get(EBPF.local)!;
    assert.deepEqual([ebpf.status, ebpf.phase, ebpf.class], ['fail', 'build', 'build:kernel-version-check'], describeCell(ebpf));
  });

  (pending || modernPending ? it.skip : it)(`today's modern eBPF on 4.9.229 from the repository: refused at load, no BPF ring buffers${pending || modernPending}`, () => {
    const modern = r.byId.get(MODERN.local)!;
    assert.deepEqual([modern.status, modern.phase, modern.class], ['fail', 'load', 'load:unsupported-map'], describeCell(modern));
  });

  it(`the legacy probe on Debian's trixie cloud kernel from the archive passes with its battery`, () => {
    const ebpf = r.byId.get(EBPF.debian)!;
    assert.equal(ebpf.status, 'pass', describeCell(ebpf));
    const b = ebpf.evidence?.battery;
    assert.deepEqual([b?.right, b?.wrong, b?.missing], [20, 0, 0], b?.firstProblem);
  });

  (modernPending ? it.skip : it)(`today's modern eBPF on Debian's trixie cloud kernel from the archive is judged (evidence, not a skip or an error)${modernPending}`, () => {
    const modern = r.byId.get(MODERN.debian)!;
    assert.ok(modern.status === 'pass' || (modern.status === 'fail' && /^(build|load|capture):/.test(modern.class ?? '')), describeCell(modern));
  });

  it('leaves no QEMU behind', async () => {
    assert.deepEqual(await qemuProcesses(), []);
  });
});
