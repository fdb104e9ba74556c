import assert from 'node:assert/strict';
import { execa } from 'execa';
import { closedPort } from '../loopback.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { setCacheDir } from '../../harness/cache/cache.js';
import { firstCompilerError } from '../../harness/builder.js';
import { CellSkip } from '../../harness/errors.js';
import { UserError } from '../../harness/errors.js';
import { bannerCompiler, chooseBuilder, compilerAliases, compileHCompiler, compilersInNames, compilerVendor, configVersionCompiler, detectCompiler, imageBanner, parseCompilerText, type KernelCompiler, type SuiteCompilers } from '../../harness/kernels/compiler.js';
import { groupKernels, hostToolsArch, imageRelease, kernelVersion, pinArchMakefile, selectKernel, type KernelDeb } from '../../harness/kernels/debs.js';
import { KernelUnreachable, getBytes } from '../../harness/kernels/download.js';
import { fetchKernel } from '../../harness/kernels/index.js';
import { mainlineDir, mainlinePackages, parseChecksums } from '../../harness/kernels/mainline.js';
import { importKernels, IMPORT_HINT, listStore, readStoreEntry, removeFromStore, storeKey } from '../../harness/kernels/store.js';
import { Debian } from '../../harness/apt.js';
import { parseMatrix } from '../../harness/matrix.js';

const deb = (file: string, arch: string): KernelDeb => {
  const [name = '', version = ''] = file.replace(/\.deb$/, '').split('_');
  return { name, version, arch, file: `/x/${file}`, sha256: '0'.repeat(64) };
};

