// Debian kernels: a suite's current kernel of a flavour (resolved at run time)
// or an exact ABI, with its headers, from the isolated apt of that suite. The
// drivers are built in a root of the same suite with the kernel's own gcc.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AptDist } from '../apt.js';
import { cached } from '../cache/cache.js';
import { extractDebs } from '../builder.js';
import { hostDebianArch } from '../machines.js';
import type { KernelSpec, KernelTree, PackageFile } from '../types.js';
import { compilerPackage } from './compiler.js';
import type { KernelContext, KernelKind } from './kind.js';

export interface DebianKernelSource {
  kind: 'debian';
  suite: string;
  /** Flavour of the suite's current kernel (`linux-image-<flavour>` metapackage), resolved at run time. */
  flavour: string;
  /** An exact ABI name (e.g. `6.1.0-50-amd64`) instead of the suite's current one. */
  abi?: string;
}

export const debianKernels: KernelKind<DebianKernelSource> = {
  kind: 'debian',
  schema: {
    type: 'object',
    required: ['suite', 'flavour'],
    additionalProperties: false,
    properties: { suite: { type: 'string' }, flavour: { type: 'string' }, abi: { type: 'string' } },
  },
  parse: (f) => ({ kind: 'debian', suite: f.suite, flavour: f.flavour, ...(f.abi ? { abi: f.abi } : {}) }),
  suites: (s) => [s.suite],
  fetch: fetchDebianKernel,
  describe: (s, spec) => {
    const abi = s.abi ?? '<abi>';
    return {
      release: abi,
      source: [
        `linux-image-${abi} and linux-headers-${abi} (+ their linux-headers-*-common, linux-kbuild-*) from ${s.suite}/${spec.arch}`,
        ...(s.abi ? [] : [`<abi>: the suite's current kernel of flavour ${s.flavour} (linux-image-${s.flavour} → linux-image-<abi>), resolved at run time`]),
      ],
      builder: { suite: s.suite, compiler: "<gcc-N of the kernel's CONFIG_CC_VERSION_TEXT>" },
      dtbDir: `usr/lib/linux-image-${abi}`,
    };
  },
};

/** The ABI of the suite's current kernel of a flavour: linux-image-<flavour> → linux-image-<abi>. */
async function resolveAbi(dist: AptDist, flavour: string): Promise<string> {
  const deps = await dist.depends(`linux-image-${flavour}`);
  const image = deps.find((d) => d.startsWith('linux-image-') && d !== `linux-image-${flavour}`);
  if (!image) throw new Error(`linux-image-${flavour} in ${dist.spec.suite}/${dist.spec.arch} names no kernel image`);
  return image.replace(/^linux-image-/, '').replace(/-unsigned$/, '');
}

async function fetchDebianKernel(src: DebianKernelSource, spec: KernelSpec, ctx: KernelContext): Promise<KernelTree> {
  const { debian } = ctx;
  const dist = debian.dist(src.suite, spec.arch);
  const abi = src.abi ?? (await resolveAbi(dist, src.flavour));
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
    ...(spec.arch === host || !kbuild.length ? [] : await debian.dist(src.suite, host).download(kbuild)),
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
  const cc = /^CONFIG_CC_VERSION_TEXT="([^"]*)"/m.exec(cfg)?.[1] ?? 'gcc';
  const image = [`boot/vmlinuz-${abi}`, `boot/vmlinux-${abi}`, `usr/lib/modules/${abi}/vmlinuz`].map((f) => path.join(root, f)).find((f) => existsSync(f));
  if (!image) throw new Error(`no kernel image in ${imagePkgs.join(', ')}`);
  const dtbDir = path.join(root, 'usr/lib', `linux-image-${abi}`);
  return {
    release: abi,
    version: imageFields.version!.replace(/-[^-]*$/, '').replace(/~.*$/, ''),
    origin: `linux-image-${abi}=${imageFields.version!}`,
    arch: spec.arch,
    root,
    headers: `usr/src/${headers}`,
    image: spec.image ?? image,
    dtbDir: existsSync(dtbDir) ? dtbDir : undefined,
    sdModules: sdModulesIn(root, abi),
    compiler: cc,
    // the kernel's own suite has the gcc that built it
    builder: { suite: src.suite, compiler: compilerPackage(cc) },
    packages: pkgs,
  };
}

/** What a Pi's SD card needs where a kernel has it as modules: ext4's dependencies, ext4, the sdhost controller. In load order. */
export const SD_MODULES = ['crc16', 'mbcache', 'jbd2', 'crc32c_generic', 'ext4', 'bcm2835'];

/** The SD card's modules of an extracted kernel (lib/modules/<release> or usr/lib/modules/<release>), in load order. */
export function sdModulesIn(root: string, release: string): string[] {
  const dir = ['lib/modules', 'usr/lib/modules'].map((d) => path.join(root, d, release)).find((d) => existsSync(d));
  if (!dir) return [];
  const all = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.ko(\.\w+)?$/.test(f));
  return SD_MODULES.flatMap((n) => all.filter((f) => path.basename(f).replace(/\.ko(\.\w+)?$/, '') === n).map((f) => path.join(dir, f)));
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
