// sysdig's own userspace from a git commit (e.g. the one Falco 0.26.0
// pinned, from before the libs split): no Debian suite ships it, and Debian's
// libscap refuses a driver without the API-version ioctl. Built with cmake in
// a builder root of a suite of its time, against that suite's development
// packages (no bundled downloads). MINIMAL_BUILD (no eBPF engine, no
// container metadata) unless the consumer is to open eBPF probes.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { builderRoot, builtOrThrow, runBuildScript } from '../builder.js';
import { cached } from '../cache/cache.js';
import { CellSkip } from '../errors.js';
import { copyCheckout, gitCheckout } from '../git.js';
import { guestImage } from '../images/guest.js';
import { hostDebianArch } from '../machines.js';
import type { Arch, ConsumerAssets, ConsumerSpec } from '../types.js';

/** What sysdig's CMake looks for with MINIMAL_BUILD and no bundled deps (tests off: no gtest). */
export const SYSDIG_BUILD_DEPS = ['build-essential', 'cmake', 'libluajit-5.1-dev', 'libjsoncpp-dev', 'libtbb-dev', 'libjq-dev', 'libncurses-dev', 'libb64-dev', 'zlib1g-dev', 'libelf-dev'];
/** And without MINIMAL_BUILD (the eBPF engine, container metadata): seen building in bullseye in ~15 min on 2 busy cores. */
export const SYSDIG_FULL_BUILD_DEPS = [...SYSDIG_BUILD_DEPS, 'libssl-dev', 'libcurl4-openssl-dev', 'libc-ares-dev', 'libprotobuf-dev', 'protobuf-compiler', 'libgrpc++-dev', 'protobuf-compiler-grpc', 'pkg-config'];

/**
 * The build. Debian's LuaJIT 2.1 dropped Lua 5.0 names the chisel code still
 * uses (mapped to their 5.1 equivalents), and sysdig's find_path knows only luajit-2.0.
 */
export function sysdigBuildScript(commit: string, minimal = true): string {
  const flags = [
    ...(minimal ? ['-DMINIMAL_BUILD=ON'] : []),
    '-DUSE_BUNDLED_DEPS=OFF',
    '-DCREATE_TEST_TARGETS=OFF',
    '-DBUILD_DRIVER=OFF',
    '-DCMAKE_BUILD_TYPE=Release',
    `-DPROBE_VERSION=${commit}`,
    '-DLUAJIT_INCLUDE=/usr/include/luajit-2.1',
    '"-DLUAJIT_LIB=$(ls /usr/lib/*/libluajit-5.1.so | head -n 1)"',
    '"-DCMAKE_CXX_FLAGS=-DluaL_reg=luaL_Reg -DluaL_getn=lua_objlen"',
  ];
  return [
    'set -e',
    `cmake -S /work/src -B /work/build ${flags.join(' ')}`,
    'make -C /work/build -j2 sysdig',
    'bin=/work/build/userspace/sysdig/sysdig',
    // the runtime packages: whoever ships each shared library the binary needs
    `ldd $bin | awk '/=> \\//{print $3}' | xargs -n1 realpath | xargs dpkg -S | cut -d: -f1 | sort -u > /work/runtime-packages`,
    'cp $bin /work/sysdig',
  ].join('\n');
}

export async function buildGitSysdig(debian: Debian, spec: ConsumerSpec, arch: Arch, extra: string[]): Promise<ConsumerAssets> {
  const pin = spec.git!;
  if (arch !== hostDebianArch()) throw new CellSkip(`no ${arch} consumer: sysdig from git is only built for ${hostDebianArch()} here`);
  const src = await gitCheckout(pin);
  const minimal = !spec.engines.includes('ebpf');
  const root = await builderRoot(debian, pin.suite, minimal ? SYSDIG_BUILD_DEPS : SYSDIG_FULL_BUILD_DEPS);
  const script = sysdigBuildScript(pin.commit, minimal);
  const out = await cached('consumers', { sysdig: pin.commit, script, root }, async (dir) => {
    // its CMake writes into the source tree (driver/bpf): a copy of its own
    const work = path.join(dir, 'work');
    await mkdir(work);
    await copyCheckout(src, path.join(work, 'src'));
    await runBuildScript(dir, root, [{ host: work, guest: '/work', writable: true }], script, `builder: ${pin.suite}`);
  });
  builtOrThrow(out, `sysdig ${pin.commit.slice(0, 12)}`);
  const work = path.join(out, 'work');
  const runtime = readFileSync(path.join(work, 'runtime-packages'), 'utf8').split('\n').filter(Boolean);
  // coreutils: older suites' busybox (bullseye's) has no base64 applet, which the guest's logs need
  const image = await guestImage(debian, pin.suite, arch, [...runtime, 'coreutils', ...extra], [path.join(work, 'sysdig')]);
  return { image, files: { 'usr/bin/sysdig': path.join(work, 'sysdig') }, version: `sysdig ${pin.url}@${pin.commit.slice(0, 12)} (built in ${pin.suite}${minimal ? ', MINIMAL_BUILD' : ''})` };
}
