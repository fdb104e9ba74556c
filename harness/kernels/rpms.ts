// Kernels as Red Hat-family packages (.rpm): Amazon Linux 2's single `kernel`
// (image in /boot, modules in /lib/modules), or EL8+'s `kernel-core` +
// `kernel-modules(-core)` (image at /lib/modules/<release>/vmlinuz), always
// with `kernel-devel`'s build tree in /usr/src/kernels/<release>. Shared by the
// yum kind and the store's import; the packages' names, versions and arches
// come from yum metadata or from the packages' own headers.
import { execa } from 'execa';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cached } from '../cache/cache.js';
import { UserError } from '../errors.js';
import { hostDebianArch } from '../machines.js';
import type { Arch, KernelSpec, KernelTree, PackageFile } from '../types.js';
import { kernelTreeAt, pinArchMakefile } from './debs.js';
import { sha256File } from './download.js';
import type { KernelContext } from './kind.js';

/** An rpm's identity: name, epoch, version, release, arch (as yum's primary.xml and the rpm header give them). */
export interface RpmPackage {
  name: string;
  epoch: number;
  ver: string;
  rel: string;
  arch: string;
}

/** A downloaded or given .rpm. `version` is its [epoch:]version-release. */
export interface KernelRpm extends RpmPackage, PackageFile {}

/** The rpm arch of a Debian arch (what `$basearch` and package arches say). */
export const RPM_ARCHES: Record<Arch, string> = { amd64: 'x86_64', arm64: 'aarch64', armhf: 'armv7hl' };

export function evrString(p: Pick<RpmPackage, 'epoch' | 'ver' | 'rel'>): string {
  return `${p.epoch ? `${p.epoch}:` : ''}${p.ver}-${p.rel}`;
}

/** `uname -r` of a Red Hat-family kernel package: version-release.arch (5.14.0-427.el9.x86_64). */
export function rpmKernelRelease(p: Pick<RpmPackage, 'ver' | 'rel' | 'arch'>): string {
  return `${p.ver}-${p.rel}.${p.arch}`;
}

/**
 * rpm's version comparison (rpmvercmp): alternating runs of digits (numeric,
 * leading zeros ignored) and letters (byte order), separators ignored, a
 * digit run newer than a letter run, `~` older than anything (pre-releases),
 * `^` newer than the end of the other string but older than anything else.
 */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  const alnum = (c: string | undefined) => c !== undefined && /[A-Za-z0-9]/.test(c);
  const digit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  const alpha = (c: string | undefined) => c !== undefined && /[A-Za-z]/.test(c);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !alnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !alnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++, j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++, j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = digit(a[i]);
    const run = numeric ? digit : alpha;
    const si = i;
    const sj = j;
    while (run(a[i])) i++;
    while (run(b[j])) j++;
    let x = a.slice(si, i);
    let y = b.slice(sj, j);
    if (!y.length) return numeric ? 1 : -1; // a digit run against a letter run: the digits are newer
    if (numeric) {
      x = x.replace(/^0+/, '');
      y = y.replace(/^0+/, '');
      if (x.length !== y.length) return x.length > y.length ? 1 : -1;
    }
    if (x !== y) return x > y ? 1 : -1;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** rpm's order of two packages' epoch:version-release. */
export function compareEvr(a: Pick<RpmPackage, 'epoch' | 'ver' | 'rel'>, b: Pick<RpmPackage, 'epoch' | 'ver' | 'rel'>): number {
  return Math.sign(a.epoch - b.epoch) || rpmvercmp(a.ver, b.ver) || rpmvercmp(a.rel, b.rel);
}

/** Packages holding the kernel image (EL8+ splits it into kernel-core; `kernel` is then empty, Amazon Linux 2's has everything). */
const IMAGE_PACKAGES = ['kernel', 'kernel-core'];
/** Its modules where they are split off (EL8+; EL9 adds kernel-modules-core). */
const MODULE_PACKAGES = ['kernel-modules-core', 'kernel-modules'];
const DEVEL_PACKAGE = 'kernel-devel';

