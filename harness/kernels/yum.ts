// Kernels from a yum (rpm-md) repository: Amazon Linux, RHEL and its
// rebuilds, Fedora. repodata/repomd.xml (its detached signature checked when
// the matrix gives a key) pins primary.xml by checksum, primary.xml pins each
// package by sha256; every step is checked before anything is kept. The
// repository's URL is given through an environment variable or a mirror list
// (`$basearch` substituted); an unreachable one makes the cell a skip.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { XMLParser } from 'fast-xml-parser';
import { CellSkip, UserError } from '../errors.js';
import type { Arch } from '../types.js';
import { CHOSEN_BUILDER } from './debs.js';
import { ChecksumMismatch, downloadPinned, getBytes, KernelUnreachable } from './download.js';
import type { KernelKind } from './kind.js';
import { repositoryUrl, verifySignature } from './repository.js';
import { compareEvr, evrString, groupRpmKernels, kernelFromRpms, RPM_ARCHES, rpmFile, rpmKernelRelease, type RpmPackage } from './rpms.js';

export interface YumKernelSource {
  kind: 'yum';
  /** Repository base URL(s) (`${VAR}`s from the environment); packages are pooled (EL8+: kernel-devel is in AppStream, the rest in BaseOS). */
  url?: string | string[];
  /** Mirror list URL(s) instead: one base URL a line, `$basearch` substituted; the first mirror that answers. */
  mirrorlist?: string | string[];
  /** The key repomd.xml.asc must verify with: a keyring file or an armored key (absolute once parsed). */
  key?: string;
  /** Exactly this kernel: `uname -r`, version-release.arch (5.14.0-427.el9.x86_64). */
  release?: string;
  /** Else the newest (rpm version order) of this package, e.g. kernel. */
  newest?: string;
}

/** A package as primary.xml lists it: where it is and its checksum. */
export interface YumPackage extends RpmPackage {
  url: string;
  checksum: { type: string; value: string };
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, parseAttributeValue: false, isArray: (n) => n === 'data' || n === 'package' });

/** repomd.xml's entry of one metadata type (primary): location and checksums. */
export function repomdEntry(text: string, type: string, what: string): { href: string; base?: string; checksum: { type: string; value: string }; openChecksum?: { type: string; value: string } } {
  const doc = xml.parse(text);
  const data = (doc?.repomd?.data ?? []) as any[];
  const d = data.find((x) => x.type === type);
  if (!d?.location?.href || !d.checksum?.['#text']) throw new UserError(`${what} has no ${type} metadata (not a yum repository's repomd.xml?).`);
  const sum = (c: any) => (c?.['#text'] ? { type: String(c.type ?? 'sha256').toLowerCase(), value: String(c['#text']).trim().toLowerCase() } : undefined);
  return { href: d.location.href, ...(d.location['xml:base'] ? { base: d.location['xml:base'] } : {}), checksum: sum(d.checksum)!, ...(d['open-checksum'] ? { openChecksum: sum(d['open-checksum'])! } : {}) };
}

/** A URL relative to a repository's base (which is a directory: `../../blobstore/…` climbs out of it). */
export function repoUrl(base: string, href: string): string {
  return new URL(href, base.endsWith('/') ? base : `${base}/`).href;
}

/**
 * The kernel packages (names starting with `kernel`) of a primary.xml. Only
 * their <package> elements are parsed: a distribution's primary.xml holds
 * tens of thousands of others.
 */
export function primaryKernelPackages(text: string, base: string): YumPackage[] {
  const chunks: string[] = [];
  for (let at = text.indexOf('<package'); at >= 0; at = text.indexOf('<package', at + 1)) {
    if (!/[\s>]/.test(text[at + 8] ?? '')) continue; // <packages>
    const end = text.indexOf('</package>', at);
    if (end < 0) break;
    const name = /<name>\s*([^<]*?)\s*<\/name>/.exec(text.slice(at, Math.min(end, at + 4096)))?.[1];
    if (name?.startsWith('kernel')) chunks.push(text.slice(at, end + 10));
    at = end;
  }
  const doc = xml.parse(`<packages>${chunks.join('\n')}</packages>`);
  return ((doc.packages?.package ?? []) as any[]).map((p) => ({
    name: String(p.name),
    arch: String(p.arch),
    epoch: Number(p.version?.epoch ?? 0),
    ver: String(p.version?.ver),
    rel: String(p.version?.rel),
    url: repoUrl(p.location?.['xml:base'] ?? base, String(p.location?.href)),
    checksum: { type: String(p.checksum?.type ?? 'sha256').toLowerCase(), value: String(p.checksum?.['#text'] ?? '').trim().toLowerCase() },
  }));
}

