// The apt kernel kind against a repository built here (apt-ftparchive, a gpg
// key of the test's own), served on 127.0.0.1: discovery, pairing,
// signatures, checksums, skips. No VM; extraction and builder choice run for
// real (the builder suites' compilers come from a stand-in Debian).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closedPort } from '../loopback.js';
import type { Debian } from '../../harness/apt.js';
import { setCacheDir } from '../../harness/cache/cache.js';
import { CellSkip, UserError } from '../../harness/errors.js';
import { aptImageRelease, aptKernels, clearsignedText, releaseSha256, UNSIGNED_NOTE, type AptKernelSource } from '../../harness/kernels/aptrepo.js';
import { ChecksumMismatch, KernelUnreachable } from '../../harness/kernels/download.js';
import { describeKernel, fetchKernel } from '../../harness/kernels/index.js';
import { SignatureInvalid } from '../../harness/kernels/repository.js';
import { parseMatrix } from '../../harness/matrix.js';
import type { KernelSpec } from '../../harness/types.js';
import { addToPool, dropKey, fakeDeb, makeKey, serveDir, tamper, writeSuite, type TestKey } from '../apt-repository.js';

/** Stands in for the Debian archive where the builder root is chosen: bookworm ships gcc-12 (as the real one does). */
const debian = {
  suites: {},
  dist: (suite: string) => ({ update: async () => {}, apt: async (_tool: string, args: string[]) => (suite === 'bookworm' && args[1] === 'gcc-' ? 'gcc-12\ngcc-12-base\n' : '') }),
} as unknown as Debian;

const CONFIG = 'CONFIG_MODULES=y\nCONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14) 12.2.0"\n';

/** An Ubuntu kernel's packages: image (signed and/or unsigned), modules, modules-extra, headers → common headers. */
async function ubuntuKernel(out: string, o: { release: string; version: string; common: string; image: ('signed' | 'unsigned')[] }): Promise<string[]> {
  const r = o.release;
  const debs = [];
  for (const kind of o.image)
    debs.push(
      await fakeDeb(out, { Package: kind === 'signed' ? `linux-image-${r}` : `linux-image-unsigned-${r}`, Version: o.version, Architecture: 'amd64', Depends: `linux-modules-${r}` }, {
        [`boot/vmlinuz-${r}`]: `${kind} vmlinuz ${r}`,
        [`boot/config-${r}`]: CONFIG,
      }),
    );
  debs.push(await fakeDeb(out, { Package: `linux-modules-${r}`, Version: o.version, Architecture: 'amd64' }, { [`lib/modules/${r}/kernel/fs/x.ko`]: 'ko' }));
  debs.push(await fakeDeb(out, { Package: `linux-modules-extra-${r}`, Version: o.version, Architecture: 'amd64' }, { [`lib/modules/${r}/kernel/fs/extra.ko`]: 'ko' }));
  debs.push(
    await fakeDeb(out, { Package: `linux-headers-${r}`, Version: o.version, Architecture: 'amd64', Depends: `${o.common}, libc6 (>= 2.34)` }, {
      [`usr/src/linux-headers-${r}/.config`]: CONFIG,
      [`usr/src/linux-headers-${r}/Makefile`]: `include ../${o.common}/Makefile\n`,
    }),
  );
  debs.push(await fakeDeb(out, { Package: o.common, Version: o.version, Architecture: 'all' }, { [`usr/src/${o.common}/Makefile`]: 'VERSION = 5\nPATCHLEVEL = 15\nSUBLEVEL = 0\n' }));
  return debs;
}

