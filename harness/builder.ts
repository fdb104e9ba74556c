// The builder: Debian roots to build in (mmdebstrap, one per suite and package
// set, cached), a command run inside one (bubblewrap: private namespaces, no
// network), package extraction, and how a build's outcome is read — the
// compiler's first error, or an infrastructure failure when the tool never
// ran to an exit code. Kernels, drivers, consumers and guest images use it; it
// uses none of them.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Debian } from './apt.js';
import { cached, cacheDir, hashOf } from './cache/cache.js';
import { BuildFailure, InfraError } from './errors.js';
import { hostDebianArch } from './machines.js';
import type { Arch, BuilderChoice, ConsumerAssets } from './types.js';

/** Extract .deb files into `dir`; `members` limits what is taken from each (tar patterns). */
export async function extractDebs(debs: string[], dir: string, members: string[] = []): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const deb of debs) {
    if (!members.length) {
      await execa('dpkg-deb', ['-x', deb, dir]);
      continue;
    }
    // tar complains about patterns a package does not have (no DTBs on amd64); what matters is checked by the caller.
    await execa('bash', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards --no-anchored "${@:3}" 2>/dev/null; true', 'bash', deb, dir, ...members]);
  }
}

/** GNU triplets of the Debian arches, for cross compilers and clang --target. */
export const TRIPLETS: Record<Arch, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', armhf: 'arm-linux-gnueabihf' };

/** The triplet as Debian's package names spell it (gcc-12-x86-64-linux-gnu, binutils-aarch64-linux-gnu). */
export const debianTriplet = (arch: Arch): string => TRIPLETS[arch].replace(/_/g, '-');

/**
 * The arches one builder root serves. On amd64, all three: Debian ships each
 * gcc-N for amd64 with its aarch64 and armhf cross gcc-N (bullseye to sid,
 * read from their lists), so one mmdebstrap serves the kernels of one
 * compiler on every arch instead of one a arch. Elsewhere, the target's own.
 */
export function rootArches(host: Arch, target: Arch): Arch[] {
  return host === 'amd64' ? (Object.keys(TRIPLETS) as Arch[]) : [...new Set([host, target])];
}

/**
 * Packages of the builder root for a kernel: kbuild's needs (pahole for 6.12+
 * module BTF), clang/llvm for BPF objects, and the kernel's own compiler (its
 * builder choice) for each arch the root serves — the cross gcc for a foreign
 * one (clang is one compiler for every target; a foreign arch still needs its
 * binutils). Sorted: the same root whichever arch's kernel asks first.
 */
export function kernelBuilderPackages(kernel: { builder: BuilderChoice; arch: Arch }, hostArch: Arch): string[] {
  const cc = kernel.builder.compiler;
  const clang = cc.startsWith('clang');
  const own = rootArches(hostArch, kernel.arch).map((a) => (a === hostArch ? cc : clang ? `binutils-${debianTriplet(a)}` : `${cc}-${debianTriplet(a)}`));
  return ['build-essential', 'bc', 'kmod', 'libelf-dev', 'cpio', 'dwarves', 'clang', 'llvm', ...new Set(own.sort())];
}

/** A builder root's cache inputs; foreign arches (multiarch: <pkg>:<arch> -dev packages for cross builds) change the root. */
function builderKey(debian: Pick<Debian, 'mirror' | 'suites'>, suite: string, packages: string[], foreign: Arch[] = []): object {
  return { suite, mirror: debian.mirror, packages, opts: debian.suites[suite] ?? {}, ...(foreign.length ? { foreign } : {}) };
}

/** Where builderRoot's root of these inputs is, or will be (a build's cache key names it), without making it. */
export function builderRootPath(debian: Pick<Debian, 'mirror' | 'suites'>, suite: string, packages: string[], root = cacheDir()): string {
  return path.join(root, 'builders', hashOf(builderKey(debian, suite, packages)), 'root');
}

/**
 * A root filesystem of a Debian suite with the given packages (e.g. the
 * compiler that built a kernel), made by mmdebstrap (unshare mode: nothing is
 * mounted on the host) and cached.
 */
export async function builderRoot(debian: Debian, suite: string, packages: string[], foreign: Arch[] = []): Promise<string> {
  const opts = debian.suites[suite] ?? {};
  return cached('builders', builderKey(debian, suite, packages, foreign), async (dir) => {
    const target = path.join(dir, 'root');
    const r = ranToExit(
      await execa(
        'mmdebstrap',
        [
          '--mode=unshare',
          '--variant=apt',
          '--quiet',
          ...(foreign.length ? [`--architectures=${[hostDebianArch(), ...foreign].join(',')}`] : []),
          `--include=${packages.join(',')}`,
          ...(opts.allowExpired ? ['--aptopt=Acquire::Check-Valid-Until "false"'] : []),
          `--components=${(opts.components ?? ['main']).join(',')}`,
          suite,
          target,
          debian.mirror,
        ],
        { reject: false, all: true },
      ),
      `mmdebstrap ${suite}`,
    );
    if (r.exitCode !== 0) throw new Error(`mmdebstrap ${suite} failed: ${(r.all ?? '').split('\n').filter((l) => /^E:/.test(l)).join(' ') || (r.all ?? '').slice(-400)}`);
  }).then((d) => path.join(d, 'root'));
}