describe('kernels: compiler detection', () => {
  it('reads gcc and clang from CONFIG_CC_VERSION_TEXT, compile.h and the banner', () => {
    assert.deepEqual(parseCompilerText('gcc-12 (Debian 12.2.0-14) 12.2.0', 'CONFIG_CC_VERSION_TEXT'), { kind: 'gcc', major: 12, version: '12.2.0', text: 'gcc-12 (Debian 12.2.0-14) 12.2.0', from: 'CONFIG_CC_VERSION_TEXT' });
    assert.equal(parseCompilerText('x86_64-linux-gnu-gcc-16 (Debian 16.1.0-2) 16.1.0', 'CONFIG_CC_VERSION_TEXT')?.major, 16);
    assert.equal(parseCompilerText('gcc (Ubuntu 9.3.0-17ubuntu1~20.04) 9.3.0', 'CONFIG_CC_VERSION_TEXT')?.version, '9.3.0');
    const h = compileHCompiler('#define UTS_MACHINE "x86_64"\n#define LINUX_COMPILER "gcc version 11.3.0 (Debian 11.3.0-12) "\n');
    assert.equal(h, 'gcc version 11.3.0 (Debian 11.3.0-12) ');
    assert.deepEqual(parseCompilerText(h!, 'compile.h'), { kind: 'gcc', major: 11, version: '11.3.0', text: 'gcc version 11.3.0 (Debian 11.3.0-12)', from: 'compile.h' });
    assert.equal(parseCompilerText('gcc version 5.4.0 20160609 (Ubuntu 5.4.0-6ubuntu1~16.04.4) ', 'compile.h')?.major, 5);
    const clang = parseCompilerText('clang version 10.0.0-4ubuntu1 ', 'compile.h')!;
    assert.equal(clang.kind, 'clang');
    assert.equal(clang.major, 10);
    assert.equal(parseCompilerText('Ubuntu clang version 12.0.0-3ubuntu1~20.04.5, LLD 12.0.0', 'compile.h')?.major, 12);
    assert.equal(parseCompilerText('tcc 0.9', 'compile.h'), undefined);
    const banner = 'Linux version 4.9.229 (root@vm) (gcc version 11.3.0 (Debian 11.3.0-12) ) #1 SMP Sat Nov 28 17:43:50 UTC 2026';
    assert.equal(bannerCompiler(banner), 'gcc version 11.3.0 (Debian 11.3.0-12) ');
    assert.equal(bannerCompiler('Linux version 5.4.0 (u@h) (clang version 11.0.0 (https://github.com/llvm/llvm-project abc)) #1'), 'clang version 11.0.0 (https://github.com/llvm/llvm-project abc)');
    assert.equal(bannerCompiler('Linux version %s (%s@%s) (%s) %s'), undefined);
  });

  it("reads vendors' compilers: RHEL 9, Amazon Linux 2 (5.10: gcc10-gcc; 4.14: gcc 7.3.1), Ubuntu's cross-named gcc, and CONFIG_GCC_VERSION", async () => {
    const texts: [string, KernelCompiler['from'], number, string, string | undefined][] = [
      ['gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)', 'CONFIG_CC_VERSION_TEXT', 11, '11.4.1', 'Red Hat'],
      ['gcc10-gcc (GCC) 10.5.0 20230707 (Red Hat 10.5.0-1)', 'CONFIG_CC_VERSION_TEXT', 10, '10.5.0', 'Red Hat'],
      ['x86_64-linux-gnu-gcc-11 (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0', 'CONFIG_CC_VERSION_TEXT', 11, '11.4.0', 'Ubuntu'],
      ['gcc (GCC) 7.3.1 20180712 (Red Hat 7.3.1-17)', 'banner', 7, '7.3.1', 'Red Hat'],
      // AL2's 4.14 has no CONFIG_CC_VERSION_TEXT (5.8+): compile.h says it so
      ['gcc version 7.3.1 20180712 (Red Hat 7.3.1-17) (GCC) ', 'compile.h', 7, '7.3.1', 'Red Hat'],
      ['gcc-12 (Debian 12.2.0-14) 12.2.0', 'CONFIG_CC_VERSION_TEXT', 12, '12.2.0', 'Debian'],
      ['gcc (GCC) 11.2.0', 'CONFIG_CC_VERSION_TEXT', 11, '11.2.0', undefined],
    ];
    for (const [text, from, major, version, vendor] of texts) {
      const c = parseCompilerText(text, from);
      assert.deepEqual([c?.kind, c?.major, c?.version], ['gcc', major, version], text);
      assert.equal(compilerVendor(text), vendor, text);
    }
    assert.deepEqual(configVersionCompiler('CONFIG_CC_IS_GCC=y\nCONFIG_GCC_VERSION=110401\nCONFIG_CLANG_VERSION=0\n'), { kind: 'gcc', major: 11, version: '11.4.1', text: 'CONFIG_GCC_VERSION=110401', from: 'CONFIG_GCC_VERSION' });
    assert.deepEqual(configVersionCompiler('CONFIG_GCC_VERSION=0\nCONFIG_CLANG_VERSION=150006\n'), { kind: 'clang', major: 15, version: '15.0.6', text: 'CONFIG_CLANG_VERSION=150006', from: 'CONFIG_CLANG_VERSION' });
    assert.equal(configVersionCompiler('CONFIG_GCC_VERSION=0\n'), undefined);
    // a .config with CONFIG_GCC_VERSION and no usable CONFIG_CC_VERSION_TEXT: the number decides, before compile.h
    const dir = await mkdtemp(path.join(tmpdir(), 'km-ccv-'));
    try {
      await execa('mkdir', ['-p', path.join(dir, 'include/generated')]);
      await writeFile(path.join(dir, 'include/generated/compile.h'), '#define LINUX_COMPILER "gcc version 7.3.1 (GCC) "\n');
      await writeFile(path.join(dir, '.config'), 'CONFIG_CC_VERSION_TEXT="cc (unknown)"\nCONFIG_GCC_VERSION=100500\n');
      const c = await detectCompiler(dir, path.join(dir, 'no-image'));
      assert.deepEqual([c?.major, c?.version, c?.from], [10, '10.5.0', 'CONFIG_GCC_VERSION']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('finds the banner inside a compressed image (gzip payload after a header) and prefers compile.h when there is one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'km-cc-'));
    try {
      const payload = Buffer.concat([Buffer.alloc(4096, 7), Buffer.from('Linux version %s (%s@%s) (%s) %s\n\0Linux version 4.4.0-1 (b@h) (clang version 3.8.0 (tags/RELEASE_380/final)) #1 SMP\n\0'), Buffer.alloc(1000)]);
      const image = path.join(dir, 'vmlinuz');
      await writeFile(image, Buffer.concat([Buffer.from('MZ fake boot sector'), Buffer.alloc(600), gzipSync(payload), Buffer.from('trailing data')]));
      assert.match((await imageBanner(image))!, /clang version 3\.8\.0/);
      const c = await detectCompiler(path.join(dir, 'no-headers'), image);
      assert.deepEqual([c?.kind, c?.major, c?.from], ['clang', 3, 'banner']);
      await execa('mkdir', ['-p', path.join(dir, 'h/include/generated')]);
      await writeFile(path.join(dir, 'h/include/generated/compile.h'), '#define LINUX_COMPILER "gcc version 7.5.0 (Ubuntu 7.5.0-3ubuntu1~18.04) "\n');
      await writeFile(path.join(dir, 'h/.config'), 'CONFIG_64BIT=y\n');
      const h = await detectCompiler(path.join(dir, 'h'), image);
      assert.deepEqual([h?.kind, h?.major, h?.from], ['gcc', 7, 'compile.h']);
      await writeFile(path.join(dir, 'h/.config'), 'CONFIG_CC_VERSION_TEXT="gcc-13 (Debian 13.2.0-25) 13.2.0"\n');
      assert.equal((await detectCompiler(path.join(dir, 'h'), image))?.from, 'CONFIG_CC_VERSION_TEXT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kernels: first error of a probe refused below 4.14', () => {
  it("quotes the compiler's own line from the probe's sanity log, not the joined configure output", () => {
    const log = [
      '[configure-bpf] Build output for HAS_0__SANITY:',
      "[configure-bpf] make: Entering directory '/build/bpf/configure/0__SANITY'make -C /kernel M=$PWD clang -I./arch/x86/include In file included from x.c:15: quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled#error Kernel",
      '[configure-bpf] Build system is broken, please see above errors',
      'exit 2',
      '',
      '--- bpf/configure/0__SANITY/build.log',
      'In file included from /build/bpf/configure/0__SANITY/test.c:15:',
      '/build/bpf/configure/0__SANITY/../../quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled',
      '#error Kernel version must be >= 4.14 with eBPF enabled',
    ].join('\n');
    assert.equal(firstCompilerError(log), 'configure sanity check failed: /build/bpf/configure/0__SANITY/../../quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled');
  });
});

describe('kernels: compiler → builder suite', () => {
  const offers: SuiteCompilers[] = [
    { suite: 'bullseye', gcc: [9, 10], clang: [9, 11, 13] },
    { suite: 'bookworm', gcc: [11, 12], clang: [13, 14, 15, 16] },
    { suite: 'trixie', gcc: [12, 13, 14], clang: [17, 18, 19] },
    { suite: 'sid', gcc: [11, 12, 13, 14, 15], clang: [19, 21] },
  ];
  const cc = (kind: 'gcc' | 'clang', major: number) => ({ kind, major, version: `${major}.1.0`, text: '', from: 'compile.h' as const });

  it('takes the oldest suite that ships the kernel\'s own compiler major', () => {
    assert.deepEqual(chooseBuilder(cc('gcc', 11), offers), { suite: 'bookworm', compiler: 'gcc-11' });
    assert.deepEqual(chooseBuilder(cc('gcc', 12), offers), { suite: 'bookworm', compiler: 'gcc-12' });
    assert.deepEqual(chooseBuilder(cc('gcc', 14), offers), { suite: 'trixie', compiler: 'gcc-14' });
    assert.deepEqual(chooseBuilder(cc('clang', 14), offers), { suite: 'bookworm', compiler: 'clang-14' });
  });

  it('falls back to the nearest newer major and records the substitution', () => {
    const b = chooseBuilder(cc('gcc', 5), offers);
    assert.equal(b.suite, 'bullseye');
    assert.equal(b.compiler, 'gcc-9');
    assert.match(b.substitution!, /built with gcc 5\.1\.0; no Debian suite here .* ships gcc-5: built with gcc-9 from bullseye \(the nearest newer\)/);
    assert.deepEqual([chooseBuilder(cc('clang', 12), offers).compiler, chooseBuilder(cc('clang', 12), offers).suite], ['clang-13', 'bullseye']);
    const newest = chooseBuilder(cc('gcc', 99), offers);
    assert.equal(newest.compiler, 'gcc-15');
    assert.match(newest.substitution!, /nearest older/);
    assert.throws(() => chooseBuilder(cc('gcc', 11), []), /no Debian suite/);
  });

  it("vendors' kernels get the Debian builder of their major (bookworm has gcc-11 beside gcc-12), said to be another distribution's build; AL2's gcc 7 gets bullseye's gcc-9, said as a substitution", () => {
    const rhel9 = chooseBuilder(parseCompilerText('gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)', 'CONFIG_CC_VERSION_TEXT')!, offers);
    assert.deepEqual([rhel9.suite, rhel9.compiler, rhel9.substitution], ['bookworm', 'gcc-11', undefined]);
    assert.equal(rhel9.vendor, "the kernel's gcc 11.4.1 is Red Hat's build (gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)); its drivers are built with Debian's gcc-11 from bookworm");
    const al2 = chooseBuilder(parseCompilerText('gcc10-gcc (GCC) 10.5.0 20230707 (Red Hat 10.5.0-1)', 'CONFIG_CC_VERSION_TEXT')!, offers);
    assert.deepEqual([al2.suite, al2.compiler], ['bullseye', 'gcc-10']);
    const jammy = chooseBuilder(parseCompilerText('x86_64-linux-gnu-gcc-11 (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0', 'CONFIG_CC_VERSION_TEXT')!, offers);
    assert.match(jammy.vendor!, /is Ubuntu's build .* Debian's gcc-11 from bookworm$/);
    const al2414 = chooseBuilder(parseCompilerText('gcc version 7.3.1 20180712 (Red Hat 7.3.1-17) (GCC) ', 'compile.h')!, offers);
    assert.deepEqual([al2414.suite, al2414.compiler], ['bullseye', 'gcc-9']);
    assert.match(al2414.substitution!, /built with gcc 7\.3\.1; no Debian suite here \(bullseye, bookworm, trixie, sid\) ships gcc-7: built with gcc-9 from bullseye \(the nearest newer\)/);
    // Debian's own build of the major: nothing to say
    assert.equal(chooseBuilder(parseCompilerText('gcc-12 (Debian 12.2.0-14) 12.2.0', 'CONFIG_CC_VERSION_TEXT')!, offers).vendor, undefined);
  });

  it('self-built trees call plain gcc: builds find the chosen compiler under that name (native, cross, clang)', () => {
    assert.equal(compilerAliases({ suite: 'bookworm', compiler: 'gcc-12' }, 'amd64', 'amd64'), undefined, "Debian's trees name their gcc");
    assert.deepEqual(compilerAliases({ suite: 'bookworm', compiler: 'gcc-11', plainName: true }, 'amd64', 'amd64'), { gcc: '/usr/bin/gcc-11' });
    assert.deepEqual(compilerAliases({ suite: 'bookworm', compiler: 'gcc-11', plainName: true }, 'arm64', 'amd64'), { 'aarch64-linux-gnu-gcc': '/usr/bin/aarch64-linux-gnu-gcc-11' });
    assert.deepEqual(compilerAliases({ suite: 'bookworm', compiler: 'clang-14', plainName: true }, 'arm64', 'amd64'), { gcc: '/usr/bin/clang-14', 'aarch64-linux-gnu-gcc': '/usr/bin/clang-14' });
  });

  it('reads a suite\'s majors from apt-cache pkgnames, cross compilers for a foreign arch', () => {
    const names = ['gcc-11', 'gcc-12', 'gcc-12-base', 'gcc-11-aarch64-linux-gnu', 'gcc-12-aarch64-linux-gnu-base', 'clang-14', 'clang-tools-14', 'gcc-doc'];
    assert.deepEqual(compilersInNames(names), { gcc: [11, 12], clang: [14] });
    assert.deepEqual(compilersInNames(names, 'aarch64-linux-gnu'), { gcc: [11], clang: [14] });
  });
});

describe('kernels: packages', () => {
  it('groups bindeb-pkg and Ubuntu mainline packages into kernels by release and arch', () => {
    const debs = [
      deb('linux-image-4.9.229_4.9.229-1_amd64.deb', 'amd64'),
      deb('linux-headers-4.9.229_4.9.229-1_amd64.deb', 'amd64'),
      deb('linux-image-4.9.229_4.9.229-1_arm64.deb', 'arm64'),
      deb('linux-headers-4.9.229_4.9.229-1_arm64.deb', 'arm64'),
      deb('linux-libc-dev_4.9.229-1_amd64.deb', 'amd64'),
    ];
    const { kernels, unused } = groupKernels(debs);
    assert.deepEqual(kernels.map((k) => [k.release, k.arch, k.headers.map((h) => h.arch)]), [['4.9.229', 'amd64', ['amd64']], ['4.9.229', 'arm64', ['arm64']]]);
    assert.deepEqual(unused.map((d) => d.name), ['linux-libc-dev']);
    const ubuntu = [
      deb('linux-headers-6.1.0-060100_6.1.0-060100.202212111530_all.deb', 'all'),
      deb('linux-headers-6.1.0-060100-generic_6.1.0-060100.202212111530_amd64.deb', 'amd64'),
      deb('linux-image-unsigned-6.1.0-060100-generic_6.1.0-060100.202212111530_amd64.deb', 'amd64'),
      deb('linux-modules-6.1.0-060100-generic_6.1.0-060100.202212111530_amd64.deb', 'amd64'),
    ];
    const k = selectKernel(ubuntu, 'amd64', 'k');
    assert.equal(k.release, '6.1.0-060100-generic');
    assert.deepEqual(k.modules.map((m) => m.name), ['linux-modules-6.1.0-060100-generic']);
    assert.deepEqual(k.headers.map((m) => m.name).sort(), ['linux-headers-6.1.0-060100', 'linux-headers-6.1.0-060100-generic']);
    assert.equal(imageRelease('linux-image-4.9.229-dbg'), undefined);
    assert.equal(imageRelease('linux-image-generic'), undefined);
    assert.throws(() => selectKernel(ubuntu, 'arm64', 'kernel x'), (e: Error) => e instanceof UserError && /kernel x: no linux-image package for arm64 .* \(there are: 6\.1\.0-060100-generic amd64\)/.test(e.message));
    assert.throws(() => selectKernel([ubuntu[2]!], 'amd64', 'k'), /no linux-headers package for 6\.1\.0-060100-generic/);
    // a cloud flavour's common part is linux-<flavour>-headers-<abi>; another ABI's is not
    const azure = [
      deb('linux-image-unsigned-5.15.0-1127-azure_5.15.0-1127.136_amd64.deb', 'amd64'),
      deb('linux-modules-5.15.0-1127-azure_5.15.0-1127.136_amd64.deb', 'amd64'),
      deb('linux-headers-5.15.0-1127-azure_5.15.0-1127.136_amd64.deb', 'amd64'),
      deb('linux-azure-headers-5.15.0-1127_5.15.0-1127.136_all.deb', 'all'),
      deb('linux-azure-headers-5.15.0-1126_5.15.0-1126.135_all.deb', 'all'),
    ];
    const g = groupKernels(azure);
    assert.deepEqual(g.kernels[0]!.headers.map((h) => h.name).sort(), ['linux-azure-headers-5.15.0-1127', 'linux-headers-5.15.0-1127-azure']);
    assert.deepEqual(g.unused.map((d) => d.name), ['linux-azure-headers-5.15.0-1126']);
    // headers of 4.9.2 are not those of 4.9.229
    assert.equal(groupKernels([deb('linux-image-4.9.229_1_amd64.deb', 'amd64'), deb('linux-headers-4.9.2_1_amd64.deb', 'amd64')]).kernels[0]!.headers.length, 0);
  });

  it("reads which arch a tree's host programs are built for (fixdep's ELF header)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'km-elf-'));
    try {
      await execa('mkdir', ['-p', path.join(dir, 'scripts/basic')]);
      const elf = (machine: number) => {
        const b = Buffer.alloc(64);
        b.writeUInt32BE(0x7f454c46, 0);
        b.writeUInt16LE(machine, 18);
        return b;
      };
      await writeFile(path.join(dir, 'scripts/basic/fixdep'), elf(183));
      assert.equal(hostToolsArch(dir), 'arm64');
      await writeFile(path.join(dir, 'scripts/basic/fixdep'), elf(62));
      assert.equal(hostToolsArch(dir), 'amd64');
      assert.equal(hostToolsArch(path.join(dir, 'none')), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pins ARCH (and CROSS_COMPILE for a foreign arch) in a self-built tree, not in Debian\'s', () => {
    const kernelMakefile = 'VERSION = 4\nPATCHLEVEL = 9\nSUBLEVEL = 229\nARCH ?= $(SUBARCH)\nCROSS_COMPILE ?= $(CONFIG_CROSS_COMPILE:"%"=%)\n';
    const pinned = pinArchMakefile(kernelMakefile, 'arm64', 'amd64');
    assert.match(pinned, /^# kmatrix.*\nARCH \?= arm64\nCROSS_COMPILE \?= aarch64-linux-gnu-\nVERSION = 4/);
    assert.match(pinArchMakefile(kernelMakefile, 'amd64', 'amd64'), /^# kmatrix.*\nARCH \?= x86\nVERSION/);
    const debian = 'MAKEFLAGS += --no-print-directory\nARCH=arm64\ninclude /usr/src/linux-headers-6.1.0-50-common/Makefile\n';
    assert.equal(pinArchMakefile(debian, 'arm64', 'amd64'), debian);
    assert.equal(kernelVersion(kernelMakefile, 'whatever'), '4.9.229');
    assert.equal(kernelVersion(undefined, '4.14.0-041400-generic'), '4.14.0');
    assert.equal(kernelVersion('VERSION = 4\nPATCHLEVEL = 14\nSUBLEVEL = 0\n', '4.14.0-041400-generic'), '4.14.0');
  });
});

describe('kernels: Ubuntu mainline', () => {
  it('maps versions to the archive\'s directories', () => {
    assert.equal(mainlineDir('v4.9.337'), 'v4.9.337');
    assert.equal(mainlineDir('4.9.337'), 'v4.9.337');
    assert.equal(mainlineDir('4.14.0'), 'v4.14');
    assert.equal(mainlineDir('v4.14'), 'v4.14');
    assert.equal(mainlineDir('v4.4-wily'), 'v4.4-wily');
  });

  it('parses CHECKSUMS: the Sha256 section after the Sha1 one, or bare sha256 lines', () => {
    const a = 'a'.repeat(64), b = 'B'.repeat(64);
    const text = `# Checksums-Sha1:\n${'1'.repeat(40)}  linux-image-x_1_amd64.deb\n\n# Checksums-Sha256:\n${a}  linux-image-x_1_amd64.deb\n${b}  amd64/linux-headers-x_1_amd64.deb\n`;
    assert.deepEqual([...parseChecksums(text)], [['linux-image-x_1_amd64.deb', a], ['amd64/linux-headers-x_1_amd64.deb', b.toLowerCase()]]);
    assert.deepEqual([...parseChecksums(`${'1'.repeat(40)}  f.deb\n${a}  f.deb\n`)], [['f.deb', a]]);
    assert.deepEqual([...parseChecksums('garbage\n\n')], []);
  });

  it('lists the generic kernel of an arch in the older layout (files at the top) and the newer one (a folder per arch)', () => {
    const older = [
      'linux-headers-4.9.337-0409337_4.9.337-0409337.202301241630_all.deb',
      'linux-headers-4.9.337-0409337-generic_4.9.337-0409337.202301241630_amd64.deb',
      'linux-headers-4.9.337-0409337-lowlatency_4.9.337-0409337.202301241630_amd64.deb',
      'linux-image-4.9.337-0409337-generic_4.9.337-0409337.202301241630_amd64.deb',
      'linux-image-4.9.337-0409337-generic_4.9.337-0409337.202301241630_i386.deb',
      'linux-image-4.9.337-0409337-lowlatency_4.9.337-0409337.202301241630_amd64.deb',
    ];
    assert.deepEqual(mainlinePackages(older, 'amd64'), [older[0], older[1], older[3]].sort());
    assert.deepEqual(mainlinePackages(older, 'arm64'), []);
    const newer = [
      'amd64/linux-headers-6.1.0-060100_6.1.0-060100.202212111530_all.deb',
      'amd64/linux-headers-6.1.0-060100-generic_6.1.0-060100.202212111530_amd64.deb',
      'amd64/linux-image-unsigned-6.1.0-060100-generic_6.1.0-060100.202212111530_amd64.deb',
      'amd64/linux-modules-6.1.0-060100-generic_6.1.0-060100.202212111530_amd64.deb',
      'arm64/linux-headers-6.1.0-060100_6.1.0-060100.202212111530_all.deb',
      'arm64/linux-headers-6.1.0-060100-generic-64k_6.1.0-060100.202212111530_arm64.deb',
      'arm64/linux-headers-6.1.0-060100-generic_6.1.0-060100.202212111530_arm64.deb',
      'arm64/linux-image-unsigned-6.1.0-060100-generic_6.1.0-060100.202212111530_arm64.deb',
      'arm64/linux-image-unsigned-6.1.0-060100-generic-64k_6.1.0-060100.202212111530_arm64.deb',
      'arm64/linux-modules-6.1.0-060100-generic_6.1.0-060100.202212111530_arm64.deb',
    ];
    assert.deepEqual(mainlinePackages(newer, 'amd64'), newer.slice(0, 4).sort());
    assert.deepEqual(mainlinePackages(newer, 'arm64'), [newer[4]!, newer[6]!, newer[7]!, newer[9]!].sort());
  });
});

describe('kernels: store and skip reasons', () => {
  it('keys the store by release and arch, file-name safe', () => {
    assert.equal(storeKey('4.9.229', 'amd64'), '4.9.229_amd64');
    assert.equal(storeKey('6.1.0-rc1+/x', 'arm64'), '6.1.0-rc1+_x_arm64');
  });

  it('a kernel that is not imported is a skip naming the import command', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'km-store-'));
    setCacheDir(dir);
    try {
      const m = parseMatrix(MATRIX, 'm.yaml');
      const debian = new Debian('http://127.0.0.1:9', {});
      await assert.rejects(fetchKernel(m.kernels.old!, { debian, settings: {} }), (e: Error) => e instanceof CellSkip && e.message.includes('kernel 4.9.229 (amd64) is not in the kernel store') && e.message.includes(IMPORT_HINT));
    } finally {
      setCacheDir(undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unreachable mainline archive is a skip: "kernel source unreachable: …"', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'km-ml-'));
    setCacheDir(dir);
    try {
      const port = await closedPort();
      await assert.rejects(getBytes(`http://127.0.0.1:${port}/v4.14/CHECKSUMS`, 5000), (e: Error) => e instanceof KernelUnreachable && e.message === `kernel source unreachable: http://127.0.0.1:${port}/v4.14/CHECKSUMS: connect ECONNREFUSED 127.0.0.1:${port}`);
      const m = parseMatrix(MATRIX.replace('127.0.0.1:9', `127.0.0.1:${port}`), 'm.yaml');
      await assert.rejects(fetchKernel(m.kernels.ml!, { debian: new Debian('http://127.0.0.1:1', {}), settings: m.kernelSettings ?? {} }), (e: Error) => e instanceof CellSkip && e.message.startsWith(`kernel source unreachable: http://127.0.0.1:${port}/mainline/v4.14/CHECKSUMS: connect ECONNREFUSED`));
    } finally {
      setCacheDir(undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });
});


const MATRIX = `
mainline: { base: "http://127.0.0.1:9/mainline" }
kernels:
  old: { machine: q35, store: { release: 4.9.229, arch: amd64 } }
  ml: { arch: amd64, machine: q35, mainline: { version: 4.14.0 } }
  debs: { machine: virt, arch: arm64, debs: { packages: [ "k/", { url: "https://example.org/k.deb", sha256: "${'ab'.repeat(32)}" } ] } }
consumers:
  c: { kind: sysdig, debian: { suite: sid, package: sysdig }, engines: [kmod, ebpf], requires: { api: "8.0.0", schema: "4.0.0" } }
sources:
  s: { debian: { suite: sid, package: falcosecurity-scap-dkms }, consumer: c }
matrix:
  - { kernels: [old, ml, debs], drivers: [kmod], sources: [s] }
`;

describe('kernels: matrix.yaml', () => {
  it('accepts each source kind and takes the arch from the kernel or its source', () => {
    const m = parseMatrix(MATRIX, '/m/m.yaml');
    assert.deepEqual(m.kernels.old!.source, { kind: 'store', release: '4.9.229', arch: 'amd64' });
    assert.equal(m.kernels.old!.arch, 'amd64');
    assert.deepEqual(m.kernels.ml!.source, { kind: 'mainline', version: '4.14.0', flavour: 'generic' });
    assert.deepEqual((m.kernels.debs!.source as any).packages, [{ path: '/m/k' }, { url: 'https://example.org/k.deb', sha256: 'ab'.repeat(32) }]);
    assert.deepEqual(m.kernelSettings, { mainline: { base: 'http://127.0.0.1:9/mainline' } });
  });

  it('says clearly what is wrong with a kernel source', () => {
    const bad = (kernel: string, re: RegExp) =>
      assert.throws(() => parseMatrix(MATRIX.replace(/  old: .*\n/, `  old: ${kernel}\n`), 'm.yaml'), (e: Error) => e instanceof UserError && re.test(e.message));
    bad('{ machine: q35, arch: amd64 }', /^m\.yaml:4: a kernel needs exactly one source — debian, debs, mainline, store, box, apt, yum — and this one has none/);
    bad('{ machine: q35, arch: amd64, store: { release: "1" }, mainline: { version: v4.9 } }', /not mainline and store together|not store and mainline together|not debian|exactly one source — .* — not mainline and store together/);
    bad('{ machine: q35, arch: arm64, store: { release: "1", arch: amd64 } }', /m\.yaml:\d+: the store source names arch amd64 but the kernel's arch is arm64/);
    bad('{ machine: q35, store: { release: "1" } }', /the kernel needs an arch/);
    bad('{ machine: q35, store: { release: "1", flavour: x } }', /unknown key "flavour" under kernels\.old\.store/);
    bad('{ machine: q35, arch: amd64, debs: { packages: [ { url: "a" } ] } }', /kernels\.old\.debs\.packages\.0 must be a local path .* or \{ url: "http\(s\):\/\/…", sha256/);
  });
});

describe('kernels: the store', () => {
  it('imports a kernel from packages (image + headers), lists it, refuses one without headers, removes it', async function () {
    this.timeout(60_000); // five dpkg-deb builds and three imports: seconds each on a busy machine
    const dir = await mkdtemp(path.join(tmpdir(), 'km-import-'));
    setCacheDir(path.join(dir, 'cache'));
    try {
      const pkg = async (name: string, files: Record<string, string>) => {
        const root = path.join(dir, name);
        for (const [f, text] of Object.entries(files)) {
          await execa('mkdir', ['-p', path.dirname(path.join(root, f))]);
          await writeFile(path.join(root, f), text);
        }
        await execa('mkdir', ['-p', path.join(root, 'DEBIAN')]);
        await writeFile(path.join(root, 'DEBIAN/control'), `Package: ${name}\nVersion: 9.9.9-1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: t\n`);
        await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, path.join(dir, 'debs', `${name}_9.9.9-1_amd64.deb`)]);
      };
      await execa('mkdir', ['-p', path.join(dir, 'debs')]);
      await pkg('linux-image-9.9.9', { 'boot/vmlinuz-9.9.9': 'kernel' });
      await assert.rejects(importKernels([path.join(dir, 'debs')]), /no linux-headers package for 9\.9\.9 \(amd64\)/);
      await pkg('linux-headers-9.9.9', { 'usr/src/linux-headers-9.9.9/.config': 'CONFIG_MODULES=y\n' });
      await pkg('linux-libc-dev', { 'usr/include/x.h': '' });
      const { imported, ignored } = await importKernels([path.join(dir, 'debs')]);
      assert.deepEqual(imported.map((e) => [e.release, e.arch, e.packages.map((p) => p.name)]), [['9.9.9', 'amd64', ['linux-image-9.9.9', 'linux-headers-9.9.9']]]);
      assert.deepEqual(ignored, ['linux-libc-dev_9.9.9-1_amd64.deb']);
      assert.deepEqual(listStore().map((e) => storeKey(e.release, e.arch)), ['9.9.9_amd64']);
      assert.equal(readStoreEntry('9.9.9', 'amd64')?.packages[0]?.sha256.length, 64);
      // the same packages again (kmatrix check on them) keep the entry; other packages of the release replace it
      const first = readStoreEntry('9.9.9', 'amd64')!.importedAt;
      await new Promise((r) => setTimeout(r, 5));
      assert.equal((await importKernels([path.join(dir, 'debs')])).imported[0]!.importedAt, first);
      assert.equal(readStoreEntry('9.9.9', 'amd64')!.importedAt, first);
      await pkg('linux-headers-9.9.9', { 'usr/src/linux-headers-9.9.9/.config': 'CONFIG_MODULES=y\nCONFIG_X=y\n' });
      await importKernels([path.join(dir, 'debs')]);
      assert.notEqual(readStoreEntry('9.9.9', 'amd64')!.importedAt, first);
      assert.deepEqual(await removeFromStore('9.9.9'), ['9.9.9_amd64']);
      assert.deepEqual(listStore(), []);
    } finally {
      setCacheDir(undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kernels: kmatrix kernel', () => {
  const bin = path.resolve('bin/kmatrix.js');
  it('list on an empty store says how to import; rm of a kernel that is not there and import of nothing are one-paragraph errors', async function () {
    this.timeout(60_000); // four CLI starts: ~4 s each on a quiet 2-core machine, far more when it is busy
    const dir = await mkdtemp(path.join(tmpdir(), 'km-cli-'));
    try {
      const km = (...args: string[]) => execa('node', [bin, '--cache-dir', dir, 'kernel', ...args], { reject: false });
      const list = await km('list');
      assert.equal(list.exitCode, 0);
      assert.match(list.stdout, /the kernel store \(.*\/store\) is empty; add one with kmatrix kernel import/);
      for (const r of [await km('rm', '4.9.229'), await km('import', path.join(dir, 'nothing'))]) {
        assert.equal(r.exitCode, 2);
        assert.match(r.stderr, /^kmatrix: (no kernel 4\.9\.229 in the store|kmatrix kernel import: .*nothing does not exist)/);
        assert.equal(r.stderr.trim().split('\n').length, 1);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
