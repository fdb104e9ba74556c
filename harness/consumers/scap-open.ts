// scap-open, libscap's example consumer, built in a builder root of its suite
// from a libs tree — a Debian falcosecurity-libs source package, or a git
// commit (optionally with another commit's driver/ over its own, so that the
// modern probe built into it is that driver's). With the modern eBPF engine
// where asked (the probe is then built into it); for arm64, cross-built in a
// multiarch root (libs of today). Its stdout is line-buffered
// in the guest (coreutils' libstdbuf), so capture ends at the marker.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AptDist, Debian } from '../apt.js';
import { builderRoot, builtOrThrow, cmakeToolchain, crossRuntimePackagesOf, extractDebs, runBuildScript, runtimePackagesOf, unameFor, type SandboxMount } from '../builder.js';
import { cached } from '../cache/cache.js';
import { CellSkip, isUnavailable, SourceUnavailable } from '../errors.js';
import { copyLibsWithDriver, gitCheckout } from '../git.js';
import { guestImage } from '../images/guest.js';
import { hostDebianArch } from '../machines.js';
import type { Arch, ConsumerAssets, ConsumerSpec } from '../types.js';
import { FALCO_BUILD_DEPS } from './falco.js';

/**
 * What a cross build to arm64 needs in a multiarch root: the cross gcc, the
 * host's clang and bpftool (the BPF objects and the skeleton), and the arm64
 * -dev packages. libs of today take the BPF target arch from
 * CMAKE_SYSTEM_PROCESSOR and build their generator for the host.
 */
export function crossBuildPackages(arch: Arch): string[] {
  const dev = ['libelf-dev', 'zlib1g-dev', 'libbpf-dev', 'libzstd-dev', 'libtbb-dev', 'libjsoncpp-dev', 'libre2-dev'].map((p) => `${p}:${arch}`);
  return [`crossbuild-essential-${arch}`, 'dpkg-dev', 'cmake', 'make', 'pkg-config', 'clang', 'llvm', 'bpftool', 'libvalijson-dev', 'uthash-dev', ...dev];
}

/** The build in /work: the libs tree in /work/libs (unpacked there from /dsc for a source package); `cross`: the target arch. */
export function scapOpenScript(flags: string[], dsc?: string, cross?: Arch): string {
  return [
    'set -e',
    ...(dsc ? [`dpkg-source -x /dsc/${dsc} libs >/dev/null`] : []),
    'mkdir libs/build && cd libs/build',
    `cmake ${flags.join(' ')} ..`,
    'make -j"$(nproc)" scap-open',
    'bin=libscap/examples/01-open/scap-open',
    cross ? crossRuntimePackagesOf('$bin', cross, '/work/runtime-packages') : runtimePackagesOf('$bin', '/work/runtime-packages'),
    'cp $bin /work/scap-open',
    'grep -h "PPME_SYSCALL_OPENAT_2_X = " ../driver/ppm_events_public.h > /work/openat',
  ].join('\n');
}

