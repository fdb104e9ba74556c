// Kernel packages: a kernel given as Debian packages — linux-image-* and
// linux-headers-* (+ linux-modules-* where split) — as `make bindeb-pkg`
// writes them and as Ubuntu's mainline builds are. Local files, directories,
// or sha256-pinned URLs. The same assembly serves the store and mainline.
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cached } from '../cache/cache.js';
import { extractDebs, TRIPLETS } from '../builder.js';
import { CellSkip, UserError } from '../errors.js';
import { hostDebianArch } from '../machines.js';
import type { Arch, KernelSpec, KernelTree, PackageFile } from '../types.js';
import { BUILDER_SUITES, chooseBuilder, detectCompiler, suiteCompilers } from './compiler.js';
import { relocateHeadersMakefile, SD_MODULES, sdModulesIn } from './debian.js';
import { downloadPinned, sha256File } from './download.js';
import type { KernelContext, KernelDescription, KernelKind } from './kind.js';

export type DebsEntry = { path: string } | { url: string; sha256: string };

export interface DebsKernelSource {
  kind: 'debs';
  /** Local .deb files or directories of them (absolute), or pinned URLs. */
  packages: DebsEntry[];
}

export const debsKernels: KernelKind<DebsKernelSource> = {
  kind: 'debs',
  schema: {
    type: 'object',
    required: ['packages'],
    additionalProperties: false,
    properties: {
      packages: {
        type: 'array',
        minItems: 1,
        items: {
          anyOf: [
            { type: 'string' },
            {
              type: 'object',
              required: ['url', 'sha256'],
              additionalProperties: false,
              properties: { url: { type: 'string', pattern: '^https?://' }, sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } },
            },
          ],
        },
      },
    },
  },
  parse: (f, dir) => ({
    kind: 'debs',
    packages: (f.packages as (string | { url: string; sha256: string })[]).map((p) => (typeof p === 'string' ? { path: path.resolve(dir, p) } : { url: p.url, sha256: p.sha256.toLowerCase() })),
  }),
  fetch: async (src, spec, ctx) => {
    const files: string[] = [];
    for (const p of src.packages) {
      if ('url' in p) files.push(await downloadPinned(p.url, p.sha256, 'matrix.yaml'));
      else if (!existsSync(p.path)) throw new CellSkip(`kernel source unavailable: ${p.path} does not exist here`);
      else files.push(...debFiles(p.path));
    }
    const pkgs = await readDebs(files);
    return kernelFromDebs(pkgs, spec, ctx, (k) => `linux-image-${k.release}=${k.packageVersion}`);
  },
  describe: (src, spec) => ({
    release: '<release of the linux-image package>',
    source: [`the ${spec.arch} linux-image and linux-headers packages among: ${src.packages.map((p) => ('url' in p ? `${p.url} (sha256 ${p.sha256.slice(0, 12)}…)` : p.path)).join(', ')}`],
    builder: CHOSEN_BUILDER,
    dtbDir: '<device-tree dir of the packages>',
  }),
};

/** How kernelFromDebs chooses a builder root, as `explain` tells it. */
export const CHOSEN_BUILDER: KernelDescription['builder'] = {
  suite: `<the oldest of ${BUILDER_SUITES.join(', ')} shipping the kernel's compiler, else the nearest newer>`,
  compiler: "<the kernel's compiler (from its .config, compile.h or image banner)>",
};

/** A path's .deb files (or other packages: `exts`): the file itself, or a directory's *.deb. */
export function debFiles(p: string, exts = ['.deb']): string[] {
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .filter((f) => exts.some((e) => f.endsWith(e)))
    .sort()
    .map((f) => path.join(p, f));
}

/** A kernel package file with its control fields. */
export interface KernelDeb extends PackageFile {
  arch: string;
}