export interface SandboxMount {
  host: string;
  guest: string;
  writable?: boolean;
}

/** What a finished tool run looks like, whatever ran it (execa's result, or the harness's own runners). */
export interface ToolRun {
  exitCode?: number;
  signal?: string;
  /** Why it did not start (spawn failure), as execa reports it. */
  cause?: unknown;
  all?: string;
  /** execa's flags: ended by its own timeout, by cancellation. */
  timedOut?: boolean;
  isCanceled?: boolean;
}

/**
 * The tool ran and ended with an exit code — only then does its result say
 * anything about what it built. A run that did not start, was killed, timed
 * out or ended without a code raises InfraError (never a driver failure, never
 * cached); so does bubblewrap failing to set up its sandbox.
 */
export function ranToExit<T extends ToolRun>(r: T, what: string): T {
  const why =
    r.exitCode === undefined && r.cause instanceof Error && !r.signal
      ? `did not start (${r.cause.message.split('\n')[0]})`
      : r.timedOut
        ? 'timed out'
        : r.isCanceled
          ? 'was cancelled'
          : r.signal
            ? `was killed (${r.signal})`
            : typeof r.exitCode !== 'number'
              ? 'ended without an exit code'
              : /^bwrap: /m.test(r.all ?? '') && r.exitCode === 1 && !/\n/.test((r.all ?? '').trim())
                ? `could not set up its sandbox (${(r.all ?? '').trim()})`
                : // the compiler killed under it (the host out of memory): nothing is known of the code
                  /internal compiler error: Killed|Killed signal terminated program/.test(r.all ?? '')
                  ? 'had its compiler killed (out of memory?)'
                  : undefined;
  if (why) throw new InfraError(`${what} ${why}`);
  return r;
}

/**
 * Run a command inside a builder root with bwrap: private namespaces, no
 * network, only the given mounts. `crossBinutils` puts the target's binutils
 * first in PATH under their plain names (ld, ar, …), for sub-builds that drop
 * CROSS_COMPILE (libs' configure checks pass on only CC and PATH).
 * `aliases` likewise put programs under other names first in PATH.
 * Resolves only when the command ran to an exit code (else InfraError).
 */
