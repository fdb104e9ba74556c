// scap-open, libscap's example consumer, built from a Debian
// falcosecurity-libs source package in a builder root of its suite — with the
// modern eBPF engine where asked (the probe is then built into it). Its stdout
// is line-buffered in the guest (coreutils' libstdbuf), so capture ends at the marker.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AptDist, Debian } from '../apt.js';
import { builderRoot, extractDebs, firstCompilerError, inBuilder } from '../builder.js';
import { cached } from '../cache/cache.js';
import { BuildFailure, CellSkip, isUnavailable, SourceUnavailable } from '../errors.js';
import { guestImage } from '../images/guest.js';
import type { Arch, ConsumerAssets, ConsumerSpec } from '../types.js';

/** scap-open's build dependencies with MINIMAL_BUILD and system libraries (libsinsp is always configured). */
const SCAP_OPEN_BUILD = ['build-essential', 'dpkg-dev', 'cmake', 'libelf-dev', 'zlib1g-dev', 'libtbb-dev', 'libjsoncpp-dev', 'libvalijson-dev', 'libre2-dev', 'uthash-dev'];
const MODERN_BUILD = ['clang', 'bpftool', 'libbpf-dev'];

export async function buildScapOpen(debian: Debian, spec: ConsumerSpec, arch: Arch, extra: string[]): Promise<ConsumerAssets> {
  const libs = spec.libs!;
  if (arch !== 'amd64')
    // modern_bpf's CMake takes the BPF target arch from the build host's uname: no cross build as is.
    throw new CellSkip(`no ${arch} consumer: scap-open is only built for amd64 here (libs' modern_bpf CMake cannot cross-build for ${arch})`);
  const dist = debian.dist(libs.suite, arch);
  let src: { dsc: string; dir: string };
  try {
    src = await dist.source(libs.package);
  } catch (e) {
    if (!isUnavailable(e)) throw e;
    throw new SourceUnavailable(`${libs.package} source from ${libs.suite}: ${(e as Error).message}`);
  }
  const packages = [...SCAP_OPEN_BUILD, ...(libs.modern ? MODERN_BUILD : [])];
  const root = await builderRoot(debian, libs.suite, packages);
  const flags = ['-DMINIMAL_BUILD=ON', '-DUSE_BUNDLED_DEPS=OFF', '-DCREATE_TEST_TARGETS=OFF', '-DBUILD_DRIVER=OFF', `-DBUILD_LIBSCAP_MODERN_BPF=${libs.modern ? 'ON' : 'OFF'}`];
  const dsc = path.basename(src.dsc);
  const out = await cached('consumers', { dsc, hash: readFileSync(src.dsc, 'utf8'), packages, flags }, async (dir) => {
    await mkdir(path.join(dir, 'work'));
    const script = [
      'set -e',
      `dpkg-source -x /dsc/${dsc} libs >/dev/null`,
      'mkdir libs/build && cd libs/build',
      `cmake ${flags.join(' ')} ..`,
      'make -j2 scap-open',
      'bin=libscap/examples/01-open/scap-open',
      // the runtime packages: whoever ships each shared library the binary needs
      `ldd $bin | awk '/=> \\//{print $3}' | xargs -n1 realpath | xargs dpkg -S | cut -d: -f1 | sort -u > /work/runtime-packages`,
      'cp $bin /work/scap-open',
      'grep -h "PPME_SYSCALL_OPENAT_2_X = " ../driver/ppm_events_public.h > /work/openat',
    ].join('\n');
    const r = await inBuilder(root, [{ host: src.dir, guest: '/dsc' }, { host: path.join(dir, 'work'), guest: '/work', writable: true }], ['sh', '-c', script], { cwd: '/work' });
    const log = `${r.all ?? ''}\nexit ${r.exitCode}\n`;
    await writeFile(path.join(dir, 'build.log'), log);
    if (r.exitCode !== 0) {
      const kept = dir.replace(/\.tmp-\d+$/, '.failed.log'); // the entry itself is discarded
      await writeFile(kept, log);
      throw new BuildFailure(`scap-open did not build (log: ${kept})`, firstCompilerError(log) ?? 'no error line');
    }
  });
  const work = path.join(out, 'work');
  const runtime = readFileSync(path.join(work, 'runtime-packages'), 'utf8').split('\n').filter(Boolean);
  const image = await guestImage(debian, libs.suite, arch, [...runtime, ...extra], [path.join(work, 'scap-open')]);
  const openat = Number(/= (\d+)/.exec(readFileSync(path.join(work, 'openat'), 'utf8'))?.[1]);
  return {
    image,
    files: { 'usr/bin/scap-open': path.join(work, 'scap-open'), [STDBUF_LIB]: await stdbufLib(dist) },
    version: `scap-open ${dsc.replace(/\.dsc$/, '').replace('_', '=')}${libs.modern ? ' (modern_bpf)' : ''}`,
    openatExit: openat,
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