/** Read each .deb's control fields (Package, Version, Architecture) and sha256. */
export async function readDebs(files: string[]): Promise<KernelDeb[]> {
  return Promise.all(
    files.map(async (file) => {
      const r = await execa('dpkg-deb', ['-f', file, 'Package', 'Version', 'Architecture'], { reject: false });
      if (r.exitCode !== 0) throw new UserError(`${file} is not a Debian package (dpkg-deb: ${r.stderr.split('\n')[0]}).`);
      const f = Object.fromEntries(r.stdout.split('\n').map((l) => [l.split(':')[0]!.toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      return { name: f.package!, version: f.version!, arch: f.architecture!, file, sha256: await sha256File(file) };
    }),
  );
}

/** The release (`uname -r`) of a kernel image package name: linux-image-<release>, linux-image-unsigned-<release>. */
export function imageRelease(name: string): string | undefined {
  if (/-(dbg|dbgsym)$/.test(name)) return undefined;
  return /^linux-image-(?:unsigned-)?(\d+\.\d+.*)$/.exec(name)?.[1];
}

export interface KernelSet {
  release: string;
  arch: Arch;
  image: KernelDeb;
  /** The image package's siblings holding modules (linux-modules-*), extracted like it: only what is needed. */
  modules: KernelDeb[];
  headers: KernelDeb[];
}

/**
 * Group packages into kernels (one per release and arch): the image, its
 * modules packages, and its headers (the flavour's and the arch-independent
 * common ones whose name the release starts with).
 */
export function groupKernels(debs: KernelDeb[]): { kernels: KernelSet[]; unused: KernelDeb[] } {
  const kernels: KernelSet[] = [];
  for (const d of debs) {
    const release = imageRelease(d.name);
    if (release && d.arch !== 'all') kernels.push({ release, arch: d.arch as Arch, image: d, modules: [], headers: [] });
  }
  const used = new Set<KernelDeb>(kernels.map((k) => k.image));
  for (const k of kernels) {
    const sameArch = (d: KernelDeb) => d.arch === k.arch || d.arch === 'all';
    const headersOf = (d: KernelDeb) => {
      // the release's own headers, or the common part of its ABI: linux-headers-<abi> (Ubuntu's generic),
      // linux-<flavour>-headers-<abi> (its cloud flavours: linux-azure-headers-5.15.0-1127 for 5.15.0-1127-azure)
      const abi = /^linux-headers-(.+)$/.exec(d.name)?.[1] ?? /^linux-[a-z][\w.-]*?-headers-(\d+\.\d+.*)$/.exec(d.name)?.[1];
      return abi !== undefined && (k.release === abi || k.release.startsWith(`${abi}-`));
    };
    for (const d of debs.filter(sameArch)) {
      if (d.name === `linux-modules-${k.release}`) k.modules.push(d), used.add(d);
      else if (headersOf(d)) k.headers.push(d), used.add(d);
    }
  }
  return { kernels, unused: debs.filter((d) => !used.has(d)) };
}

/** Pick the one kernel of `arch` among the packages, or say clearly why there is none. */
export function selectKernel(debs: KernelDeb[], arch: Arch, what: string): KernelSet {
  const { kernels } = groupKernels(debs);
  const mine = kernels.filter((k) => k.arch === arch);
  if (!mine.length)
    throw new UserError(
      `${what}: no linux-image package for ${arch} among ${debs.map((d) => path.basename(d.file)).join(', ') || 'no files'}` +
        (kernels.length ? ` (there are: ${kernels.map((k) => `${k.release} ${k.arch}`).join(', ')})` : '') +
        '.',
    );
  if (mine.length > 1) throw new UserError(`${what}: several ${arch} kernels (${mine.map((k) => k.release).join(', ')}); give the packages of one.`);
  const k = mine[0]!;
  if (!k.headers.length) throw new UserError(`${what}: no linux-headers package for ${k.release} (${arch}): drivers are built against the kernel's headers; add them.`);
  return k;
}

/**
 * Pin the arch and cross compiler in a self-built headers tree that does not
 * record them (Debian's do): libs' configure probes reach the tree through
 * `env -i`, so a cross build's command-line variables never get there. Only
 * the top Makefile of a kernel source tree (ARCH ?= $(SUBARCH)) is pinned.
 */
export function pinArchMakefile(text: string, arch: Arch, host: Arch): string {
  if (/^ARCH\s*:?=/m.test(text) || !/^ARCH\s*\?=/m.test(text)) return text;
  const karch = { amd64: 'x86', arm64: 'arm64', armhf: 'arm' }[arch];
  const cross = arch !== host ? `CROSS_COMPILE ?= ${TRIPLETS[arch]}-\n` : '';
  return `# kmatrix: this tree's arch${cross ? ' and cross compiler' : ''} (builds reach it with an empty environment)\nARCH ?= ${karch}\n${cross}${text}`;
}

/** Upstream version from a headers Makefile (VERSION, PATCHLEVEL, SUBLEVEL), else from the release. */
export function kernelVersion(makefile: string | undefined, release: string): string {
  const v = (n: string) => (makefile ? new RegExp(`^${n}\\s*=\\s*(\\d+)`, 'm').exec(makefile)?.[1] : undefined);
  if (v('VERSION') && v('PATCHLEVEL')) return `${v('VERSION')}.${v('PATCHLEVEL')}.${v('SUBLEVEL') ?? '0'}`;
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m ? `${m[1]}.${m[2]}.${m[3] ?? '0'}` : release;
}

/** Where a kernel's device trees are: bindeb-pkg's /usr/lib/linux-image-<r>, Ubuntu's /lib/firmware/<r>/device-tree. */
const DTB_DIRS = (r: string) => [`usr/lib/linux-image-${r}`, `lib/firmware/${r}/device-tree`, `usr/lib/firmware/${r}/device-tree`];
/** Part of the kernels' cache key: change the assembly, bump this. */
const ASSEMBLY = 'debs-assembly-v1';

/**
 * A KernelTree from a kernel's packages (or the set a repository paired for
 * it): extracted (cached by content), arch pinned, compiler read, builder chosen.
 */
export async function kernelFromDebs(
  debs: KernelDeb[] | KernelSet,
  spec: KernelSpec,
  ctx: KernelContext,
  origin: (k: { release: string; packageVersion: string }) => string,
  what = `kernel ${spec.id}`,
): Promise<KernelTree> {
  const k = Array.isArray(debs) ? selectKernel(debs, spec.arch, what) : debs;
  const r = k.release;
  const host = hostDebianArch();
  const imagePkgs = [k.image, ...k.modules];
  const pkgs = [...imagePkgs, ...k.headers];
  const members = ['boot/vmlinu*', 'boot/Image*', 'boot/config-*', ...DTB_DIRS(r).map((d) => `${d}/*`), ...SD_MODULES.map((m) => `${m}.ko*`)];
  const root = await cached('kernels', [pkgs.map((p) => p.sha256).sort(), members, ASSEMBLY, host], async (dir) => {
    await extractDebs(imagePkgs.map((p) => p.file), dir, members);
    await extractDebs(k.headers.map((p) => p.file), dir);
    const mk = path.join(headersDir(dir, r), 'Makefile');
    // (Debian's flavour headers include their -common tree by absolute path: relocated; a no-op for other trees)
    if (existsSync(mk)) await writeFile(mk, pinArchMakefile(relocateHeadersMakefile(await readFile(mk, 'utf8')), spec.arch, host));
  });
  const image = [`boot/vmlinuz-${r}`, `boot/vmlinux-${r}`, `boot/Image-${r}`].map((f) => path.join(root, f)).find((f) => existsSync(f));
  if (!image) throw new UserError(`${what}: ${k.image.name} has no boot/vmlinuz-${r}.`);
  const dtbDir = DTB_DIRS(r).map((d) => path.join(root, d)).find((d) => existsSync(d));
  return kernelTreeAt({ root, hdir: headersDir(root, r), image, release: r, dtbDir, origin: origin({ release: r, packageVersion: k.image.version }), packages: pkgs }, spec, ctx, what);
}

/**
 * The KernelTree of an extracted kernel (packages of any format): its build
 * tree checked (a .config, host programs of this host's arch), the compiler
 * that built it read, a builder root chosen for it.
 */
export async function kernelTreeAt(
  t: { root: string; hdir: string; image: string; release: string; dtbDir?: string; origin: string; packages: PackageFile[] },
  spec: KernelSpec,
  ctx: KernelContext,
  what: string,
): Promise<KernelTree> {
  const { root, hdir, image, release: r } = t;
  const host = hostDebianArch();
  if (!existsSync(path.join(hdir, '.config'))) throw new UserError(`${what}: the build tree of ${r} (${path.relative(root, hdir)}) has no .config: not a module build tree.`);
  const foreignTools = hostToolsArch(hdir);
  if (foreignTools && foreignTools !== host)
    throw new CellSkip(
      `${what}: the headers' host programs (scripts/basic/fixdep) are built for ${foreignTools} and kbuild runs them here on ${host}; ` +
        `the harness does not rebuild them: use headers whose host programs are ${host} (a cross \`make bindeb-pkg\` makes those)`,
    );
  const compiler = await detectCompiler(hdir, image);
  if (!compiler) throw new UserError(`${what}: cannot tell which compiler built ${r} (no CONFIG_CC_VERSION_TEXT, no include/generated/compile.h, no banner in the image).`);
  const offers = await suiteCompilers(ctx.debian, host, spec.arch);
  const builder = { ...chooseBuilder(compiler, offers), plainName: true };
  const makefile = existsSync(path.join(hdir, 'Makefile')) ? readFileSync(path.join(hdir, 'Makefile'), 'utf8') : undefined;
  return {
    release: r,
    version: kernelVersion(makefile, r),
    origin: t.origin,
    arch: spec.arch,
    root,
    headers: path.relative(root, hdir),
    image: spec.image ?? image,
    dtbDir: t.dtbDir,
    sdModules: sdModulesIn(root, r),
    compiler: `${compiler.text} (from ${compiler.from})`,
    builder,
    packages: t.packages,
  };
}

/** The headers dir of a release: usr/src/linux-headers-<release>, else the one with a .config. */
function headersDir(root: string, release: string): string {
  const usrSrc = path.join(root, 'usr/src');
  const exact = path.join(usrSrc, `linux-headers-${release}`);
  if (existsSync(exact) || !existsSync(usrSrc)) return exact;
  const withConfig = readdirSync(usrSrc).find((d) => existsSync(path.join(usrSrc, d, '.config')));
  return withConfig ? path.join(usrSrc, withConfig) : exact;
}

/** ELF machine numbers of the Debian arches. */
const ELF_MACHINES: Record<number, Arch> = { 62: 'amd64', 183: 'arm64', 40: 'armhf' };

/** The arch kbuild's host programs were built for (from fixdep's ELF header), if the tree has them. */
export function hostToolsArch(headersDir: string): Arch | undefined {
  const fixdep = path.join(headersDir, 'scripts/basic/fixdep');
  if (!existsSync(fixdep)) return undefined;
  const head = readFileSync(fixdep).subarray(0, 20);
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return ELF_MACHINES[head.readUInt16LE(18)];
}