/** Compressed metadata by its magic: gzip (zlib), xz and zstd (their tools), or plain XML. */
export async function decompress(data: Buffer, what: string): Promise<Buffer> {
  const magic = (bytes: number[]) => bytes.every((b, i) => data[i] === b);
  if (magic([0x1f, 0x8b])) return gunzipSync(data);
  const tool = magic([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) ? 'xz' : magic([0x28, 0xb5, 0x2f, 0xfd]) ? 'zstd' : undefined;
  if (tool) {
    const r = await execa(tool, ['-dc'], { input: data, encoding: 'buffer', stripFinalNewline: false, reject: false, maxBuffer: 2 * 1024 * 1024 * 1024 });
    if (r.exitCode !== 0) throw new UserError(`${what}: ${tool} -dc fails: ${Buffer.from(r.stderr as Uint8Array).toString().trim()}`);
    return Buffer.from(r.stdout as Uint8Array);
  }
  if (data.subarray(0, 64).toString('latin1').trimStart().startsWith('<')) return data;
  throw new UserError(`${what}: not gzip, xz, zstd or plain XML (bzip2 and sqlite metadata are not read; the repository also has primary.xml in one of those?).`);
}

function checkDigest(data: Buffer, sum: { type: string; value: string }, url: string, pinnedBy: string, which = 'checksum'): void {
  const algo = { sha: 'sha1', sha1: 'sha1', sha224: 'sha224', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' }[sum.type];
  if (!algo) throw new UserError(`${pinnedBy} gives ${url} a ${sum.type} ${which}, which kmatrix does not check (sha1, sha224-512 only).`);
  const got = createHash(algo).update(data).digest('hex');
  if (got !== sum.value) throw new ChecksumMismatch(`${sum.type} mismatch for ${url}: ${pinnedBy} says ${which} ${sum.value}, it is ${got} (${data.length} bytes); refused, nothing kept`);
}

/** A repository's base and repomd.xml: the base given, or the first mirror of a mirror list that answers. */
async function openRepository(src: { url?: string; mirrorlist?: string }, arch: Arch): Promise<{ base: string; repomd: Buffer }> {
  const basearch = (s: string) => s.replace(/\$basearch\b|\$\{basearch\}/g, RPM_ARCHES[arch]);
  if (src.url) {
    const base = basearch(repositoryUrl(src.url, 'the yum repository'));
    return { base, repomd: await getBytes(`${base}/repodata/repomd.xml`) };
  }
  const list = basearch(repositoryUrl(src.mirrorlist!, "the yum repository's mirror list"));
  const text = (await getBytes(list)).toString('utf8');
  if (text.trimStart().startsWith('<')) throw new UserError(`${list} is a metalink, not a mirror list: give the repository's url instead.`);
  const mirrors = text.split('\n').map((l) => basearch(l.trim()).replace(/\/+$/, '')).filter((l) => /^https?:\/\//.test(l));
  if (!mirrors.length) throw new CellSkip(`kernel source unavailable: the mirror list ${list} names no mirror`);
  const failed: string[] = [];
  for (const base of mirrors) {
    try {
      return { base, repomd: await getBytes(`${base}/repodata/repomd.xml`) };
    } catch (e) {
      if (!(e instanceof KernelUnreachable)) throw e;
      failed.push(e.message.replace(/^kernel source unreachable: /, ''));
    }
  }
  throw new KernelUnreachable(list, `no mirror of it answers (${failed.join('; ')})`);
}

/**
 * A repository's kernel packages: repomd.xml (signature checked against
 * `key` if given), then primary.xml checked against repomd.xml's checksum
 * (of the file) and open-checksum (of its XML).
 */
export async function yumKernelPackages(src: { url?: string; mirrorlist?: string; key?: string }, arch: Arch): Promise<{ base: string; packages: YumPackage[] }> {
  const { base, repomd } = await openRepository(src, arch);
  const repomdUrl = `${base}/repodata/repomd.xml`;
  if (src.key) {
    const asc = await getBytes(`${repomdUrl}.asc`).catch((e) => {
      if (e instanceof KernelUnreachable && /HTTP 404/.test(e.message))
        throw new UserError(`${repomdUrl}.asc does not exist: the repository is not signed, yet the matrix gives it a key (remove the key only if the repository is trusted otherwise).`);
      throw e;
    });
    await verifySignature({ key: src.key, data: repomd, signature: asc, what: repomdUrl });
  }
  const entry = repomdEntry(repomd.toString('utf8'), 'primary', repomdUrl);
  const primaryUrl = repoUrl(entry.base ?? base, entry.href);
  const packed = await getBytes(primaryUrl, 5 * 60_000);
  checkDigest(packed, entry.checksum, primaryUrl, repomdUrl);
  const text = await decompress(packed, primaryUrl);
  if (entry.openChecksum) checkDigest(text, entry.openChecksum, primaryUrl, repomdUrl, 'open-checksum');
  return { base, packages: primaryKernelPackages(text.toString('utf8'), base) };
}

/**
 * The kernel a yum source names among its repositories' packages: the exact
 * release, or the newest of a package by rpm's order; with its siblings
 * (kernel-core, kernel-modules(-core)) and its kernel-devel.
 */
export function chooseYumKernel(packages: YumPackage[], src: Pick<YumKernelSource, 'release' | 'newest'>, arch: Arch, where: string): YumPackage[] {
  const rpmArch = RPM_ARCHES[arch];
  const mine = packages.filter((p) => p.arch === rpmArch);
  const { kernels } = groupRpmKernels(mine);
  const newestFirst = kernels.sort((a, b) => compareEvr(b.packages[0]!, a.packages[0]!));
  const there = () => (newestFirst.length ? `; it has ${newestFirst.slice(0, 5).map((k) => k.release).join(', ')}${newestFirst.length > 5 ? ', …' : ''}` : `; it has no ${rpmArch} kernel at all`);
  let release = src.release;
  if (!release) {
    const named = mine.filter((p) => p.name === src.newest).sort((a, b) => compareEvr(b, a));
    if (!named.length) throw new CellSkip(`kernel source unavailable: ${where} has no ${src.newest} package for ${rpmArch}${there()}`);
    release = rpmKernelRelease(named[0]!);
  }
  const k = kernels.find((x) => x.release === release);
  if (!k) throw new CellSkip(`kernel source unavailable: ${where} has no kernel ${release} (kernel or kernel-core, ${rpmArch})${there()}`);
  if (!k.devel) throw new UserError(`${where} has no kernel-devel ${release}: drivers are built against it. Where it is in another repository (EL8+: AppStream), list both under url.`);
  return [...k.packages, k.devel];
}

/** The matrix's (or a check's) URLs of a source, as written. */
function written(src: YumKernelSource): string[] {
  return [src.url ?? src.mirrorlist ?? []].flat();
}

export const yumKernels: KernelKind<YumKernelSource> = {
  kind: 'yum',
  schema: {
    type: 'object',
    additionalProperties: false,
    allOf: [{ oneOf: [{ required: ['url'] }, { required: ['mirrorlist'] }] }, { oneOf: [{ required: ['release'] }, { required: ['newest'] }] }],
    properties: {
      url: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
      mirrorlist: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
      key: { type: 'string', minLength: 1 },
      release: { type: 'string', minLength: 1 },
      newest: { type: 'string', pattern: '^kernel' },
    },
  },
  parse: (f, dir) => ({
    kind: 'yum',
    ...(f.url ? { url: f.url } : { mirrorlist: f.mirrorlist }),
    // a key file relative to the matrix file; an armored key as it is
    ...(f.key ? { key: String(f.key).includes('-----BEGIN PGP') ? f.key : path.resolve(dir, f.key) } : {}),
    ...(f.release ? { release: String(f.release) } : { newest: String(f.newest) }),
  }),
  fetch: async (src, spec, ctx) => {
    const repos = src.url ? [src.url].flat().map((url) => ({ url })) : [src.mirrorlist!].flat().map((mirrorlist) => ({ mirrorlist }));
    const found = [];
    for (const r of repos) found.push(await yumKernelPackages({ ...r, ...(src.key ? { key: src.key } : {}) }, spec.arch));
    const where = found.map((f) => f.base).join(' + ');
    const chosen = chooseYumKernel(found.flatMap((f) => f.packages), src, spec.arch, where);
    const files = [];
    for (const p of chosen) {
      if (p.checksum.type !== 'sha256') throw new UserError(`${where}: primary.xml gives ${p.url} a ${p.checksum.type} checksum; kmatrix pins packages by sha256 only.`);
      files.push(rpmFile(p, await downloadPinned(p.url, p.checksum.value, `${where} primary.xml`), p.checksum.value));
    }
    return kernelFromRpms(files, spec, ctx, (k) => `yum:${k.release} (${chosen.map((p) => `${p.name}-${evrString(p)}.${p.arch}`).join(', ')}) from ${where}`);
  },
  describe: (src, spec) => ({
    release: src.release ?? `<the newest ${src.newest} of ${RPM_ARCHES[spec.arch]}>`,
    source: [
      `yum repository ${written(src).join(' + ')}${src.mirrorlist ? ' (mirror list; the first mirror that answers)' : ''}: the ${RPM_ARCHES[spec.arch]} kernel/kernel-core, kernel-modules(-core) and kernel-devel packages of ` +
        `${src.release ?? `the newest ${src.newest}`}; repomd.xml ${src.key ? `signature checked with ${src.key.includes('-----BEGIN') ? 'the given key' : src.key}` : 'NOT signature-checked (no key)'}, primary.xml and packages by checksum`,
    ],
    builder: CHOSEN_BUILDER,
    dtbDir: '<boot/dtb-<release> of the packages>',
  }),
};
