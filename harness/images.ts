// Images: everything booted or built from, assembled from Debian packages
// through the isolated apt and cached by content — builder roots per suite
// (for compilers matching the kernel's) and guest initramfs images holding
// busybox and the consumer. (Kernels: harness/kernels/.)
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, symlink, lstat } from 'node:fs/promises';
import path from 'node:path';
import { AptDist, type SuiteOptions } from './apt.js';
import { cached } from './cache/cache.js';
import { trimGuest } from './guest-trim.js';
import type { KernelTree } from './kernels/index.js';
import type { Arch } from './types.js';

/** The Debian archive as the harness sees it: one mirror, per-suite options. */
export class Debian {
  private dists = new Map<string, AptDist>();
  constructor(readonly mirror: string, readonly suites: Record<string, SuiteOptions>) {}

  dist(suite: string, arch: Arch): AptDist {
    const key = `${suite}/${arch}`;
    let d = this.dists.get(key);
    if (!d) this.dists.set(key, (d = new AptDist({ mirror: this.mirror, suite, arch, ...(this.suites[suite] ?? {}) })));
    return d;
  }

  expiredAccepted(): string[] {
    return Object.entries(this.suites).filter(([, o]) => o.allowExpired).map(([s]) => s);
  }
}

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

/**
 * Packages of the builder root for a kernel: kbuild's needs (pahole for 6.12+
 * module BTF), clang/llvm for BPF objects, and the kernel's own compiler (its
 * builder choice) — the cross gcc for a foreign arch.
 */
export function kernelBuilderPackages(kernel: Pick<KernelTree, 'builder' | 'arch'>, hostArch: Arch): string[] {
  const cc = kernel.builder.compiler;
  const foreign = kernel.arch !== hostArch;
  const triplet = TRIPLETS[kernel.arch].replace(/_/g, '-');
  // clang is one compiler for every target; a foreign arch still needs its binutils
  const own = cc.startsWith('clang') ? [cc, ...(foreign ? [`binutils-${triplet}`] : [])] : [foreign ? `${cc}-${triplet}` : cc];
  return ['build-essential', 'bc', 'kmod', 'libelf-dev', 'cpio', 'dwarves', 'clang', 'llvm', ...own];
}

/**
 * A root filesystem of a Debian suite with the given packages (e.g. the
 * compiler that built a kernel), made by mmdebstrap (unshare mode: nothing is
 * mounted on the host) and cached.
 */
export async function builderRoot(debian: Debian, suite: string, packages: string[]): Promise<string> {
  const opts = debian.suites[suite] ?? {};
  return cached('builders', { suite, mirror: debian.mirror, packages, opts }, async (dir) => {
    const target = path.join(dir, 'root');
    const r = await execa(
      'mmdebstrap',
      [
        '--mode=unshare',
        '--variant=apt',
        '--quiet',
        `--include=${packages.join(',')}`,
        ...(opts.allowExpired ? ['--aptopt=Acquire::Check-Valid-Until "false"'] : []),
        `--components=${(opts.components ?? ['main']).join(',')}`,
        suite,
        target,
        debian.mirror,
      ],
      { reject: false, all: true },
    );
    if (r.exitCode !== 0) throw new Error(`mmdebstrap ${suite} failed: ${(r.all ?? '').split('\n').filter((l) => /^E:/.test(l)).join(' ') || (r.all ?? '').slice(-400)}`);
  }).then((d) => path.join(d, 'root'));
}

export interface SandboxMount {
  host: string;
  guest: string;
  writable?: boolean;
}

/**
 * Run a command inside a builder root with bwrap: private namespaces, no
 * network, only the given mounts. `crossBinutils` puts the target's binutils
 * first in PATH under their plain names (ld, ar, …), for sub-builds that drop
 * CROSS_COMPILE (libs' configure checks pass on only CC and PATH).
 * `aliases` likewise put programs under other names first in PATH.
 */
export function inBuilder(root: string, mounts: SandboxMount[], cmd: string[], opts: { cwd: string; env?: Record<string, string>; crossBinutils?: string; aliases?: Record<string, string> }) {
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
  return execa('bwrap', [...args, '--', ...cmd], { reject: false, all: true, stdin: 'ignore' });
}

export interface GuestImage {
  /** Uncompressed newc cpio: busybox + the consumer's dependency closure. */
  cpio: string;
  packages: { name: string; version: string }[];
}

/** How guests are trimmed (guest-trim.ts); part of their cache key. */
const GUEST_TRIM = 'trim-v1';

/**
 * The guest's base initramfs: busybox and the dependency closure of
 * `packages`, of a suite and arch, trimmed to what its programs (and
 * `programs`, host files the cell adds) load.
 */
export async function guestImage(debian: Debian, suite: string, arch: Arch, packages: string[], programs: string[] = []): Promise<GuestImage> {
  const dist = debian.dist(suite, arch);
  const pkgs = await dist.closure([...packages, 'busybox-static']);
  const dir = await cached('guests', [...pkgs.map((p) => p.sha256).sort(), GUEST_TRIM, ...programs], async (out) => {
    const root = path.join(out, 'root');
    await extractDebs(pkgs.map((p) => p.file), root);
    await mergeUsr(root);
    for (const junk of ['usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info', 'usr/share/lintian'])
      await rm(path.join(root, junk), { recursive: true, force: true });
    await trimGuest(root, ['usr/share/sysdig'], programs);
    await writeCpio(root, path.join(out, 'base.cpio'));
    await rm(root, { recursive: true, force: true });
  });
  return { cpio: path.join(dir, 'base.cpio'), packages: pkgs.map(({ name, version }) => ({ name, version })) };
}

/** Make /bin, /sbin, /lib* links into /usr, as a merged-/usr system has them (the dynamic loader path needs it). */
async function mergeUsr(root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    const top = path.join(root, d);
    const usr = path.join(root, 'usr', d);
    const st = await lstat(top).catch(() => undefined);
    if (st?.isSymbolicLink()) continue;
    if (st?.isDirectory()) {
      await mkdir(usr, { recursive: true });
      await cp(top, usr, { recursive: true, force: true, verbatimSymlinks: true });
      await rm(top, { recursive: true, force: true });
    }
    if (existsSync(usr)) await symlink(`usr/${d}`, top);
  }
}

/** Pack a directory as an uncompressed newc cpio archive (no decompression cost under TCG). */
export async function writeCpio(dir: string, out: string): Promise<void> {
  await execa('sh', ['-c', 'cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 > "$2"', 'sh', dir, out]);
}