describe('kernels: apt repositories (the apt kind)', function () {
  this.timeout(180_000);
  let dir: string, repo: string, key: TestKey, other: TestKey, served: Awaited<ReturnType<typeof serveDir>>;
  let cacheN = 0;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'km-aptrepo-'));
    repo = path.join(dir, 'repo');
    key = await makeKey(path.join(dir, 'gnupg'));
    other = await makeKey(path.join(dir, 'gnupg-other'), 'someone else');
    const out = path.join(dir, 'debs');
    await mkdir(out);
    await addToPool(repo, 'main', 'l/linux', await ubuntuKernel(out, { release: '5.15.0-100-generic', version: '5.15.0-100.110', common: 'linux-headers-5.15.0-100', image: ['unsigned'] }));
    // 999 sorts after 1127 as text, before it as a Debian version: the newest is 1127
    await addToPool(repo, 'main', 'l/linux-azure', [
      ...(await ubuntuKernel(out, { release: '5.15.0-999-azure', version: '5.15.0-999.1', common: 'linux-azure-headers-5.15.0-999', image: ['signed'] })),
      ...(await ubuntuKernel(out, { release: '5.15.0-1127-azure', version: '5.15.0-1127.136', common: 'linux-azure-headers-5.15.0-1127', image: ['signed', 'unsigned'] })),
    ]);
    const suite = (suite: string, signing: 'inrelease' | 'detached' | 'none', editPackages?: (t: string) => string) => writeSuite({ repo, suite, component: 'main', arch: 'amd64', key, signing, ...(editPackages ? { editPackages } : {}) });
    await suite('jammy', 'inrelease');
    await suite('jammy-detached', 'detached');
    await suite('jammy-unsigned', 'none');
    await suite('jammy-badsig', 'inrelease');
    await tamper(path.join(repo, 'dists/jammy-badsig/InRelease'), /^Suite: jammy-badsig$/m, 'Suite: jammy-evil');
    // the index (which the signed Release pins) gives a wrong SHA256 for the azure image
    await suite('jammy-baddeb', 'inrelease', (t) =>
      t.replace(/(Package: linux-image-5\.15\.0-1127-azure\n[\s\S]*?SHA256: )([0-9a-f]{64})/, (_, head: string, h: string) => head + (h[0] === '0' ? '1' : '0') + h.slice(1)),
    );
    served = await serveDir(repo);
  });

  after(async () => {
    setCacheDir(undefined);
    await served?.close();
    for (const k of [key, other]) if (k) await dropKey(k);
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh cache for each fetch: what one leaves behind is seen alone. */
  function freshCache(): string {
    const c = path.join(dir, `cache-${cacheN++}`);
    setCacheDir(c);
    return c;
  }

  const kernel = (apt: Partial<AptKernelSource>): KernelSpec => ({
    id: 'k',
    arch: 'amd64',
    machine: 'q35',
    source: { kind: 'apt', url: served.url, suite: 'jammy', component: 'main', key: key.file, ...apt } as AptKernelSource,
  });
  const fetch = (apt: Partial<AptKernelSource>) => fetchKernel(kernel(apt), { debian, settings: {} });
  const names = (t: { packages: { name: string }[] }) => t.packages.map((p) => p.name);
  /** What a cache holds at its top (downloads, resolved, kernels, …) with how many entries in each. */
  const holds = (c: string) => (existsSync(c) ? readdirSync(c).filter((d) => !d.startsWith('.') && readdirSync(path.join(c, d)).length) : []);

  it('flavour → the newest release of the flavour by Debian version order, its signed image, modules and headers with their common part (extra modules not taken, said so)', async () => {
    freshCache();
    const t = await fetch({ flavour: 'azure' });
    assert.equal(t.release, '5.15.0-1127-azure');
    assert.deepEqual(names(t), ['linux-image-5.15.0-1127-azure', 'linux-modules-5.15.0-1127-azure', 'linux-headers-5.15.0-1127-azure', 'linux-azure-headers-5.15.0-1127']);
    assert.equal(readFileSync(t.image, 'utf8'), 'signed vmlinuz 5.15.0-1127-azure');
    assert.ok(existsSync(path.join(t.root, 'usr/src/linux-azure-headers-5.15.0-1127/Makefile')), 'the common headers are extracted beside the flavour ones');
    assert.equal(t.version, '5.15.0');
    assert.deepEqual({ suite: t.builder.suite, compiler: t.builder.compiler }, { suite: 'bookworm', compiler: 'gcc-12' });
    assert.equal(t.origin, `apt:${served.url} jammy/main linux-image-5.15.0-1127-azure=5.15.0-1127.136 (linux-modules-extra-5.15.0-1127-azure not taken: not needed to boot)`);
    assert.ok(!t.origin.includes(UNSIGNED_NOTE));
  });

  it('an exact release; the generic flavour with its unsigned image and linux-headers-<abi>', async () => {
    freshCache();
    const old = await fetch({ release: '5.15.0-999-azure' });
    assert.equal(old.release, '5.15.0-999-azure');
    assert.deepEqual(names(old), ['linux-image-5.15.0-999-azure', 'linux-modules-5.15.0-999-azure', 'linux-headers-5.15.0-999-azure', 'linux-azure-headers-5.15.0-999']);
    const generic = await fetch({ flavour: 'generic' });
    assert.equal(generic.release, '5.15.0-100-generic');
    assert.deepEqual(names(generic), ['linux-image-unsigned-5.15.0-100-generic', 'linux-modules-5.15.0-100-generic', 'linux-headers-5.15.0-100-generic', 'linux-headers-5.15.0-100']);
    await assert.rejects(fetch({ release: '5.15.0-1-azure' }), (e: Error) => e instanceof CellSkip && /has no linux-image of 5\.15\.0-1-azure \(it has: .*5\.15\.0-1127-azure/.test(e.message));
    await assert.rejects(fetch({ flavour: 'aws' }), (e: Error) => e instanceof UserError && /has no kernel of flavour aws/.test(e.message));
  });

  it('Release + Release.gpg (no InRelease) verifies as well; a warm fetch asks the repository nothing', async () => {
    freshCache();
    const t = await fetch({ suite: 'jammy-detached', flavour: 'azure' });
    assert.equal(t.release, '5.15.0-1127-azure');
    assert.ok(t.origin.includes('jammy-detached/main'));
    const port = Number(new URL(served.url).port);
    await served.close();
    try {
      const warm = await fetch({ suite: 'jammy-detached', flavour: 'azure' });
      assert.equal(warm.root, t.root);
      assert.equal(warm.origin, t.origin);
    } finally {
      served = await serveDir(repo, port); // the same URL again for the other tests
    }
  });

  it('a Release whose signature does not verify (tampered, or another key) is an error, and nothing is cached', async () => {
    let c = freshCache();
    await assert.rejects(fetch({ suite: 'jammy-badsig', flavour: 'azure' }), (e: Error) => e instanceof SignatureInvalid && /^http:\/\/127\.0\.0\.1:\d+\/dists\/jammy-badsig\/InRelease: the signature does not verify with the given key \(gpgv: .*\); refused, nothing kept$/.test(e.message));
    assert.deepEqual(holds(c), []);
    c = freshCache();
    await assert.rejects(fetch({ flavour: 'azure', key: other.file }), (e: Error) => e instanceof SignatureInvalid && /jammy\/InRelease: the signature does not verify/.test(e.message));
    assert.deepEqual(holds(c), []);
  });

  it('a .deb whose sha256 is not the one the index gives is an error naming it, and nothing is cached', async () => {
    const c = freshCache();
    await assert.rejects(fetch({ suite: 'jammy-baddeb', flavour: 'azure' }), (e: Error) => e instanceof ChecksumMismatch && /^sha256 mismatch for http:\/\/127\.0\.0\.1:\d+\/pool\/main\/l\/linux-azure\/linux-image-5\.15\.0-1127-azure_5\.15\.0-1127\.136_amd64\.deb: .*refused, nothing kept$/.test(e.message));
    assert.deepEqual(holds(c), []);
  });

  it('an unsigned repository is refused, and accepted with insecure: true (the kernel records it)', async () => {
    const c = freshCache();
    await assert.rejects(fetch({ suite: 'jammy-unsigned', flavour: 'azure' }), (e: Error) => e instanceof SignatureInvalid && /dists\/jammy-unsigned: the repository is not signed \(no InRelease, no Release\.gpg\); refused, nothing kept \(`insecure: true`/.test(e.message));
    assert.deepEqual(holds(c), []);
    const t = await fetch({ suite: 'jammy-unsigned', flavour: 'azure', insecure: true });
    assert.equal(t.release, '5.15.0-1127-azure');
    assert.ok(t.origin.endsWith(`; ${UNSIGNED_NOTE})`), t.origin);
  });

  it('an unset ${VAR} in the url is a skip naming the variable; an unreachable repository a skip naming the URL and the error', async () => {
    freshCache();
    delete process.env.KMATRIX_TEST_APT_UNSET;
    await assert.rejects(fetch({ url: '${KMATRIX_TEST_APT_UNSET}/ubuntu', flavour: 'azure' }), (e: Error) => e instanceof CellSkip && e.message.includes('${KMATRIX_TEST_APT_UNSET} is not set'));
    process.env.KMATRIX_TEST_APT_SET = served.url;
    try {
      assert.equal((await fetch({ url: '${KMATRIX_TEST_APT_SET}', release: '5.15.0-999-azure' })).release, '5.15.0-999-azure');
    } finally {
      delete process.env.KMATRIX_TEST_APT_SET;
    }
    const port = await closedPort();
    await assert.rejects(fetch({ url: `http://127.0.0.1:${port}`, flavour: 'azure' }), (e: Error) => e instanceof KernelUnreachable && e.message.startsWith(`kernel source unreachable: http://127.0.0.1:${port}/dists/jammy/InRelease: connect ECONNREFUSED`));
    await assert.rejects(fetch({ suite: 'noble', flavour: 'azure' }), (e: Error) => e instanceof KernelUnreachable && /dists\/noble\/Release: HTTP 404/.test(e.message));
  });
});

describe('kernels: apt kind, parts', () => {
  it('names the release of Ubuntu and Debian image packages, signed or not', () => {
    assert.deepEqual(aptImageRelease('linux-image-5.15.0-1127-azure'), { release: '5.15.0-1127-azure', unsigned: false });
    assert.deepEqual(aptImageRelease('linux-image-unsigned-5.15.0-1127-azure'), { release: '5.15.0-1127-azure', unsigned: true });
    assert.deepEqual(aptImageRelease('linux-image-6.12.12+bpo-cloud-amd64-unsigned'), { release: '6.12.12+bpo-cloud-amd64', unsigned: true });
    assert.equal(aptImageRelease('linux-image-cloud-amd64'), undefined);
    assert.equal(aptImageRelease('linux-image-6.1.0-30-cloud-amd64-dbg'), undefined);
  });

  it("reads a Release's SHA256 section and a clearsigned text (dash-escaped lines restored)", () => {
    const h = 'a'.repeat(64);
    assert.deepEqual([...releaseSha256(`Suite: x\nMD5Sum:\n ${'b'.repeat(32)} 1 main/binary-amd64/Packages\nSHA256:\n ${h} 12 main/binary-amd64/Packages\n ${'c'.repeat(64)} 3 main/binary-amd64/Packages.xz\n`)], [
      ['main/binary-amd64/Packages', h],
      ['main/binary-amd64/Packages.xz', 'c'.repeat(64)],
    ]);
    assert.equal(clearsignedText('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSuite: x\n- -----odd\n-----BEGIN PGP SIGNATURE-----\nxx\n'), 'Suite: x\n-----odd');
  });

  const matrix = (apt: string) => `
kernels:
  k: { arch: amd64, machine: q35, apt: ${apt} }
consumers:
  c: { kind: sysdig, debian: { suite: sid, package: sysdig }, engines: [kmod], requires: { api: "8.0.0", schema: "4.0.0" } }
sources:
  s: { debian: { suite: sid, package: falcosecurity-scap-dkms }, consumer: c }
matrix:
  - { kernels: [k], drivers: [kmod], sources: [s] }
`;

  it('parses the fragment into the spec `kmatrix check` builds too (key relative to the matrix file), and says what is wrong', () => {
    const m = parseMatrix(matrix('{ url: "${REPO}/ubuntu", suite: jammy-updates, component: main, key: keys/ubuntu.gpg, flavour: azure }'), '/m/m.yaml');
    assert.deepEqual(m.kernels.k!.source, { kind: 'apt', url: '${REPO}/ubuntu', suite: 'jammy-updates', component: 'main', key: '/m/keys/ubuntu.gpg', flavour: 'azure' });
    const insecure = parseMatrix(matrix('{ url: "http://h/x", suite: s, component: main, release: 5.15.0-1127-azure, insecure: true }'), '/m/m.yaml');
    assert.deepEqual(insecure.kernels.k!.source, { kind: 'apt', url: 'http://h/x', suite: 's', component: 'main', release: '5.15.0-1127-azure', insecure: true });
    const bad = (apt: string, re: RegExp) => assert.throws(() => parseMatrix(matrix(apt), 'm.yaml'), (e: Error) => e instanceof UserError && re.test(e.message));
    bad('{ url: "http://h", suite: s, component: main, key: k, flavour: a, release: "5.1" }', /^m\.yaml:3: kernels\.k\.apt needs exactly one of "flavour" \(the newest kernel of a flavour\) or "release" \(an exact one\)\.$/);
    bad('{ url: "http://h", suite: s, component: main, key: k }', /kernels\.k\.apt needs exactly one of "flavour"/);
    bad('{ url: "http://h", suite: s, component: main, flavour: a }', /has no "key": give the repository's signing key .* or `insecure: true`/);
    bad('{ url: "ftp://h", suite: s, component: main, key: k, flavour: a }', /kernels\.k\.apt\.url does not match/);
  });

  it('explain tells where the kernel comes from without fetching', () => {
    const m = parseMatrix(matrix('{ url: "${REPO}", suite: bookworm-backports, component: main, key: /usr/share/keyrings/debian-archive-keyring.gpg, flavour: cloud-amd64 }'), '/m/m.yaml');
    const d = describeKernel(m.kernels.k!, {});
    assert.equal(d.release, '<release>');
    assert.match(d.source[0]!, /^apt repository \$\{REPO\} bookworm-backports\/main \(amd64\): Release verified with the key \/usr\/share\/keyrings\/debian-archive-keyring\.gpg/);
    assert.match(d.source[1]!, /the newest linux-image\(-unsigned\)-<abi>-cloud-amd64/);
    assert.equal(aptKernels.describe!({ kind: 'apt', url: 'http://h', suite: 's', component: 'main', release: '1.2', insecure: true }, m.kernels.k!, {}).source[0]!.includes(UNSIGNED_NOTE), true);
  });
});

