// Kernels below 4.14 from outside Debian: Linux 4.9.229 as `make bindeb-pkg`
// packages (../shared/kernels, test data of machines without internet),
// imported into the kernel store and served over loopback as an Ubuntu
// mainline-style directory. Real builds, real boots; statuses as observed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { cacheDir } from '../../harness/cache/cache.js';
import { mainlineCacheDir } from '../../harness/kernels/mainline.js';
import { importKernels } from '../../harness/kernels/store.js';
import { parseMatrix } from '../../harness/matrix.js';
import { claimVerdicts, kernelOutcome, loadRecommended } from '../../harness/verdicts.js';
import { describeCell, endRuns, qemuProcesses, runMatrix } from './helpers.js';

// CI clones beside ../shared; the product never reads it, only tests and .ci/run.
const SHARED = path.resolve('../shared/kernels/linux-4.9.229');
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** The archive's names for the shared packages (the generic flavour, an unsigned image); their content is the bindeb-pkg build. */
const MAINLINE_NAMES: Record<string, string> = {
  'linux-headers-4.9.229_4.9.229-1_amd64.deb': 'linux-headers-4.9.229-040929-generic_4.9.229-040929.202011281743_amd64.deb',
  'linux-image-4.9.229_4.9.229-1_amd64.deb': 'linux-image-unsigned-4.9.229-040929-generic_4.9.229-040929.202011281743_amd64.deb',
};

/** A mainline-style archive on loopback: /<tree>/v4.9.229/{CHECKSUMS,*.deb} (files by their archive names), CHECKSUMS given per tree. */
function serveArchive(files: string[], checksums: Record<string, string>): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const [, tree, dir, name] = (req.url ?? '').split('/');
    if (dir !== 'v4.9.229' || !tree || !(tree in checksums)) return void res.writeHead(404).end();
    if (name === 'CHECKSUMS') return void res.writeHead(200).end(checksums[tree]);
    const file = files.find((f) => MAINLINE_NAMES[path.basename(f)] === name);
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/vnd.debian.binary-package' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

// without the fixture each test is pending, the suite's title saying why
const pending = existsSync(SHARED) ? '' : ` (pending: ${SHARED} is missing — the 4.9.229 packages are test data beside the clone, in ../shared)`;

