// The yum kernel kind against repositories made here: rpmbuild packages,
// createrepo_c metadata (gzip, xz and zstd primary.xml), a signing key made in
// a throwaway GNUPGHOME, served on loopback. No VM, no network.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Debian } from '../../harness/apt.js';
import { cacheDir, setCacheDir } from '../../harness/cache/cache.js';
import { CellSkip, UserError } from '../../harness/errors.js';
import { ChecksumMismatch } from '../../harness/kernels/download.js';
import { describeKernel, fetchKernel } from '../../harness/kernels/index.js';
import { SignatureInvalid } from '../../harness/kernels/repository.js';
import { compareEvr, readRpmHeader, rpmvercmp } from '../../harness/kernels/rpms.js';
import { importKernels, readStoreEntry } from '../../harness/kernels/store.js';
import { parseMatrix } from '../../harness/matrix.js';
import type { KernelSpec, KernelTree } from '../../harness/types.js';
import { createrepo, makeRpm, serveDir, testKey, zstdPrimary } from '../yum-fixtures.js';

const R = '5.14.0-427.el9.x86_64';
const OLD = '5.14.0-70.el9.x86_64';
const AL2 = '4.14.336-257.562.amzn2.x86_64';

/** A Debian whose suites offer gcc 11 and 12 (the builder choice needs apt lists; these tests have no mirror). */
const debian = {
  suites: {},
  dist: () => ({ update: async () => undefined, apt: async (_: string, args: string[]) => (args[1] === 'gcc-' ? 'gcc-11\ngcc-12\n' : 'clang-14\n') }),
} as unknown as Debian;

const develFiles = (r: string, cc: string) => ({
  [`usr/src/kernels/${r}/.config`]: `CONFIG_MODULES=y\n${cc}`,
  [`usr/src/kernels/${r}/Makefile`]: `VERSION = ${r.split('.')[0]}\nPATCHLEVEL = ${r.split('.')[1]}\nSUBLEVEL = 0\nARCH ?= $(SUBARCH)\n`,
  [`usr/src/kernels/${r}/Module.symvers`]: '0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\n',
});
const EL_CC = 'CONFIG_CC_VERSION_TEXT="gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)"\n';

