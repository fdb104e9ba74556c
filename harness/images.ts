// Images: everything booted or built from, assembled from Debian packages
// through the isolated apt and cached by content — kernels (+ headers),
// builder roots per suite (for compilers matching the kernel's), and guest
// initramfs images holding busybox and the consumer.
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, rm, symlink, writeFile, lstat } from 'node:fs/promises';
import path from 'node:path';
import { AptDist, type PackageFile, type SuiteOptions } from './apt.js';
import { cached } from './cache.js';
import { trimGuest } from './guest-trim.js';
import { hostDebianArch } from './machines.js';
import type { Arch, KernelSpec } from './types.js';

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

export interface KernelTree {
  /** ABI name, also `uname -r` of the Debian kernel, e.g. 6.1.0-50-amd64. */
  abi: string;
  /** Upstream version from the package version, e.g. 6.1.176. */
  version: string;
  packageVersion: string;
  suite: string;
  arch: Arch;
  /** Root of the extracted packages (usr/src/..., usr/lib/linux-kbuild-..., boot/...). */
  root: string;
  /** Relative to root: the headers dir `make -C` goes to. */
  headers: string;
  image: string;
  dtbDir?: string;
  /** The SD card's modules (mmc host, ext4 and its dependencies), in load order, where the kernel has them as modules. */
  sdModules: string[];
  /** The kernel's own compiler (CONFIG_CC_VERSION_TEXT), e.g. gcc-12. */
  compiler: string;
  packages: PackageFile[];
}

/** The ABI of the suite's current kernel of a flavour: linux-image-<flavour> → linux-image-<abi>. */
async function resolveAbi(dist: AptDist, flavour: string): Promise<string> {
  const deps = await dist.depends(`linux-image-${flavour}`);
  const image = deps.find((d) => d.startsWith('linux-image-') && d !== `linux-image-${flavour}`);
  if (!image) throw new Error(`linux-image-${flavour} in ${dist.spec.suite}/${dist.spec.arch} names no kernel image`);
  return image.replace(/^linux-image-/, '').replace(/-unsigned$/, '');
}

export async function fetchKernel(debian: Debian, spec: KernelSpec): Promise<KernelTree> {
  const dist = debian.dist(spec.debian.suite, spec.arch);
  const abi = spec.debian.abi ?? (await resolveAbi(dist, spec.debian.flavour));
  const headers = `linux-headers-${abi}`;
  const deps = (await dist.depends(headers)).filter((d) => /^linux-(headers|kbuild)-/.test(d));
  const imageFields = await dist.show(`linux-image-${abi}`);
  // kbuild's host programs (fixdep, modpost) must run here: for a foreign arch take the host arch's build of them.
  const host = hostDebianArch();
  const kbuild = deps.filter((d) => d.startsWith('linux-kbuild-'));
  // Since 7.x sid splits the image package: the kernel is in linux-binary-<abi>, modules in linux-modules-<abi>.
  const parts = (await dist.depends(`linux-image-${abi}`)).filter((d) => /^linux-(binary|base|modules)-/.test(d) && d.endsWith(abi));
  const imagePkgs = [`linux-image-${abi}`, ...parts];
  const pkgs = [
    ...(await dist.download([...imagePkgs, headers, ...deps.filter((d) => !kbuild.includes(d) || spec.arch === host)])),
    ...(spec.arch === host || !kbuild.length ? [] : await debian.dist(spec.debian.suite, host).download(kbuild)),
  ];
  // bookworm/trixie: /boot/vmlinuz-<abi> and DTBs under /usr/lib/linux-image-<abi>; 7.x: /usr/lib/modules/<abi>/vmlinuz.
  const members = ['boot/vmlinu*', `usr/lib/linux-image-${abi}/*`, `modules/${abi}/vmlinu*`, `modules/${abi}/dtb*`, ...SD_MODULES.map((m) => `${m}.ko*`)];
  const root = await cached('kernels', [pkgs.map((p) => p.sha256), members, RELOCATION], async (dir) => {
    const isImage = (p: PackageFile) => imagePkgs.includes(p.name);
    // The image package holds every module too; only the kernel, its device trees and the SD card's modules are needed.
    await extractDebs(pkgs.filter(isImage).map((p) => p.file), dir, members);
    await extractDebs(pkgs.filter((p) => !isImage(p)).map((p) => p.file), dir);
    await relocateHeaders(dir, `usr/src/${headers}`);
  });
  const hdir = path.join(root, 'usr/src', headers);
  const cfg = readFileSync(path.join(hdir, '.config'), 'utf8');
  const cc = /^CONFIG_CC_VERSION_TEXT="(\S+)/m.exec(cfg)?.[1] ?? 'gcc';
  const image = [`boot/vmlinuz-${abi}`, `boot/vmlinux-${abi}`, `usr/lib/modules/${abi}/vmlinuz`].map((f) => path.join(root, f)).find((f) => existsSync(f));
  if (!image) throw new Error(`no kernel image in ${imagePkgs.join(', ')}`);
  const dtbDir = path.join(root, 'usr/lib', `linux-image-${abi}`);
  const modules = ['lib/modules', 'usr/lib/modules'].map((d) => path.join(root, d, abi)).find((d) => existsSync(d));
  return {
    abi,
    version: imageFields.version!.replace(/-[^-]*$/, '').replace(/~.*$/, ''),
    packageVersion: imageFields.version!,
    suite: spec.debian.suite,
    arch: spec.arch,
    root,
    headers: `usr/src/${headers}`,
    image: spec.image ?? image,
    dtbDir: existsSync(dtbDir) ? dtbDir : undefined,
    sdModules: modules ? findModules(modules, SD_MODULES) : [],
    compiler: cc,
    packages: pkgs,
  };
}