export async function buildScapOpen(debian: Debian, spec: ConsumerSpec, arch: Arch, extra: string[]): Promise<ConsumerAssets> {
  const libs = spec.libs!;
  const cross = arch !== hostDebianArch() ? arch : undefined;
  if (cross && cross !== 'arm64') throw new CellSkip(`no ${arch} consumer: Falco's libs do not support ${arch}`);
  const dist = debian.dist(libs.suite, arch);
  // one builder root per suite for Falco and every native scap-open (a libs commit of today builds what Falco
  // does: its examples want cxxopts, …; a Debian source package needs only a part of it, and dpkg-source);
  // a cross build: a multiarch root with the target's -dev packages, the libsinsp examples left out
  const packages = cross ? crossBuildPackages(cross) : FALCO_BUILD_DEPS;
  const flags = [
    '-DMINIMAL_BUILD=ON', '-DUSE_BUNDLED_DEPS=OFF', '-DCREATE_TEST_TARGETS=OFF', '-DBUILD_DRIVER=OFF', `-DBUILD_LIBSCAP_MODERN_BPF=${libs.modern ? 'ON' : 'OFF'}`,
    ...(cross ? ['-DCMAKE_TOOLCHAIN_FILE=/work/toolchain.cmake', '-DBUILD_LIBSINSP_EXAMPLES=OFF'] : []),
  ];
  let key: object, what: string, prepare: (work: string) => Promise<SandboxMount[]>;
  if (libs.git) {
    const [tree, driver] = await Promise.all([gitCheckout(libs.git), libs.driver ? gitCheckout(libs.driver) : undefined]);
    key = { libs: libs.git.commit, driver: libs.driver?.commit };
    what = `${libs.git.url}@${libs.git.commit.slice(0, 12)}${libs.driver ? ` with driver/ of ${libs.driver.commit.slice(0, 12)}` : ''}`;
    prepare = async (work) => {
      await copyLibsWithDriver(tree, driver, path.join(work, 'libs'));
      return [];
    };
  } else {
    let src: { dsc: string; dir: string };
    try {
      src = await dist.source(libs.package!);
    } catch (e) {
      if (!isUnavailable(e)) throw e;
      throw new SourceUnavailable(`${libs.package} source from ${libs.suite}: ${(e as Error).message}`);
    }
    const dsc = path.basename(src.dsc);
    key = { dsc, hash: readFileSync(src.dsc, 'utf8') };
    what = dsc.replace(/\.dsc$/, '').replace('_', '=');
    prepare = async () => [{ host: src.dir, guest: '/dsc' }];
  }
  const root = await builderRoot(debian, libs.suite, packages, cross ? [cross] : []);
  // the source packages' libs (0.20) take the BPF target arch from `uname -m`, not from the toolchain
  const fakeUname = Boolean(cross && !libs.git);
  const script = scapOpenScript(flags, 'dsc' in key ? (key as { dsc: string }).dsc : undefined, cross);
  const out = await cached('consumers', { ...key, packages, flags, ...(libs.git || cross ? { script } : {}), ...(cross ? { cross } : {}), ...(fakeUname ? { uname: unameFor(cross!) } : {}) }, async (dir) => {
    const work = path.join(dir, 'work');
    await mkdir(work);
    const mounts = await prepare(work);
    if (cross) await writeFile(path.join(work, 'toolchain.cmake'), cmakeToolchain(cross));
    if (fakeUname) await writeFile(path.join(work, 'uname'), unameFor(cross!), { mode: 0o755 });
    await runBuildScript(dir, root, [...mounts, { host: work, guest: '/work', writable: true }], script, `builder: ${libs.suite}${cross ? `; cross to ${cross}` : ''}`, fakeUname ? { uname: '/work/uname' } : undefined);
    await rm(path.join(work, 'libs'), { recursive: true, force: true }); // the build tree is not needed again
  });
  builtOrThrow(out, `scap-open (${what})`, { suite: libs.suite, root, ...(cross ? { cross } : {}) });
  const work = path.join(out, 'work');
  const runtime = readFileSync(path.join(work, 'runtime-packages'), 'utf8').split('\n').filter(Boolean);
  const image = await guestImage(debian, libs.suite, arch, [...runtime, ...extra], [path.join(work, 'scap-open')]);
  const openat = Number(/= (\d+)/.exec(readFileSync(path.join(work, 'openat'), 'utf8'))?.[1]);
  return {
    image,
    files: { 'usr/bin/scap-open': path.join(work, 'scap-open'), [STDBUF_LIB]: await stdbufLib(dist) },
    version: `scap-open ${what}${libs.modern ? ' (modern_bpf)' : ''}${cross ? `, cross-built for ${cross}` : ''}`,
    openatExit: openat,
    builder: { suite: libs.suite, root, ...(cross ? { cross } : {}) },
  };
}

/** coreutils' libstdbuf (what `stdbuf -oL` preloads): scap-open's stdout line-buffered, so capture ends at the marker. */
const STDBUF_LIB = 'usr/libexec/coreutils/libstdbuf.so';

async function stdbufLib(dist: AptDist): Promise<string> {
  const debs = await dist.download(['coreutils']);
  const dir = await cached('stdbuf', debs.map((d) => d.sha256), (out) => extractDebs(debs.map((d) => d.file), out, [STDBUF_LIB]));
  const lib = path.join(dir, STDBUF_LIB);
  if (!existsSync(lib)) throw new Error(`coreutils (${dist.spec.suite}/${dist.spec.arch}) has no ${STDBUF_LIB}`);
  return lib;
}