(pending ? describe.skip : describe)(`integration: kernels below 4.14 (store, mainline-style archive)${pending}`, function () {
  this.timeout(45 * 60_000);
  const KMOD = 'store-4.9-amd64/kmod@0.23.2/host';
  const EBPF = 'store-4.9-amd64/ebpf@0.23.2/host';
  const ARM = 'store-4.9-arm64-virt/kmod@0.23.2/host';
  const MAINLINE = 'loopback-4.9-amd64/kmod@0.23.2/host';
  const BAD = 'loopback-bad-4.9-amd64/kmod@0.23.2/host';
  const DEBS = 'debs-4.9-amd64/kmod@0.23.2/host';
  const EBPF61 = 'debian-6.1-amd64/ebpf@0.23.2/host';
  let r: Awaited<ReturnType<typeof runMatrix>>;
  let archive: { server: Server; base: string } | undefined;
  let wrongSha = '';

  before(async () => {
    await importKernels([SHARED]);
    const amd64 = readdirSync(SHARED).filter((f) => f.endsWith('_amd64.deb')).map((f) => path.join(SHARED, f));
    const sums = amd64.map((f) => `${sha256(f)}  ${MAINLINE_NAMES[path.basename(f)]}`);
    wrongSha = createHash('sha256').update('not the image').digest('hex');
    const sha1 = amd64.map((f) => `${createHash('sha1').update(readFileSync(f)).digest('hex')}  ${MAINLINE_NAMES[path.basename(f)]}`);
    const checksums = (lines: string[]) => `# Checksums-Sha1:\n${sha1.join('\n')}\n\n# Checksums-Sha256:\n${lines.join('\n')}\n`;
    archive = await serveArchive(amd64, {
      good: checksums(sums),
      bad: checksums(sums.map((l) => (l.includes('linux-image-unsigned-') ? `${wrongSha}  ${l.split(/\s+/)[1]}` : l))),
    });
    const text = readFileSync('matrix.yaml', 'utf8')
      .replace(/^kernels:\n/m, `kernels:\n  loopback-4.9-amd64: { machine: q35, mainline: { version: v4.9.229, arch: amd64, base: "${archive.base}/good" } }\n  loopback-bad-4.9-amd64: { machine: q35, mainline: { version: v4.9.229, arch: amd64, base: "${archive.base}/bad" } }\n  debs-4.9-amd64: { machine: q35, arch: amd64, debs: { packages: ["${SHARED}"] } }\n`)
      .replace(/^matrix:\n/m, 'matrix:\n  - { kernels: [loopback-4.9-amd64, loopback-bad-4.9-amd64, debs-4.9-amd64], drivers: [kmod], sources: ["0.23.2"] }\n');
    r = await runMatrix([KMOD, EBPF, ARM, MAINLINE, BAD, DEBS, EBPF61], parseMatrix(text, path.resolve('matrix.yaml')));
  });

  after(async () => {
    await endRuns(); // a run the timed-out hook left going, before its archive goes
    archive?.server.close();
    if (archive) for (const t of ['good', 'bad']) await rm(mainlineCacheDir(`${archive.base}/${t}`), { recursive: true, force: true });
  });

  it(`${KMOD}: the module builds with the kernel's gcc-11 (read from compile.h), loads on 4.9 and captures the marker`, () => {
    const c = r.byId.get(KMOD)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.kernel.release, '4.9.229');
    assert.equal(c.kernel.version, '4.9.229');
    assert.match(c.kernel.compiler!, /gcc version 11\.3\.0 .*\(from compile\.h\)/);
    assert.equal(c.kernel.builder, 'bookworm gcc-11');
    assert.equal(c.evidence?.marker, true);
  });

  it(`${EBPF}: the legacy probe refuses a kernel below 4.14 at build time (quirks.h)`, () => {
    const c = r.byId.get(EBPF)!;
    assert.equal(c.status, 'fail', describeCell(c));
    assert.equal(c.phase, 'build');
    assert.match(c.firstError!, /Kernel version must be >= 4\.14 with eBPF enabled/);
  });

  it(`${ARM}: cross-built against a self-built arm64 tree (ARCH/CROSS_COMPILE pinned in it), on QEMU virt`, () => {
    const c = r.byId.get(ARM)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.kernel.arch, 'arm64');
    assert.equal(c.kernel.builder, 'bookworm gcc-11');
  });

  it(`${MAINLINE}: a mainline-style archive (CHECKSUMS verified) gives the same kernel and result`, () => {
    const c = r.byId.get(MAINLINE)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.match(c.kernel.package!, /^mainline:v4\.9\.229\/amd64 linux-image-4\.9\.229=4\.9\.229-1 \(http:\/\/127\.0\.0\.1:\d+\/good\)$/);
  });

  it(`${BAD}: a wrong sha256 in CHECKSUMS is refused with a clear error, nothing kept, no driver result`, () => {
    const c = r.byId.get(BAD)!;
    assert.equal(c.status, 'error', describeCell(c));
    assert.equal(c.phase, 'fetch');
    assert.match(c.reason!, /sha256 mismatch for http:\/\/127\.0\.0\.1:\d+\/bad\/v4\.9\.229\/linux-image-unsigned-4\.9\.229-040929-generic_4\.9\.229-040929\.202011281743_amd64\.deb: .*CHECKSUMS says [0-9a-f]{64}, the download is [0-9a-f]{64} .*refused, nothing kept/);
    assert.equal(c.evidence, undefined);
    assert.ok(!existsSync(path.join(cacheDir(), 'downloads', wrongSha)), 'the refused download is not kept');
    assert.equal(kernelOutcome('loopback-bad-4.9-amd64', [c]).outcome, 'none');
  });

  it(`${DEBS}: kernel packages named in matrix.yaml (a directory of both arches: the amd64 ones are taken)`, () => {
    const c = r.byId.get(DEBS)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.kernel.package, 'linux-image-4.9.229=4.9.229-1');
  });

  it('ebpf-min-4.14 is judged from cells on both sides of 4.14: the probe fails on 4.9 and passes on 6.1', () => {
    assert.equal(r.byId.get(EBPF61)!.status, 'pass', describeCell(r.byId.get(EBPF61)));
    const table = loadRecommended('recommended-drivers.yaml');
    const v = claimVerdicts(table, r.results).find((x) => x.id === 'ebpf-min-4.14')!;
    assert.equal(v.verdict, 'supported', v.why);
    // the probe's own version check (its class), not any failure below 4.14
    assert.match(v.why, /^ebpf refuses the kernels below 4\.14 as such on store-4\.9-amd64 \(build:kernel-version-check\) and passes on debian-6\.1-amd64$/);
    assert.equal(r.byId.get(EBPF)!.class, 'build:kernel-version-check');
    assert.match(r.byId.get(EBPF)!.firstError ?? '', /Kernel version must be >= 4\.14/);
    assert.deepEqual(v.cells, [EBPF, EBPF61]);
  });

  it('leaves no QEMU behind', async () => {
    assert.deepEqual(await qemuProcesses(), []);
  });
});