export async function inBuilder(root: string, mounts: SandboxMount[], cmd: string[], opts: { cwd: string; env?: Record<string, string>; crossBinutils?: string; aliases?: Record<string, string> }) {
  const args = ['--unshare-all', '--die-with-parent', '--bind', root, '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const m of mounts) args.push(m.writable ? '--bind' : '--ro-bind', m.host, m.guest);
  let PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
  if (opts.crossBinutils) {
    for (const tool of ['ld', 'ar', 'as', 'nm', 'objcopy', 'objdump', 'readelf', 'strip'])
      args.push('--symlink', `/usr/bin/${opts.crossBinutils}-${tool}`, `/tmp/cross/${tool}`);
    PATH = `/tmp/cross:${PATH}`;
  }
  // `aliases` (name → program) go first in PATH, e.g. a self-built kernel's plain `gcc` → the gcc-11 that built it
  if (opts.aliases && Object.keys(opts.aliases).length) {
    for (const [name, target] of Object.entries(opts.aliases)) args.push('--symlink', target, `/tmp/alias/${name}`);
    PATH = `/tmp/alias:${PATH}`;
  }
  args.push('--chdir', opts.cwd, '--setenv', 'PATH', PATH, '--setenv', 'LC_ALL', 'C');
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--setenv', k, v);
  const r = await execa('bwrap', [...args, '--', ...cmd], { reject: false, all: true, stdin: 'ignore' });
  return ranToExit(r, `${cmd[0]} in the builder`);
}

/**
 * The compiler's first real error line: not warnings, not make's own "Error 1"
 * echoes, and not the output of libs' configure probes (expected to fail on
 * some kernels) — unless the probes' sanity check is what broke the build.
 */
export function firstCompilerError(log: string): string | undefined {
  const sanity = /Build output for HAS_0__SANITY:\s*\n(.*)/.exec(log)?.[1];
  if (sanity && /build system is broken/i.test(log)) {
    // the probe's own log (appended by buildDriver) has the compiler's lines unjoined
    const own = log.split('\n--- bpf/configure/0__SANITY/build.log\n')[1]?.split('\n').find((l) => /\berror:/.test(l));
    if (own) return `configure sanity check failed: ${own.trim().slice(0, 240)}`;
    const why = /\S[^:]*: (?:\S+ )?(?:error:|unrecognised|unrecognized|not found|No such file)[^\n]*?(?=make\[|$)/.exec(sanity)?.[0];
    return `configure sanity check failed: ${(why ?? sanity).trim().slice(0, 240)}`;
  }
  // the probes' own output, and the probe Makefile's harmless `expr: syntax error` (a COS version check)
  const lines = log.split('\n').filter((l) => !/\[configure-(kmod|bpf)\]/.test(l) && !/^expr: /.test(l));
  const missingTool = /\S+: \d+: \S+: not found/.exec(lines.join('\n'))?.[0];
  return (
    lines.find((l) => /\berror:/.test(l) && !/^make(\[\d+\])?: \*\*\*/.test(l)) ??
    lines.find((l) => /^ERROR: modpost: /.test(l)) ?? // e.g. a symbol the kernel does not export
    missingTool ??
    lines.find((l) => /^make(\[\d+\])?: \*\*\*/.test(l)) ??
    lines.find((l) => /error/i.test(l))
  )?.trim();
}

/**
 * Run a build script inside a builder root (cwd /work), its log kept as
 * `dir`/build.log and its outcome as `dir`/result.json: a build that ran and
 * failed is a result like a success (kept in the cache: the same inputs fail
 * the same way); one that never ran to an exit code raises InfraError
 * (inBuilder) and nothing is kept.
 */
export async function runBuildScript(dir: string, root: string, mounts: SandboxMount[], script: string, note = '', aliases?: Record<string, string>): Promise<boolean> {
  const r = await inBuilder(root, mounts, ['sh', '-c', script], { cwd: '/work', aliases });
  await writeFile(path.join(dir, 'build.log'), `$ sh -c '${script}'${note ? `   # ${note}` : ''}\n${r.all ?? ''}\nexit ${r.exitCode}\n`);
  await writeFile(path.join(dir, 'result.json'), JSON.stringify({ ok: r.exitCode === 0 }));
  return r.exitCode === 0;
}

/** A cached build's outcome: a failed one raises BuildFailure with the compiler's first error (an entry without result.json predates it, and built). */
export function builtOrThrow(dir: string, what: string, builder?: ConsumerAssets['builder']): void {
  const result = path.join(dir, 'result.json');
  if (!existsSync(result) || (JSON.parse(readFileSync(result, 'utf8')) as { ok: boolean }).ok) return;
  const log = path.join(dir, 'build.log');
  throw new BuildFailure(`${what} did not build (log: ${log})`, firstCompilerError(readFileSync(log, 'utf8')) ?? 'no error line', builder);
}

/** Shell: the Debian packages shipping each shared library `bin` loads (its runtime closure's roots), into `out`. */
export function runtimePackagesOf(bin: string, out: string): string {
  return `ldd ${bin} | awk '/=> \\//{print $3}' | xargs -n1 realpath | xargs dpkg -S | cut -d: -f1 | sort -u > ${out}`;
}

/** What `uname -m` says on each arch (CMake's CMAKE_SYSTEM_PROCESSOR is the same). */
const UNAME_MACHINES: Record<Arch, string> = { amd64: 'x86_64', arm64: 'aarch64', armhf: 'armv7l' };

/** A CMake toolchain file for a cross build to `arch` with Debian's cross gcc and the :arch -dev packages of a multiarch root. */
export function cmakeToolchain(arch: Arch): string {
  const triplet = TRIPLETS[arch];
  return [
    'set(CMAKE_SYSTEM_NAME Linux)',
    `set(CMAKE_SYSTEM_PROCESSOR ${UNAME_MACHINES[arch]})`,
    `set(CMAKE_C_COMPILER ${triplet}-gcc)`,
    `set(CMAKE_CXX_COMPILER ${triplet}-g++)`,
    `set(CMAKE_LIBRARY_ARCHITECTURE ${triplet})`,
    // host programs (clang for the BPF target, bpftool) stay the host's
    'set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)',
    `set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${triplet}/pkgconfig:/usr/share/pkgconfig)`,
    '',
  ].join('\n');
}

/** Shell: the packages of `arch` shipping each shared library a cross-built `bin` needs (ldd cannot run it: its NEEDED entries). */
export function crossRuntimePackagesOf(bin: string, arch: Arch, out: string): string {
  const t = TRIPLETS[arch];
  return `${t}-readelf -d ${bin} | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p' | while read -r lib; do for d in /usr/lib/${t} /lib/${t}; do [ -e "$d/$lib" ] && { realpath "$d/$lib"; break; }; done; done | xargs dpkg -S | cut -d: -f1 | sort -u > ${out}`;
}

/**
 * A `uname` that answers `-m` with the target's machine (the real one for the
 * rest): for CMake that takes the BPF target arch from `uname -m` (libs 0.20's
 * modern_bpf) in a cross build. Put first in PATH through inBuilder's aliases.
 */
export function unameFor(arch: Arch): string {
  return `#!/bin/sh\nif [ "$1" = -m ]; then echo ${UNAME_MACHINES[arch]}; else exec /usr/bin/uname "$@"; fi\n`;
}
