// The kernel store: kernels given as packages (a developer's `make
// bindeb-pkg` output, a vendor's .debs or .rpms), imported once into the cache with
// `kmatrix kernel import` and named in matrix.yaml by release and arch.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir } from '../cache/cache.js';
import { CellSkip, UserError } from '../errors.js';
import type { Arch } from '../types.js';
import { CHOSEN_BUILDER, debFiles, groupKernels, kernelFromDebs, readDebs, type KernelDeb } from './debs.js';
import type { KernelKind } from './kind.js';
import { groupRpmKernels, kernelFromRpms, readRpms } from './rpms.js';

export interface StoreKernelSource {
  kind: 'store';
  release: string;
  arch?: Arch;
}

export interface StoreEntry {
  release: string;
  arch: Arch;
  importedAt: string;
  /** Where the packages were imported from. */
  from: string[];
  packages: { name: string; version: string; arch: string; file: string; sha256: string }[];
}

export function storeDir(): string {
  return path.join(cacheDir(), 'store');
}

/** A kernel's place in the store: <release>_<arch>, with anything unsafe in a file name replaced. */
export function storeKey(release: string, arch: string): string {
  return `${release}_${arch}`.replace(/[^A-Za-z0-9.+~_-]/g, '_');
}

/** The command that puts a kernel into the store, for skip reasons. */
export const IMPORT_HINT = '`kmatrix kernel import <its linux-image and linux-headers .deb files (or kernel[-core], kernel-modules and kernel-devel .rpm files), or their directory>`';

export function readStoreEntry(release: string, arch: string): StoreEntry | undefined {
  const file = path.join(storeDir(), storeKey(release, arch), 'kernel.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StoreEntry) : undefined;
}

export function listStore(): StoreEntry[] {
  const dir = storeDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => existsSync(path.join(dir, d, 'kernel.json')))
    .map((d) => JSON.parse(readFileSync(path.join(dir, d, 'kernel.json'), 'utf8')) as StoreEntry)
    .sort((a, b) => a.release.localeCompare(b.release, undefined, { numeric: true }) || a.arch.localeCompare(b.arch));
}

/**
 * Import the kernels among the given .deb and .rpm files and directories:
 * each linux-image package with its headers (and modules), or each rpm kernel
 * (kernel or kernel-core, kernel-modules(-core)) with its kernel-devel,
 * becomes one store entry, replacing an entry of the same release and arch.
 * Returns what was imported.
 */
export async function importKernels(paths: string[]): Promise<{ imported: StoreEntry[]; ignored: string[] }> {
  const files: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new UserError(`kmatrix kernel import: ${p} does not exist.`);
    files.push(...debFiles(path.resolve(p), ['.deb', '.rpm']));
  }
  if (!files.length) throw new UserError(`kmatrix kernel import: no .deb or .rpm files in ${paths.join(', ')}.`);
  const debs = groupKernels(await readDebs(files.filter((f) => !f.endsWith('.rpm'))));
  const rpms = groupRpmKernels(await readRpms(files.filter((f) => f.endsWith('.rpm'))));
  const kernels = [
    ...debs.kernels.map((k) => ({ release: k.release, arch: k.arch, packages: [k.image, ...k.modules, ...k.headers], headless: !k.headers.length, build: 'linux-headers' })),
    ...rpms.kernels.map((k) => ({ release: k.release, arch: k.arch, packages: [...k.packages, ...(k.devel ? [k.devel] : [])], headless: !k.devel, build: 'kernel-devel' })),
  ];
  if (!kernels.length) throw new UserError(`kmatrix kernel import: no linux-image (or kernel, kernel-core) package among ${files.map((f) => path.basename(f)).join(', ')}.`);
  const headless = kernels.filter((k) => k.headless);
  if (headless.length)
    throw new UserError(
      `kmatrix kernel import: no ${headless.map((k) => `${k.build} package for ${k.release} (${k.arch})`).join(', ')}: the drivers are built against the kernel's headers; import them together.`,
    );
  const imported: StoreEntry[] = [];
  for (const k of kernels) {
    const pkgs = k.packages;
    // the same packages again (`kmatrix check` on them): kept as they are, not pulled from under a run reading them
    const had = readStoreEntry(k.release, k.arch);
    if (had && had.packages.length === pkgs.length && pkgs.every((p) => had.packages.some((h) => h.sha256 === p.sha256 && h.file === path.basename(p.file)))) {
      imported.push(had);
      continue;
    }
    const dir = path.join(storeDir(), storeKey(k.release, k.arch));
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    for (const p of pkgs) await copyFile(p.file, path.join(tmp, path.basename(p.file)));
    const entry: StoreEntry = {
      release: k.release,
      arch: k.arch,
      importedAt: new Date().toISOString(),
      from: [...new Set(pkgs.map((p) => path.dirname(p.file)))],
      packages: pkgs.map((p) => ({ name: p.name, version: p.version, arch: p.arch, file: path.basename(p.file), sha256: p.sha256 })),
    };
    await writeFile(path.join(tmp, 'kernel.json'), JSON.stringify(entry, null, 2));
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    imported.push(entry);
  }
  return { imported, ignored: [...debs.unused, ...rpms.unused].map((d) => path.basename(d.file)) };
}

