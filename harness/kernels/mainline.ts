// Ubuntu's mainline kernel builds: a version directory of the archive holds
// a CHECKSUMS file and the kernel's packages, at the top (older builds) or in
// one folder per arch (newer). Every file is verified against CHECKSUMS'
// sha256 before it is kept; an unreachable archive makes the cell a skip.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir, hashOf } from '../cache/cache.js';
import { CellSkip } from '../errors.js';
import { MACHINES } from '../machines.js';
import type { Arch } from '../types.js';
import { CHOSEN_BUILDER, kernelFromDebs, readDebs } from './debs.js';
import { downloadPinned, getBytes, KernelUnreachable } from './download.js';
import type { KernelKind } from './kind.js';

/** The public archive; a matrix can point elsewhere (`mainline: { base: … }`, at the top or on a kernel). */
export const DEFAULT_MAINLINE_BASE = 'https://kernel.ubuntu.com/mainline';

export interface MainlineKernelSource {
  kind: 'mainline';
  /** v4.9.337, 4.9.337, 4.14.0 (= v4.14), or an exact directory name (v4.4-wily). */
  version: string;
  arch?: Arch;
  base?: string;
  flavour: string;
}

/** The archive's directory of a version: a leading v, and no `.0` patch level (4.14.0 is v4.14). */
export function mainlineDir(version: string): string {
  const v = version.startsWith('v') ? version.slice(1) : version;
  const m = /^(\d+)\.(\d+)\.0$/.exec(v);
  return `v${m ? `${m[1]}.${m[2]}` : v}`;
}

/**
 * sha256 entries of a CHECKSUMS file: `<hex>  <file>` lines, from its
 * `# Checksums-Sha256:` section when it has sections (Sha1 ones come first),
 * else every line whose hash is 64 hex digits.
 */
export function parseChecksums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const head = /^#\s*Checksums-(\w+):?/i.exec(line);
    if (head) {
      section = head[1]!.toLowerCase();
      continue;
    }
    const m = /^([0-9a-fA-F]+)\s+\*?(\S+)$/.exec(line);
    if (!m || (section && section !== 'sha256') || m[1]!.length !== 64) continue;
    out.set(m[2]!.replace(/^\.\//, ''), m[1]!.toLowerCase());
  }
  return out;
}

/**
 * The packages of one arch and flavour in a version directory's listing
 * (paths relative to it): common headers (_all), the flavour's headers, image
 * (linux-image-unsigned-… or, older, linux-image-…) and modules. Files in the
 * arch's folder (newer layout) are preferred to files at the top (older).
 */
export function mainlinePackages(files: string[], arch: Arch, flavour = 'generic'): string[] {
  const wanted = (name: string) =>
    new RegExp(`^linux-headers-[^_]+_[^_]+_all\\.deb$`).test(name) ||
    new RegExp(`^linux-(headers|image|image-unsigned|modules)-[^_]+-${flavour}_[^_]+_${arch}\\.deb$`).test(name);
  const inFolder = files.filter((f) => f.startsWith(`${arch}/`) && wanted(f.slice(arch.length + 1)));
  const atTop = files.filter((f) => !f.includes('/') && wanted(f));
  const chosen = inFolder.some((f) => /\/linux-image-/.test(f)) ? inFolder : atTop;
  return chosen.some((f) => /(^|\/)linux-image-/.test(f)) ? chosen.sort() : [];
}

/** Where a base's CHECKSUMS files are kept (the archive's versions do not change once published). */
export function mainlineCacheDir(base: string): string {
  return path.join(cacheDir(), 'mainline', hashOf(base));
}