/** One kernel among rpms: its image and modules packages and its build tree (kernel-devel), one release and arch. */
export interface RpmKernelSet<P extends RpmPackage> {
  /** version-release.arch of the packages (`uname -r` of Red Hat-family kernels). */
  release: string;
  arch: Arch;
  /** kernel and/or kernel-core, then kernel-modules-core and kernel-modules. */
  packages: P[];
  devel?: P;
}

/**
 * Group rpms into kernels (one per version-release.arch): only these exact
 * names count, so kernel-headers (UAPI headers), kernel-debug-*, kernel-rt-*,
 * kernel-tools, kernel-devel-matched… are never taken for the kernel.
 */
export function groupRpmKernels<P extends RpmPackage>(pkgs: P[]): { kernels: RpmKernelSet<P>[]; unused: P[] } {
  const debArch = (a: string) => (Object.entries(RPM_ARCHES).find(([, r]) => r === a)?.[0] as Arch | undefined);
  const key = (p: P) => `${p.epoch}:${rpmKernelRelease(p)}`;
  const byKey = new Map<string, RpmKernelSet<P>>();
  const used = new Set<P>();
  const named = (names: string[]) => pkgs.filter((p) => names.includes(p.name) && debArch(p.arch));
  for (const p of named(IMAGE_PACKAGES)) {
    const set = byKey.get(key(p)) ?? { release: rpmKernelRelease(p), arch: debArch(p.arch)!, packages: [] };
    byKey.set(key(p), set);
    // the same package twice (two repositories): the first one
    if (!set.packages.some((q) => q.name === p.name)) set.packages.push(p), used.add(p);
  }
  for (const p of named(MODULE_PACKAGES)) {
    const set = byKey.get(key(p));
    if (set && !set.packages.some((q) => q.name === p.name)) set.packages.push(p), used.add(p);
  }
  for (const p of named([DEVEL_PACKAGE])) {
    const set = byKey.get(key(p));
    if (set && !set.devel) (set.devel = p), used.add(p);
  }
  const order = [...IMAGE_PACKAGES, ...MODULE_PACKAGES];
  const kernels = [...byKey.values()];
  for (const k of kernels) k.packages.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { kernels, unused: pkgs.filter((p) => !used.has(p)) };
}

/** RPM header tags read from a package. */
const TAGS = { name: 1000, version: 1001, release: 1002, epoch: 1003, arch: 1022 } as const;

/**
 * Name, epoch, version, release and arch from an .rpm's own header (lead,
 * signature header padded to 8 bytes, then the main header's index and data).
 */
export async function readRpmHeader(file: string): Promise<RpmPackage> {
  const fh = await open(file, 'r');
  try {
    const read = async (at: number, n: number) => {
      const b = Buffer.alloc(n);
      const { bytesRead } = await fh.read(b, 0, n, at);
      if (bytesRead !== n) throw new UserError(`${file} is not an rpm package (it ends inside its header).`);
      return b;
    };
    const lead = await read(0, 96);
    if (lead.readUInt32BE(0) !== 0xedabeedb) throw new UserError(`${file} is not an rpm package (no rpm lead).`);
    const headerAt = async (at: number) => {
      const h = await read(at, 16);
      if (h.readUInt32BE(0) >>> 8 !== 0x8eade8) throw new UserError(`${file} is not an rpm package (no header at byte ${at}).`);
      return { count: h.readUInt32BE(8), size: h.readUInt32BE(12) };
    };
    const sig = await headerAt(96);
    const sigEnd = 96 + 16 + sig.count * 16 + sig.size;
    const mainAt = sigEnd + ((8 - (sigEnd % 8)) % 8);
    const main = await headerAt(mainAt);
    const body = await read(mainAt + 16, main.count * 16 + main.size);
    const data = body.subarray(main.count * 16);
    const values = new Map<number, string | number>();
    for (let n = 0; n < main.count; n++) {
      const tag = body.readUInt32BE(n * 16);
      const type = body.readUInt32BE(n * 16 + 4);
      const offset = body.readUInt32BE(n * 16 + 8);
      if (!Object.values(TAGS).includes(tag as never)) continue;
      if (type === 4) values.set(tag, data.readUInt32BE(offset)); // INT32
      else if (type === 6 || type === 9) values.set(tag, data.toString('utf8', offset, data.indexOf(0, offset))); // STRING, I18NSTRING
    }
    const str = (t: number) => {
      const v = values.get(t);
      if (typeof v !== 'string') throw new UserError(`${file}: its rpm header has no ${Object.keys(TAGS).find((k) => TAGS[k as keyof typeof TAGS] === t)}.`);
      return v;
    };
    return { name: str(TAGS.name), epoch: Number(values.get(TAGS.epoch) ?? 0), ver: str(TAGS.version), rel: str(TAGS.release), arch: str(TAGS.arch) };
  } finally {
    await fh.close();
  }
}