describe('yum repositories (kernels from rpm-md repositories)', function () {
  this.timeout(120_000);
  let work: string;
  let key: Awaited<ReturnType<typeof testKey>> | undefined;
  let srv: { server: Server; base: string; requests: string[] };
  let armored: string;
  let closed: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'km-yum-'));
    key = await testKey(work);
    armored = await key.armored();
    // RHEL 9 style: kernel (empty) + kernel-core + kernel-modules(-core) + kernel-devel, an older kernel, decoys newer than both
    const el9 = path.join(work, 'el9/Packages');
    const mods = `lib/modules/${R}/kernel`;
    await Promise.all([
      makeRpm(work, el9, { name: 'kernel', version: '5.14.0', release: '427.el9' }),
      makeRpm(work, el9, {
        name: 'kernel-core',
        version: '5.14.0',
        release: '427.el9',
        payload: 'zstd',
        files: { [`lib/modules/${R}/vmlinuz`]: 'image 427', [`lib/modules/${R}/config`]: EL_CC, [`lib/modules/${R}/build`]: { link: `/usr/src/kernels/${R}` } },
      }),
      makeRpm(work, el9, { name: 'kernel-modules-core', version: '5.14.0', release: '427.el9', files: { [`${mods}/drivers/block/virtio_blk.ko.xz`]: 'xz module' } }),
      makeRpm(work, el9, { name: 'kernel-modules', version: '5.14.0', release: '427.el9', files: { [`${mods}/drivers/net/dummy.ko.zst`]: 'zst module' } }),
      makeRpm(work, el9, { name: 'kernel-devel', version: '5.14.0', release: '427.el9', files: develFiles(R, EL_CC) }),
      makeRpm(work, el9, { name: 'kernel', version: '5.14.0', release: '70.el9' }),
      makeRpm(work, el9, { name: 'kernel-core', version: '5.14.0', release: '70.el9', files: { [`lib/modules/${OLD}/vmlinuz`]: 'image 70' } }),
      makeRpm(work, el9, { name: 'kernel-devel', version: '5.14.0', release: '70.el9', files: develFiles(OLD, EL_CC) }),
      makeRpm(work, el9, { name: 'kernel-headers', version: '5.14.0', release: '500.el9', files: { 'usr/include/linux/kmatrix.h': '' } }),
      makeRpm(work, el9, { name: 'kernel-debug-core', epoch: 1, version: '5.14.0', release: '500.el9', files: { [`lib/modules/${R}+debug/vmlinuz`]: 'debug image' } }),
    ]);
    await createrepo(path.join(work, 'el9'));
    await key.sign(path.join(work, 'el9/repodata/repomd.xml'));
    // the same with a zstd primary.xml
    await cp(path.join(work, 'el9'), path.join(work, 'el9zst'), { recursive: true });
    await zstdPrimary(path.join(work, 'el9zst'));
    await key.sign(path.join(work, 'el9zst/repodata/repomd.xml'));
    // tampered copies: repomd.xml changed after signing; primary.xml not the one repomd.xml pins; a package not the one primary.xml pins
    await cp(path.join(work, 'el9'), path.join(work, 'tampered'), { recursive: true });
    await appendFile(path.join(work, 'tampered/repodata/repomd.xml'), '<!-- -->\n');
    await cp(path.join(work, 'el9'), path.join(work, 'badprimary'), { recursive: true });
    const primary = readdirSync(path.join(work, 'badprimary/repodata')).find((f) => f.endsWith('primary.xml.gz'))!;
    await writeFile(path.join(work, 'badprimary/repodata', primary), gzipSync('<metadata packages="0"></metadata>'));
    await cp(path.join(work, 'el9'), path.join(work, 'badopen'), { recursive: true });
    const repomd = path.join(work, 'badopen/repodata/repomd.xml');
    await writeFile(repomd, readFileSync(repomd, 'utf8').replace(/(<data type="primary">[\s\S]*?<open-checksum type="sha256">)[0-9a-f]{64}/, `$1${'0'.repeat(64)}`));
    await cp(path.join(work, 'el9'), path.join(work, 'badrpm'), { recursive: true });
    await cp(path.join(el9, 'kernel-core-5.14.0-70.el9.x86_64.rpm'), path.join(work, 'badrpm/Packages/kernel-core-5.14.0-427.el9.x86_64.rpm'));
    // Amazon Linux 2 style: `kernel` holds image and modules, packages outside the repository (../../blobstore/), a mirror list, xz metadata
    const al2 = path.join(work, 'al2/core/2.0/x86_64/f00d');
    await Promise.all([
      makeRpm(work, al2, {
        name: 'kernel',
        version: '4.14.336',
        release: '257.562.amzn2',
        payload: 'gzip',
        files: { [`boot/vmlinuz-${AL2}`]: 'al2 image', [`boot/config-${AL2}`]: 'CONFIG_MODULES=y\n', [`lib/modules/${AL2}/kernel/fs/ext4/ext4.ko`]: 'module' },
      }),
      makeRpm(work, al2, {
        name: 'kernel-devel',
        version: '4.14.336',
        release: '257.562.amzn2',
        files: { ...develFiles(AL2, ''), [`usr/src/kernels/${AL2}/include/generated/compile.h`]: '#define LINUX_COMPILER "gcc version 7.3.1 20180712 (Red Hat 7.3.1-17) (GCC) "\n' },
      }),
      makeRpm(work, al2, { name: 'kernel', version: '4.14.101', release: '75.76.amzn2', files: { 'boot/vmlinuz-4.14.101-75.76.amzn2.x86_64': 'older' } }),
    ]);
    await createrepo(al2, ['--general-compress-type', 'xz', '--location-prefix', '../../blobstore/']);
    await mkdir(path.join(work, 'al2/core/2.0/blobstore'));
    for (const f of await readdir(al2)) if (f.endsWith('.rpm')) await rename(path.join(al2, f), path.join(work, 'al2/core/2.0/blobstore', f));
    srv = await serveDir(work);
    const dead = await serveDir(work);
    closed = dead.base;
    await new Promise((r) => dead.server.close(r));
    await mkdir(path.join(work, 'al2/core/latest/x86_64'), { recursive: true });
    await writeFile(path.join(work, 'al2/core/latest/x86_64/mirror.list'), `${closed}/al2/core/2.0/$basearch/f00d\n${srv.base}/al2/core/2.0/$basearch/f00d\n`);
    await writeFile(path.join(work, 'key.asc'), armored);
  });

  after(async () => {
    await key?.drop();
    srv?.server.close();
    setCacheDir(undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    setCacheDir(await mkdtemp(path.join(work, 'cache-')));
    srv.requests.length = 0;
  });

  /** A yum kernel of a matrix (its key file beside it), parsed like any. */
  const kernelOf = (yum: string): KernelSpec =>
    parseMatrix(
      `kernels:\n  k: { machine: q35, arch: amd64, yum: ${yum} }\nconsumers:\n  c: { kind: sysdig, debian: { suite: sid, package: sysdig }, engines: [kmod], requires: { api: "8.0.0", schema: "4.0.0" } }\nsources:\n  s: { debian: { suite: sid, package: falcosecurity-scap-dkms }, consumer: c }\nmatrix:\n  - { kernels: [k], drivers: [kmod], sources: [s] }\n`,
      path.join(work, 'matrix.yaml'),
    ).kernels.k!;
  const fetchYum = (yum: string): Promise<KernelTree> => fetchKernel(kernelOf(yum), { debian, settings: {} });
  const rpmRequests = () => srv.requests.filter((u) => u.endsWith('.rpm')).map((u) => path.basename(u));

  it('parses url or mirrorlist, key (a file relative to the matrix, or armored), release or newest; says what is missing', () => {
    assert.deepEqual(kernelOf('{ url: "${YUM}/el9", key: key.asc, newest: kernel }').source, { kind: 'yum', url: '${YUM}/el9', key: path.join(work, 'key.asc'), newest: 'kernel' });
    assert.deepEqual(kernelOf(`{ mirrorlist: [a, b], release: ${R} }`).source, { kind: 'yum', mirrorlist: ['a', 'b'], release: R });
    assert.equal((kernelOf(`{ url: u, key: ${JSON.stringify(armored)}, newest: kernel }`).source as any).key, armored);
    for (const bad of ['{ url: u }', '{ url: u, mirrorlist: m, newest: kernel }', `{ url: u, newest: kernel, release: ${R} }`])
      assert.throws(() => kernelOf(bad), (e: Error) => e instanceof UserError && /matrix\.yaml:2: kernels\.k\.yum needs exactly one of "url" or "mirrorlist", and exactly one of "release" \(uname -r\) or "newest"/.test(e.message));
    assert.throws(() => kernelOf('{ url: u, newest: linux-image }'), /kernels\.k\.yum\.newest does not match \^kernel/);
  });

  it("orders versions as rpm does (rpm's own rpm.vercmp), epoch first", async () => {
    const pairs: [string, string][] = [
      ['427.el9', '70.el9'], ['5.14.0', '5.14'], ['1.0~rc1', '1.0'], ['1.0^git1', '1.0'], ['1.0^git1', '1.0.1'], ['1.0~rc1', '1.0~rc2'], ['2a', '2.0'], ['1.010', '1.9'],
      ['a', '1'], ['1.0a', '1.0.1'], ['257.562.amzn2', '75.76.amzn2'], ['1_2', '1.2'], ['el9_4', 'el9'], ['1.', '1'], ['abc', 'abd'], ['1.0', '1.0'],
    ];
    const lua = pairs.map(([a, b]) => `print(rpm.vercmp("${a}", "${b}") .. " ")`).join(' ');
    const rpm = (await execa('rpm', ['--eval', `%{lua: ${lua}}`])).stdout.trim().split(/\s+/).map(Number);
    assert.equal(rpm.length, pairs.length);
    assert.deepEqual(pairs.map(([a, b]) => rpmvercmp(a, b)), rpm);
    assert.deepEqual(pairs.map(([a, b]) => rpmvercmp(b, a)), rpm.map((x) => -x || 0));
    assert.equal(compareEvr({ epoch: 1, ver: '1', rel: '1' }, { epoch: 0, ver: '9', rel: '9' }), 1);
    assert.equal(compareEvr({ epoch: 0, ver: '5.14.0', rel: '70.el9' }, { epoch: 0, ver: '5.14.0', rel: '427.el9' }), -1);
  });

  it('reads name, epoch, version, release and arch from an rpm header as rpm -qp does', async () => {
    const dir = path.join(work, 'el9/Packages');
    for (const f of readdirSync(dir)) {
      const q = (await execa('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH}', path.join(dir, f)])).stdout;
      const h = await readRpmHeader(path.join(dir, f));
      assert.equal(`${h.name} ${h.epoch} ${h.ver} ${h.rel} ${h.arch}`, q, f);
    }
    await assert.rejects(readRpmHeader(path.join(work, 'key.asc')), (e: Error) => e instanceof UserError && /key\.asc is not an rpm package/.test(e.message));
  });

  it('newest: kernel from a signed RHEL 9-style repository: kernel-core, kernel-modules(-core), kernel-devel; never the decoys', async () => {
    process.env.KMATRIX_TEST_YUM = srv.base;
    try {
      const k = await fetchYum('{ url: "${KMATRIX_TEST_YUM}/el9", key: key.asc, newest: kernel }');
      assert.equal(k.release, R);
      assert.equal(k.headers, `usr/src/kernels/${R}`);
      assert.equal(path.relative(k.root, k.image), `lib/modules/${R}/vmlinuz`);
      assert.equal(readFileSync(k.image, 'utf8'), 'image 427');
      assert.deepEqual(k.packages.map((p) => `${p.name}-${p.version}`), ['kernel', 'kernel-core', 'kernel-modules-core', 'kernel-modules', 'kernel-devel'].map((n) => `${n}-5.14.0-427.el9`));
      assert.ok(k.packages.every((p) => /^[0-9a-f]{64}$/.test(p.sha256)));
      assert.match(k.origin, new RegExp(`^yum:${R} \\(kernel-5\\.14\\.0-427\\.el9\\.x86_64, kernel-core-.*\\) from ${srv.base}/el9$`));
      assert.deepEqual(k.builder, {
        suite: 'bullseye', compiler: 'gcc-11', plainName: true,
        vendor: "the kernel's gcc 11.4.1 is Red Hat's build (gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)); its drivers are built with Debian's gcc-11 from bullseye",
      });
      assert.match(k.compiler, /^gcc \(GCC\) 11\.4\.1 .* \(from CONFIG_CC_VERSION_TEXT\)$/);
      assert.equal(k.version, '5.14.0');
      // modules as they are; the build link relative, into the build tree with its Module.symvers
      assert.equal(readFileSync(path.join(k.root, `lib/modules/${R}/kernel/drivers/block/virtio_blk.ko.xz`), 'utf8'), 'xz module');
      assert.equal(readFileSync(path.join(k.root, `lib/modules/${R}/kernel/drivers/net/dummy.ko.zst`), 'utf8'), 'zst module');
      assert.equal(readlinkSync(path.join(k.root, `lib/modules/${R}/build`)), `../../../usr/src/kernels/${R}`);
      assert.ok(existsSync(path.join(k.root, `lib/modules/${R}/build/Module.symvers`)));
      assert.match(readFileSync(path.join(k.root, k.headers, 'Makefile'), 'utf8'), /^# kmatrix: this tree's arch .*\nARCH \?= x86\nVERSION = 5\n/);
      assert.ok(!existsSync(path.join(k.root, 'usr/include')), 'kernel-headers (UAPI) extracted');
      assert.deepEqual(rpmRequests().sort(), ['kernel-5.14.0-427.el9.x86_64.rpm', 'kernel-core-5.14.0-427.el9.x86_64.rpm', 'kernel-devel-5.14.0-427.el9.x86_64.rpm', 'kernel-modules-5.14.0-427.el9.x86_64.rpm', 'kernel-modules-core-5.14.0-427.el9.x86_64.rpm']);
      assert.ok(srv.requests.includes('/el9/repodata/repomd.xml.asc'));
      // the same again: packages from the cache, pinned by their sha256
      srv.requests.length = 0;
      assert.equal((await fetchYum('{ url: "${KMATRIX_TEST_YUM}/el9", key: key.asc, newest: kernel }')).root, k.root);
      assert.deepEqual(rpmRequests(), []);
    } finally {
      delete process.env.KMATRIX_TEST_YUM;
    }
  });

  it('release: an exact kernel (uname -r); one only decoys have is a skip that lists what there is', async () => {
    const k = await fetchYum(`{ url: "${srv.base}/el9", release: ${OLD} }`);
    assert.equal(k.release, OLD);
    assert.deepEqual(k.packages.map((p) => p.name), ['kernel', 'kernel-core', 'kernel-devel']);
    assert.equal(readFileSync(k.image, 'utf8'), 'image 70');
    await assert.rejects(
      fetchYum(`{ url: "${srv.base}/el9", release: 5.14.0-500.el9.x86_64 }`),
      (e: Error) => e instanceof CellSkip && e.message === `kernel source unavailable: ${srv.base}/el9 has no kernel 5.14.0-500.el9.x86_64 (kernel or kernel-core, x86_64); it has ${R}, ${OLD}`,
    );
    await assert.rejects(fetchYum(`{ url: "${srv.base}/el9", newest: kernel-rt }`), (e: Error) => e instanceof CellSkip && /has no kernel-rt package for x86_64; it has /.test(e.message));
  });

  it('an Amazon Linux 2-style repository: a mirror list ($basearch; the first mirror that answers), packages in ../../blobstore/, xz metadata, `kernel` alone', async () => {
    const k = await fetchYum(`{ mirrorlist: "${srv.base}/al2/core/latest/$basearch/mirror.list", newest: kernel }`);
    assert.equal(k.release, AL2);
    assert.equal(path.relative(k.root, k.image), `boot/vmlinuz-${AL2}`);
    assert.deepEqual(k.packages.map((p) => p.name), ['kernel', 'kernel-devel']);
    assert.match(k.compiler, /^gcc version 7\.3\.1 .*\(from compile\.h\)$/);
    assert.ok(existsSync(path.join(k.root, `lib/modules/${AL2}/kernel/fs/ext4/ext4.ko`)));
    assert.ok(srv.requests.includes('/al2/core/latest/x86_64/mirror.list'));
    assert.ok(srv.requests.some((u) => /^\/al2\/core\/2\.0\/x86_64\/f00d\/repodata\/[0-9a-f]+-primary\.xml\.xz$/.test(u)), srv.requests.join(' '));
    assert.deepEqual(srv.requests.filter((u) => u.endsWith('.rpm')).sort(), [`/al2/core/2.0/blobstore/kernel-4.14.336-257.562.amzn2.x86_64.rpm`, `/al2/core/2.0/blobstore/kernel-devel-4.14.336-257.562.amzn2.x86_64.rpm`]);
    assert.match(describeKernel(kernelOf(`{ mirrorlist: "${srv.base}/al2/m.list", newest: kernel }`), {}).source[0]!, /^yum repository http.*\/al2\/m\.list \(mirror list; the first mirror that answers\): the x86_64 kernel\/kernel-core, kernel-modules\(-core\) and kernel-devel packages of the newest kernel; repomd\.xml NOT signature-checked/);
  });

  it('a zstd-compressed primary.xml', async () => {
    const k = await fetchYum(`{ url: "${srv.base}/el9zst", key: key.asc, release: ${R} }`);
    assert.equal(k.release, R);
    assert.ok(srv.requests.some((u) => /\/el9zst\/repodata\/[0-9a-f]+-primary\.xml\.zst$/.test(u)), srv.requests.join(' '));
  });

  it('a bad or missing repomd.xml signature, a primary.xml or package not the one pinned: errors (not skips), nothing kept', async () => {
    await assert.rejects(
      fetchYum(`{ url: "${srv.base}/tampered", key: key.asc, newest: kernel }`),
      (e: Error) => e instanceof SignatureInvalid && e.message.startsWith(`${srv.base}/tampered/repodata/repomd.xml: the signature does not verify with the given key (gpgv: `) && !e.message.includes('\n'),
    );
    await rm(path.join(work, 'tampered/repodata/repomd.xml.asc'));
    await assert.rejects(fetchYum(`{ url: "${srv.base}/tampered", key: key.asc, newest: kernel }`), (e: Error) => e instanceof UserError && /repomd\.xml\.asc does not exist: the repository is not signed, yet the matrix gives it a key/.test(e.message));
    await assert.rejects(
      fetchYum(`{ url: "${srv.base}/badprimary", newest: kernel }`),
      (e: Error) => e instanceof ChecksumMismatch && new RegExp(`^sha256 mismatch for ${srv.base}/badprimary/repodata/\\w+-primary\\.xml\\.gz: ${srv.base}/badprimary/repodata/repomd\\.xml says checksum [0-9a-f]{64}, it is [0-9a-f]{64} \\(\\d+ bytes\\); refused, nothing kept$`).test(e.message),
    );
    await assert.rejects(
      fetchYum(`{ url: "${srv.base}/badopen", newest: kernel }`),
      (e: Error) => e instanceof ChecksumMismatch && e.message.includes(`/badopen/repodata/repomd.xml says open-checksum ${'0'.repeat(64)}, it is `),
    );
    assert.deepEqual(rpmRequests(), []);
    await assert.rejects(
      fetchYum(`{ url: "${srv.base}/badrpm", key: key.asc, newest: kernel }`),
      (e: Error) => e instanceof ChecksumMismatch && e.message.startsWith(`sha256 mismatch for ${srv.base}/badrpm/Packages/kernel-core-5.14.0-427.el9.x86_64.rpm: ${srv.base}/badrpm primary.xml says `) && e.message.endsWith('refused, nothing kept'),
    );
    const kept = existsSync(path.join(cacheDir(), 'downloads')) ? (readdirSync(path.join(cacheDir(), 'downloads'), { recursive: true }) as string[]) : [];
    assert.ok(!kept.some((f) => f.includes('kernel-core')), `kept: ${kept.join(', ')}`);
  });

  it('an unset URL variable and an unreachable repository or mirror list are skips naming them', async () => {
    delete process.env.KMATRIX_TEST_YUM_UNSET;
    await assert.rejects(fetchYum('{ url: "${KMATRIX_TEST_YUM_UNSET}/el9", newest: kernel }'), (e: Error) => e instanceof CellSkip && e.message.startsWith('the yum repository: ${KMATRIX_TEST_YUM_UNSET} is not set'));
    await assert.rejects(fetchYum(`{ url: "${closed}/el9", newest: kernel }`), (e: Error) => e instanceof CellSkip && e.message.startsWith(`kernel source unreachable: ${closed}/el9/repodata/repomd.xml: connect ECONNREFUSED`));
    await assert.rejects(fetchYum(`{ url: "${srv.base}/nothing", newest: kernel }`), (e: Error) => e instanceof CellSkip && e.message === `kernel source unreachable: ${srv.base}/nothing/repodata/repomd.xml: HTTP 404 Not Found`);
    await writeFile(path.join(work, 'dead.list'), `# only dead mirrors\n${closed}/a\n`);
    await assert.rejects(fetchYum(`{ mirrorlist: "${srv.base}/dead.list", newest: kernel }`), (e: Error) => e instanceof CellSkip && e.message.startsWith(`kernel source unreachable: ${srv.base}/dead.list: no mirror of it answers (${closed}/a/repodata/repomd.xml: connect ECONNREFUSED`));
  });

  it('kmatrix kernel import takes .rpm files: a kernel per release and arch with its kernel-devel, the decoys ignored; the store serves them', async function () {
    this.timeout(60_000);
    const bin = path.resolve('bin/kmatrix.js');
    const r = await execa('node', [bin, '--cache-dir', cacheDir(), 'kernel', 'import', path.join(work, 'el9/Packages')], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.split('\n').sort();
    assert.deepEqual(lines, [
      `imported ${R} amd64 (kernel, kernel-core, kernel-modules-core, kernel-modules, kernel-devel) → in matrix.yaml: store: { release: ${R}, arch: amd64 }`,
      `imported ${OLD} amd64 (kernel, kernel-core, kernel-devel) → in matrix.yaml: store: { release: ${OLD}, arch: amd64 }`,
      'not kernel packages of an imported kernel, ignored: kernel-debug-core-5.14.0-500.el9.x86_64.rpm, kernel-headers-5.14.0-500.el9.x86_64.rpm',
    ]);
    assert.equal(readStoreEntry(R, 'amd64')?.packages.find((p) => p.name === 'kernel-core')?.version, '5.14.0-427.el9');
    const spec = { ...kernelOf(`{ url: u, release: ${R} }`), source: { kind: 'store', release: R } };
    const k = await fetchKernel(spec, { debian, settings: {} });
    assert.equal(k.release, R);
    assert.equal(realpathSync(path.join(k.root, `lib/modules/${R}/build`)), realpathSync(path.join(k.root, k.headers)));
    // no kernel-devel: refused, like a linux-image without headers
    await assert.rejects(importKernels([path.join(work, 'el9/Packages/kernel-core-5.14.0-70.el9.x86_64.rpm')]), /^Error: kmatrix kernel import: no kernel-devel package for 5\.14\.0-70\.el9\.x86_64 \(amd64\)|no kernel-devel package for 5\.14\.0-70\.el9\.x86_64 \(amd64\)/);
  });
});