/** What a Pi's SD card needs where Debian builds it as modules: ext4's dependencies, ext4, the sdhost controller. In load order. */
export const SD_MODULES = ['crc16', 'mbcache', 'jbd2', 'crc32c_generic', 'ext4', 'bcm2835'];

function findModules(dir: string, names: string[]): string[] {
  const all = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.ko(\.\w+)?$/.test(f));
  return names.flatMap((n) => all.filter((f) => path.basename(f).replace(/\.ko(\.\w+)?$/, '') === n).map((f) => path.join(dir, f)));
}

/**
 * Debian's flavour headers Makefile names /usr/src by absolute path: it
 * includes the -common tree's Makefile, and since 7.x also sets KBUILD_OUTPUT
 * to itself. Point both at where the tree really is, so it builds wherever it
 * is mounted. (Part of the kernels' cache key: change it, bump this.)
 */
const RELOCATION = 'headers-relocation-v2';
export function relocateHeadersMakefile(text: string): string {
  return text
    .replace(/^KBUILD_OUTPUT\s*[:?]?=\s*\/usr\/src\/\S+$/m, 'KBUILD_OUTPUT := $(realpath $(dir $(lastword $(MAKEFILE_LIST))))')
    .replace(/^include \/usr\/src\/(\S+)\/Makefile$/m, 'include $(dir $(lastword $(MAKEFILE_LIST)))../$1/Makefile');
}

async function relocateHeaders(root: string, rel: string): Promise<void> {
  const mk = path.join(root, rel, 'Makefile');
  await writeFile(mk, relocateHeadersMakefile(await readFile(mk, 'utf8')));
}

/** The Debian package of the kernel's compiler: `x86_64-linux-gnu-gcc-16 (Debian …)` and `gcc-12 (Debian …)` name gcc-16 and gcc-12. */
export function compilerPackage(ccVersionText: string): string {
  return /^(?:[a-z0-9_]+-linux-gnu\w*-)?(gcc(?:-\d+)?)\b/.exec(ccVersionText)?.[1] ?? 'gcc';
}

/** GNU triplets of the Debian arches, for cross compilers and clang --target. */
export const TRIPLETS: Record<Arch, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', armhf: 'arm-linux-gnueabihf' };

/**
 * Packages of the builder root for a kernel: kbuild's needs (pahole for 6.12+
 * module BTF), clang/llvm for BPF objects, and the kernel's own gcc — the
 * cross variant for a foreign arch.
 */
export function kernelBuilderPackages(kernel: Pick<KernelTree, 'compiler' | 'arch'>, hostArch: Arch): string[] {
  const gcc = compilerPackage(kernel.compiler);
  const cross = kernel.arch !== hostArch ? [`${gcc}-${TRIPLETS[kernel.arch].replace(/_/g, '-')}`] : [gcc];
  return ['build-essential', 'bc', 'kmod', 'libelf-dev', 'cpio', 'dwarves', 'clang', 'llvm', ...cross];
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
 */
export function inBuilder(root: string, mounts: SandboxMount[], cmd: string[], opts: { cwd: string; env?: Record<string, string>; crossBinutils?: string }) {
  const args = ['--unshare-all', '--die-with-parent', '--bind', root, '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const m of mounts) args.push(m.writable ? '--bind' : '--ro-bind', m.host, m.guest);
  let PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
  if (opts.crossBinutils) {
    for (const tool of ['ld', 'ar', 'as', 'nm', 'objcopy', 'objdump', 'readelf', 'strip'])
      args.push('--symlink', `/usr/bin/${opts.crossBinutils}-${tool}`, `/tmp/cross/${tool}`);
    PATH = `/tmp/cross:${PATH}`;
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

/** The guest's base initramfs: busybox and the dependency closure of `packages`, of a suite and arch. */
export async function guestImage(debian: Debian, suite: string, arch: Arch, packages: string[]): Promise<GuestImage> {
  const dist = debian.dist(suite, arch);
  const pkgs = await dist.closure([...packages, 'busybox-static']);
  const dir = await cached('guests', [...pkgs.map((p) => p.sha256).sort(), GUEST_TRIM], async (out) => {
    const root = path.join(out, 'root');
    await extractDebs(pkgs.map((p) => p.file), root);
    await mergeUsr(root);
    for (const junk of ['usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info', 'usr/share/lintian'])
      await rm(path.join(root, junk), { recursive: true, force: true });
    await trimGuest(root, ['usr/share/sysdig']);
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