/** Read each .rpm's header and sha256. */
export async function readRpms(files: string[]): Promise<KernelRpm[]> {
  return Promise.all(files.map(async (file) => rpmFile(await readRpmHeader(file), file, await sha256File(file))));
}

export function rpmFile(p: RpmPackage, file: string, sha256: string): KernelRpm {
  return { name: p.name, epoch: p.epoch, ver: p.ver, rel: p.rel, arch: p.arch, version: evrString(p), file, sha256 };
}

/** Pick the one kernel of `arch` among the rpms, with its build tree, or say clearly why there is none. */
export function selectRpmKernel<P extends RpmPackage & { file?: string }>(pkgs: P[], arch: Arch, what: string): RpmKernelSet<P> & { devel: P } {
  const { kernels } = groupRpmKernels(pkgs);
  const mine = kernels.filter((k) => k.arch === arch);
  if (!mine.length)
    throw new UserError(
      `${what}: no kernel or kernel-core package for ${RPM_ARCHES[arch]} among ${pkgs.map((p) => (p.file ? path.basename(p.file) : `${p.name}-${evrString(p)}.${p.arch}`)).join(', ') || 'no packages'}` +
        (kernels.length ? ` (there are: ${kernels.map((k) => k.release).join(', ')})` : '') +
        '.',
    );
  if (mine.length > 1) throw new UserError(`${what}: several ${RPM_ARCHES[arch]} kernels (${mine.map((k) => k.release).join(', ')}); give the packages of one.`);
  const k = mine[0]!;
  if (!k.devel) throw new UserError(`${what}: no kernel-devel package for ${k.release}: drivers are built against the kernel's build tree; add it.`);
  return k as RpmKernelSet<P> & { devel: P };
}

/** Where a release's modules are: /lib/modules (EL, Amazon Linux) or /usr/lib/modules (merged /usr). */
const MODULE_DIRS = ['lib/modules', 'usr/lib/modules'];
/** Part of the kernels' cache key: change the assembly, bump this. */
const ASSEMBLY = 'rpms-assembly-v1';

