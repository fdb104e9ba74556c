import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { firstCompilerError, kernelBuilderPackages } from '../../harness/builder.js';
import { engineArgs } from '../../harness/consumers/index.js';
import { buildRecipe, moduleName, noArtifact, treeHash } from '../../harness/drivers/build.js';
import { readDriverConfig } from '../../harness/drivers/configure.js';
import { consumerAccepts, notApplicable } from '../../harness/drivers/index.js';
import { compilerPackage } from '../../harness/kernels/compiler.js';
import { relocateHeadersMakefile } from '../../harness/kernels/debian.js';
import { tempDir } from '../tmp.js';
import type { ConsumerSpec } from '../../harness/types.js';

describe('drivers', () => {
  it('reads the driver version and API/schema versions from driver_config.h', () => {
    const dir = tempDir('kmatrix-drv-');
    writeFileSync(
      path.join(dir, 'driver_config.h'),
      '#define PPM_API_CURRENT_VERSION_MAJOR 8\n#define PPM_API_CURRENT_VERSION_MINOR 0\n#define PPM_API_CURRENT_VERSION_PATCH 4\n' +
        '#define PPM_SCHEMA_CURRENT_VERSION_MAJOR 4\n#define PPM_SCHEMA_CURRENT_VERSION_MINOR 1\n#define PPM_SCHEMA_CURRENT_VERSION_PATCH 0\n#define DRIVER_VERSION "0.23.2"\n',
    );
    assert.deepEqual(readDriverConfig(dir), { version: '0.23.2', versions: { api: '8.0.4', schema: '4.1.0' } });
  });

  it('a driver tree is known by its content: editing a file means a new build', () => {
    const dir = tempDir('kmatrix-hash-');
    mkdirSync(path.join(dir, 'bpf'));
    writeFileSync(path.join(dir, 'main.c'), 'int a;');
    writeFileSync(path.join(dir, 'bpf', 'probe.c'), 'int b;');
    const before = treeHash(dir);
    assert.equal(treeHash(dir), before);
    writeFileSync(path.join(dir, 'bpf', 'probe.c'), 'int c;');
    assert.notEqual(treeHash(dir), before);
  });

  it('applies libscap\'s rule: same major, minor.patch at least the minimum', () => {
    const need = { api: '8.0.0', schema: '4.0.0' };
    assert.equal(consumerAccepts(need, { api: '8.0.4', schema: '4.1.0' }).ok, true);
    assert.equal(consumerAccepts(need, { api: '8.0.0', schema: '4.0.0' }).ok, true);
    assert.match(consumerAccepts(need, { api: '1.0.0', schema: '1.0.0' }).why!, /api version 1\.0\.0 is not accepted/);
    assert.equal(consumerAccepts(need, { api: '9.0.0', schema: '4.1.0' }).ok, false, 'newer major');
    assert.equal(consumerAccepts({ api: '8.1.2', schema: '4.0.0' }, { api: '8.1.1', schema: '4.1.0' }).ok, false, 'older patch');
    assert.match(consumerAccepts(need, { api: '8.0.4', schema: '3.9.0' }).why!, /schema/);
  });

  it('finds the compiler\'s first real error line, not make\'s echo', () => {
    const log = [
      'make: Entering directory',
      "/build/main.c:100:5: warning: unused variable 'x'",
      "/build/ppm_fillers.c:5470:13: error: implicit declaration of function 'fd_is_open' [-Werror=implicit-function-declaration]",
      "make[2]: *** [scripts/Makefile.build:250: /build/ppm_fillers.o] Error 1",
    ].join('\n');
    assert.equal(firstCompilerError(log), "/build/ppm_fillers.c:5470:13: error: implicit declaration of function 'fd_is_open' [-Werror=implicit-function-declaration]");
    assert.equal(firstCompilerError('make[1]: *** No rule to make target'), 'make[1]: *** No rule to make target');
    assert.equal(
      firstCompilerError('  BTF [M] /build/x/testmod.ko /bin/sh: 1: pahole: not found\nmake[3]: *** [Makefile.modfinal:64: /build/x/testmod.ko] Error 127'),
      '/bin/sh: 1: pahole: not found',
    );
  });

  it('ignores the expected failures of configure probes, but explains a broken sanity check', () => {
    assert.equal(firstCompilerError("expr: syntax error: unexpected argument '1'\n[configure-bpf] test.c:1: error: x\n./fillers.h:1813:19: error: no member named 'parent' in 'struct kernfs_node'"), "./fillers.h:1813:19: error: no member named 'parent' in 'struct kernfs_node'");
    const probe = "[configure-kmod] Build output for HAS_FS_MNT_IDMAP:\n[configure-kmod] make: Entering  test.c:26:32: error: passing argument 1 of 'inode_owner_or_capable' make[2]: *** Error 1";
    assert.equal(firstCompilerError(`${probe}\n/build/main.c:10:2: error: unknown type name 'foo'\nmake: *** [all] Error 2`), "/build/main.c:10:2: error: unknown type name 'foo'");
    const broken = `${probe}\n[configure-kmod] Build output for HAS_0__SANITY:\n[configure-kmod] make -C /k M=/b  LD [M]  /b/testmod.old: unrecognised emulation mode: aarch64linux Supported emulations: elf_x86_64make[2]: *** Error 1\n[configure-kmod] Build system is broken, please see above errors\n`;
    assert.match(firstCompilerError(broken)!, /^configure sanity check failed: .*unrecognised emulation mode: aarch64linux/);
  });
});