/** Remove a release (of one arch, or of every arch) from the store; returns the keys removed. */
export async function removeFromStore(release: string, arch?: string): Promise<string[]> {
  const gone = listStore().filter((e) => e.release === release && (!arch || e.arch === arch));
  for (const e of gone) await rm(path.join(storeDir(), storeKey(e.release, e.arch)), { recursive: true, force: true });
  return gone.map((e) => storeKey(e.release, e.arch));
}

export const storeKernels: KernelKind<StoreKernelSource> = {
  kind: 'store',
  schema: {
    type: 'object',
    required: ['release'],
    additionalProperties: false,
    properties: { release: { type: 'string', minLength: 1 }, arch: { enum: ['amd64', 'arm64', 'armhf'] } },
  },
  parse: (f) => ({ kind: 'store', release: String(f.release), ...(f.arch ? { arch: f.arch } : {}) }),
  arch: (s) => s.arch,
  fetch: async (src, spec, ctx) => {
    const entry = readStoreEntry(src.release, spec.arch);
    if (!entry) throw new CellSkip(`kernel ${src.release} (${spec.arch}) is not in the kernel store (${storeDir()}): import it with ${IMPORT_HINT}`);
    const dir = path.join(storeDir(), storeKey(entry.release, entry.arch));
    const origin = (k: { release: string; packageVersion: string }) => `store:${k.release}/${spec.arch} (${k.packageVersion})`;
    // rpm kernels: their headers read again (the entry keeps no epoch, version and release apart)
    if (entry.packages.every((p) => p.file.endsWith('.rpm'))) return kernelFromRpms(await readRpms(entry.packages.map((p) => path.join(dir, p.file))), spec, ctx, origin);
    const debs: KernelDeb[] = entry.packages.map((p) => ({ ...p, file: path.join(dir, p.file) }));
    return kernelFromDebs(debs, spec, ctx, (k) => `store:${k.release}/${spec.arch} (linux-image-${k.release}=${k.packageVersion})`);
  },
  describe: (src, spec) => {
    const entry = readStoreEntry(src.release, spec.arch);
    return {
      release: src.release,
      source: [
        entry
          ? `kernel store ${storeKey(entry.release, entry.arch)} (${storeDir()}): ${entry.packages.map((p) => `${p.name}=${p.version}`).join(', ')}, imported ${entry.importedAt}`
          : `kernel store: ${src.release} (${spec.arch}) is NOT imported here, so the cell would be a skip; import it with ${IMPORT_HINT}`,
      ],
      builder: CHOSEN_BUILDER,
      dtbDir: '<device-tree dir of the packages>',
    };
  },
};