/** Extract .rpm files into `dir` (rpm2cpio reads every payload compression rpm has used: gzip, xz, zstd). */
export async function extractRpms(files: string[], dir: string): Promise<void> {
  for (const f of files) {
    const r = await execa('bash', ['-c', 'set -o pipefail; rpm2cpio "$1" | (cd "$2" && cpio -idm --quiet --no-absolute-filenames --no-preserve-owner)', 'bash', f, dir], { reject: false });
    if (r.exitCode !== 0) throw new UserError(`${f}: cannot extract it (rpm2cpio | cpio: ${r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`}).`);
  }
}

/**
 * The release an extracted kernel really has: the packages' version-release.arch
 * where its modules dir or image has that name, else the one modules dir
 * holding an image, else the one /boot/vmlinuz-*.
 */
export function extractedRelease(root: string, packaged: string): string | undefined {
  const withImage = MODULE_DIRS.flatMap((d) => {
    const dir = path.join(root, d);
    return existsSync(dir) ? readdirSync(dir).filter((r) => existsSync(path.join(dir, r, 'vmlinuz'))) : [];
  });
  const boot = existsSync(path.join(root, 'boot')) ? readdirSync(path.join(root, 'boot')).flatMap((f) => /^vmlinuz-(.+)$/.exec(f)?.[1] ?? []).filter((r) => !r.includes('rescue')) : [];
  const all = [...new Set([...withImage, ...boot])];
  if (all.includes(packaged)) return packaged;
  return all.length === 1 ? all[0] : undefined;
}

/**
 * A KernelTree from a kernel's rpms: every package extracted (cached by
 * content; modules kept as they are, .ko.xz/.ko.zst included), the build
 * tree's arch pinned and its `build` link made relative, then checked and its
 * compiler read like a Debian kernel's.
 */
export async function kernelFromRpms(rpms: KernelRpm[], spec: KernelSpec, ctx: KernelContext, origin: (k: { release: string; packageVersion: string }) => string, what = `kernel ${spec.id}`): Promise<KernelTree> {
  const k = selectRpmKernel(rpms, spec.arch, what);
  const pkgs = [...k.packages, k.devel];
  const host = hostDebianArch();
  const root = await cached('kernels', [pkgs.map((p) => p.sha256).sort(), ASSEMBLY, host], async (dir) => {
    await extractRpms(pkgs.map((p) => p.file), dir);
    const r = extractedRelease(dir, k.release);
    if (!r) return;
    const tree = develTree(dir, r);
    const mk = path.join(tree, 'Makefile');
    if (existsSync(mk)) await writeFile(mk, pinArchMakefile(await readFile(mk, 'utf8'), spec.arch, host));
    // /lib/modules/<r>/build → /usr/src/kernels/<r>, absolute: made relative so it holds wherever the tree is
    for (const d of MODULE_DIRS) {
      const link = path.join(dir, d, r, 'build');
      if (existsSync(path.join(dir, d, r)) && isSymlink(link) && path.isAbsolute(readlinkSync(link))) {
        const target = path.relative(path.dirname(link), path.join(dir, readlinkSync(link)));
        await rm(link);
        await symlink(target, link);
      }
    }
  });
  const release = extractedRelease(root, k.release);
  const names = pkgs.map((p) => p.name).join(', ');
  if (!release) throw new UserError(`${what}: ${names} hold no kernel image (no lib/modules/<release>/vmlinuz, no boot/vmlinuz-<release>).`);
  const image = [`boot/vmlinuz-${release}`, ...MODULE_DIRS.map((d) => `${d}/${release}/vmlinuz`)].map((f) => path.join(root, f)).find((f) => existsSync(f))!;
  const dtbDir = [`boot/dtb-${release}`, ...MODULE_DIRS.map((d) => `${d}/${release}/dtb`)].map((d) => path.join(root, d)).find((d) => existsSync(d));
  const image0 = k.packages.find((p) => p.name !== 'kernel') ?? k.packages[0]!;
  return kernelTreeAt(
    { root, hdir: develTree(root, release), image, release, dtbDir, origin: origin({ release, packageVersion: `${image0.name}-${evrString(image0)}.${image0.arch}` }), packages: pkgs },
    spec,
    ctx,
    what,
  );
}

/** kernel-devel's build tree: usr/src/kernels/<release>, else its one tree with a .config. */
function develTree(root: string, release: string): string {
  const dir = path.join(root, 'usr/src/kernels');
  const exact = path.join(dir, release);
  if (existsSync(exact) || !existsSync(dir)) return exact;
  const withConfig = readdirSync(dir).filter((d) => existsSync(path.join(dir, d, '.config')));
  return withConfig.length === 1 ? path.join(dir, withConfig[0]!) : exact;
}

function isSymlink(p: string): boolean {
  try {
    readlinkSync(p);
    return true;
  } catch {
    return false;
  }
}