describe('drivers: applicability and build recipes', () => {
  const tree = (withBpf: boolean) => {
    const dir = tempDir('kmatrix-tree-');
    if (withBpf) {
      mkdirSync(path.join(dir, 'bpf'));
      writeFileSync(path.join(dir, 'bpf', 'probe.c'), '');
    }
    return { dir, version: '0.23.2', versions: { api: '8.0.4', schema: '4.1.0' }, origin: 'test' };
  };
  const sysdig: ConsumerSpec = { id: 'sysdig-0.41', kind: 'sysdig', debian: { suite: 'sid', package: 'sysdig' }, engines: ['kmod', 'ebpf'], requires: { api: '8.0.0', schema: '4.0.0' } };

  it('a source without bpf/ has no legacy probe: skip with the upstream reason', () => {
    assert.match(notApplicable('ebpf', tree(false), sysdig)!, /no legacy eBPF probe \(removed upstream in libs 0\.24\.0/);
    assert.equal(notApplicable('ebpf', tree(true), sysdig), undefined);
  });

  it('a consumer without the engine, or refusing the API, is a skip', () => {
    assert.match(notApplicable('modern-ebpf', tree(true), sysdig)!, /has no modern-ebpf engine \(Debian's libscap builds never include modern_bpf\)/);
    assert.match(notApplicable('kmod', tree(true), { ...sysdig, requires: { api: '9.0.0', schema: '4.0.0' } })!, /not accepted by the consumer/);
    assert.match(notApplicable('pdig', tree(true), sysdig)!, /^this driver source has no pdig tree/);
  });

  it('the legacy probe gets clang --target for a foreign arch and the 7.x flags', () => {
    const k = (arch: 'amd64' | 'arm64', version: string) => ({ headers: 'usr/src/h', arch, version });
    assert.deepEqual(buildRecipe('ebpf', k('amd64', '6.1.176')).cmd, ['make', 'KERNELDIR=/kernel/usr/src/h', 'CLANG=clang']);
    assert.equal(buildRecipe('ebpf', k('amd64', '7.2.13')).cmd[2], 'CLANG=clang -fms-extensions -DCC_USING_FENTRY');
    assert.equal(buildRecipe('ebpf', k('arm64', '6.1.176')).cmd[2], 'CLANG=clang --target=aarch64-linux-gnu');
    assert.equal(buildRecipe('ebpf', k('amd64', '6.1.1')).cwd, '/build/bpf');
    assert.equal(buildRecipe('ebpf', { headers: 'usr/src/h', arch: 'armhf', version: '6.1.1' }).cmd[2], 'CLANG=clang --target=armv7a-linux-gnueabihf');
  });

  it('the module is cross-compiled for a foreign arch, with the headers as kbuild dir', () => {
    assert.ok(buildRecipe('kmod', { headers: 'usr/src/h', arch: 'arm64', version: '6.1.1' }).cmd.includes('CROSS_COMPILE=aarch64-linux-gnu-'));
    assert.ok(!buildRecipe('kmod', { headers: 'usr/src/h', arch: 'amd64', version: '6.1.1' }).cmd.some((a) => a.startsWith('CROSS_COMPILE')));
    const b = (compiler: string) => ({ suite: 'bookworm', compiler });
    // on amd64 one root serves a compiler's kernels of every arch: the same packages, whichever arch asks
    const gcc12 = ['gcc-12', 'gcc-12-aarch64-linux-gnu', 'gcc-12-arm-linux-gnueabihf'];
    assert.deepEqual(kernelBuilderPackages({ builder: b('gcc-12'), arch: 'arm64' }, 'amd64').slice(-3), gcc12);
    assert.deepEqual(kernelBuilderPackages({ builder: b('gcc-12'), arch: 'armhf' }, 'amd64'), kernelBuilderPackages({ builder: b('gcc-12'), arch: 'amd64' }, 'amd64'));
    assert.deepEqual(kernelBuilderPackages({ builder: b('gcc-14'), arch: 'amd64' }, 'amd64').slice(-3), ['gcc-14', 'gcc-14-aarch64-linux-gnu', 'gcc-14-arm-linux-gnueabihf']);
    assert.deepEqual(kernelBuilderPackages({ builder: b('clang-14'), arch: 'arm64' }, 'amd64').slice(-3), ['binutils-aarch64-linux-gnu', 'binutils-arm-linux-gnueabihf', 'clang-14']);
    // another host: the target's compiler only (its cross packages are not known to exist for every arch)
    assert.deepEqual(kernelBuilderPackages({ builder: b('gcc-12'), arch: 'arm64' }, 'arm64').slice(-2), ['llvm', 'gcc-12']);
    assert.deepEqual(kernelBuilderPackages({ builder: b('gcc-12'), arch: 'amd64' }, 'arm64').slice(-2), ['gcc-12', 'gcc-12-x86-64-linux-gnu']);
    assert.equal(compilerPackage('x86_64-linux-gnu-gcc-16 (Debian 16.1.0-1) 16.1.0'), 'gcc-16');
    assert.equal(compilerPackage('aarch64-linux-gnu-gcc-16'), 'gcc-16');
    assert.equal(compilerPackage('clang'), 'gcc');
  });

  it("relocates Debian's headers Makefile (6.x include, 7.x KBUILD_OUTPUT) to wherever the tree is", () => {
    const seven = 'KBUILD_OUTPUT=/usr/src/linux-headers-7.2.13+deb14-amd64\ninclude /usr/src/linux-headers-7.2.13+deb14-common/Makefile\n';
    assert.equal(
      relocateHeadersMakefile(seven),
      'KBUILD_OUTPUT := $(realpath $(dir $(lastword $(MAKEFILE_LIST))))\ninclude $(dir $(lastword $(MAKEFILE_LIST)))../linux-headers-7.2.13+deb14-common/Makefile\n',
    );
    assert.doesNotMatch(relocateHeadersMakefile('include /usr/src/linux-headers-6.1.0-50-common/Makefile\n'), /\/usr\/src/);
  });

  it('tells each consumer how to open each driver', () => {
    assert.equal(engineArgs('sysdig', 'ebpf'), '--bpf=/kmatrix/probe.o');
    assert.equal(engineArgs('sysdig', 'kmod'), '');
    assert.equal(engineArgs('scap-open', 'modern-ebpf'), '--modern_bpf');
    assert.equal(engineArgs('scap-open', 'ebpf'), '--bpf /kmatrix/probe.o');
  });
});

describe('drivers from before the libs split', () => {
  it('the module is named by the tree\'s Makefile (sysdig-probe, falco, scap)', () => {
    const dir = tempDir('kmatrix-mk-');
    assert.equal(moduleName(dir), 'scap');
    writeFileSync(path.join(dir, 'Makefile'), 'sysdig-probe-y += main.o\nobj-m += sysdig-probe.o\n');
    assert.equal(moduleName(dir), 'sysdig-probe');
    assert.equal(buildRecipe('kmod', { headers: 'h', arch: 'amd64', version: '5.10.1' }, 'sysdig-probe').artifact, 'sysdig-probe.ko');
  });

  it('make succeeding without the probe says so, and why when the Makefile uses the old `always +=`', () => {
    const dir = tempDir('kmatrix-bpf-');
    mkdirSync(path.join(dir, 'bpf'));
    writeFileSync(path.join(dir, 'bpf', 'Makefile'), 'always += probe.o\n');
    assert.match(noArtifact('bpf/probe.o', dir), /^make exited 0 but built no bpf\/probe\.o \(the probe's Makefile names it with kbuild's old `always \+=`/);
    assert.equal(noArtifact('scap.ko', dir), 'make exited 0 but built no scap.ko');
  });

  it('a symbol the kernel does not export is modpost\'s error line, not make\'s echo', () => {
    const log = '  MODPOST /build/Module.symvers\nERROR: modpost: "cc_mkenc" [/build/scap.ko] undefined!\nmake[1]: *** [Makefile.modpost:127: /build/Module.symvers] Error 1\n';
    assert.equal(firstCompilerError(log), 'ERROR: modpost: "cc_mkenc" [/build/scap.ko] undefined!');
  });
});