/** The CHECKSUMS at `rel` of a version directory (cached once read); undefined when the archive says 404. */
async function checksums(base: string, rel: string): Promise<Map<string, string> | undefined> {
  const kept = path.join(mainlineCacheDir(base), rel);
  if (existsSync(kept)) return parseChecksums(readFileSync(kept, 'utf8'));
  let text: string;
  try {
    text = (await getBytes(`${base}/${rel}`)).toString('utf8');
  } catch (e) {
    if (e instanceof KernelUnreachable && /HTTP 404/.test(e.message)) return undefined;
    throw e;
  }
  await mkdir(path.dirname(kept), { recursive: true });
  await writeFile(kept, text);
  return parseChecksums(text);
}

/** The archive a kernel comes from: its own base, the matrix's `mainline: { base }`, or Ubuntu's. */
function mainlineBase(src: MainlineKernelSource, settings: Record<string, unknown>): string {
  return (src.base ?? (settings.mainline as { base?: string } | undefined)?.base ?? DEFAULT_MAINLINE_BASE).replace(/\/+$/, '');
}

export const mainlineKernels: KernelKind<MainlineKernelSource> = {
  kind: 'mainline',
  schema: {
    type: 'object',
    required: ['version'],
    additionalProperties: false,
    properties: {
      version: { type: 'string', pattern: '^v?\\d+\\.\\d+' },
      arch: { enum: ['amd64', 'arm64', 'armhf'] },
      base: { type: 'string', pattern: '^https?://' },
      flavour: { type: 'string' },
    },
  },
  settings: { type: 'object', additionalProperties: false, properties: { base: { type: 'string', pattern: '^https?://' } } },
  parse: (f) => ({ kind: 'mainline', version: String(f.version), flavour: f.flavour ?? 'generic', ...(f.arch ? { arch: f.arch } : {}), ...(f.base ? { base: f.base } : {}) }),
  arch: (s) => s.arch,
  fetch: async (src, spec, ctx) => {
    const base = mainlineBase(src, ctx.settings);
    const dir = mainlineDir(src.version);
    // older layout: one CHECKSUMS at the top; newer: one per arch folder (a top one may list them too)
    const top = await checksums(base, `${dir}/CHECKSUMS`);
    let sums = new Map(top ?? []);
    let files = mainlinePackages([...sums.keys()], spec.arch, src.flavour);
    if (!files.length) {
      const inArch = await checksums(base, `${dir}/${spec.arch}/CHECKSUMS`);
      if (!top && !inArch) throw new CellSkip(`kernel source unavailable: ${base}/${dir}/ has no CHECKSUMS (no such mainline version?)`);
      sums = new Map([...sums, ...[...(inArch ?? [])].map(([f, h]): [string, string] => [`${spec.arch}/${f}`, h])]);
      files = mainlinePackages([...sums.keys()], spec.arch, src.flavour);
    }
    if (!files.length) throw new CellSkip(`kernel source unavailable: mainline ${dir} has no ${src.flavour} ${spec.arch} kernel in its CHECKSUMS`);
    // linux-modules-* (large) holds what only Pi boards need: the SD card's modules and (Ubuntu) the device trees
    const needed = files.filter((f) => spec.sdcard || MACHINES[spec.machine]?.dtb || !/(^|\/)linux-modules-/.test(f));
    const local = [];
    for (const f of needed) local.push(await downloadPinned(`${base}/${dir}/${f}`, sums.get(f)!, `${base}/${dir}/CHECKSUMS`));
    return kernelFromDebs(await readDebs(local), spec, ctx, (k) => `mainline:${dir}/${spec.arch} linux-image-${k.release}=${k.packageVersion} (${base})`);
  },
  describe: (src, spec, settings) => {
    const base = mainlineBase(src, settings);
    const modules = spec.sdcard || MACHINES[spec.machine]?.dtb;
    return {
      release: '<release of the linux-image package>',
      source: [`Ubuntu mainline ${mainlineDir(src.version)}: the ${src.flavour} ${spec.arch} linux-image, linux-headers${modules ? ', linux-modules' : ''} packages from ${base}/${mainlineDir(src.version)}/ (sha256 from its CHECKSUMS)`],
      builder: CHOSEN_BUILDER,
      dtbDir: '<device-tree dir of the packages>',
    };
  },
};
