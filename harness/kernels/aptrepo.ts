// A vendor's apt repository (Debian/Ubuntu layout: dists/<suite>/InRelease,
// <component>/binary-<arch>/Packages, pool/…): the newest kernel of a flavour
// or an exact release, with its modules and headers. The Release is checked
// with gpgv against the matrix's key, the Packages index and every .deb
// against the sha256 the verified Release (then the index) gives; nothing
// unverified is kept. The packages become a KernelTree as the store's do.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { dependencyNames, listsMaxAgeMs, parseStanza } from '../apt.js';
import { writeFileAtomic } from '../atomic.js';
import { cacheDir, hashOf, noteUse } from '../cache/cache.js';
import { CellSkip, UserError } from '../errors.js';
import type { Arch } from '../types.js';
import { CHOSEN_BUILDER, kernelFromDebs, readDebs, type KernelSet } from './debs.js';
import { ChecksumMismatch, downloadPinned, getBytes, KernelUnreachable, sha256Of } from './download.js';
import type { KernelKind } from './kind.js';
import { repositoryUrl, SignatureInvalid, verifySignature } from './repository.js';

export interface AptKernelSource {
  kind: 'apt';
  /** The repository's root (may name `${VAR}`s of the environment). */
  url: string;
  suite: string;
  component: string;
  /** A keyring file (absolute, or relative to the matrix file) or an armored key; optional only with `insecure`. */
  key?: string;
  /** The newest kernel of a flavour (`generic`, `azure`, Debian's `cloud-amd64`), resolved at run time … */
  flavour?: string;
  /** … or an exact release (`uname -r`). */
  release?: string;
  /** Accept a repository without a signature (recorded with the kernel). */
  insecure?: boolean;
}

/** What a cell's kernel records when the repository was not signed. */
export const UNSIGNED_NOTE = 'unsigned repository accepted (insecure: true)';

export const aptKernels: KernelKind<AptKernelSource> = {
  kind: 'apt',
  schema: {
    type: 'object',
    required: ['url', 'suite', 'component'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', pattern: '^(https?://|\\$\\{)' },
      suite: { type: 'string', minLength: 1 },
      component: { type: 'string', minLength: 1 },
      key: { type: 'string', minLength: 1 },
      flavour: { type: 'string', minLength: 1 },
      release: { type: 'string', pattern: '^\\d+\\.\\d+' },
      insecure: { type: 'boolean' },
    },
    oneOf: [{ required: ['flavour'] }, { required: ['release'] }],
  },
  parse: (f, dir) => {
    if (f.key === undefined && f.insecure !== true)
      throw new UserError(`the apt kernel source ${f.url} ${f.suite} has no "key": give the repository's signing key (a keyring file or the armored key), or \`insecure: true\` to accept it unsigned.`);
    const inline = typeof f.key === 'string' && f.key.includes('-----BEGIN PGP');
    return {
      kind: 'apt',
      url: f.url,
      suite: f.suite,
      component: f.component,
      ...(f.key !== undefined ? { key: inline ? f.key : path.resolve(dir, f.key) } : {}),
      ...(f.flavour !== undefined ? { flavour: f.flavour } : { release: f.release }),
      ...(f.insecure !== undefined ? { insecure: f.insecure } : {}),
    };
  },
  fetch: async (src, spec, ctx) => {
    const got = await resolveAptKernel(src, spec.arch);
    const files = [];
    for (const p of got.packages) files.push(await downloadPinned(p.url, p.sha256, got.index));
    const debs = await readDebs(files);
    const byName = (n: string) => debs.find((d) => d.name === n)!;
    const set: KernelSet = {
      release: got.release,
      arch: spec.arch,
      image: byName(got.packages.find((p) => p.role === 'image')!.name),
      modules: got.packages.filter((p) => p.role === 'modules').map((p) => byName(p.name)),
      headers: got.packages.filter((p) => p.role === 'headers').map((p) => byName(p.name)),
    };
    const notes = [...(got.skipped ? [`${got.skipped} not taken: not needed to boot`] : []), ...(got.unsigned ? [UNSIGNED_NOTE] : [])];
    const tree = await kernelFromDebs(set, spec, ctx, (k) => `apt:${got.where} linux-image-${k.release}=${k.packageVersion}${notes.length ? ` (${notes.join('; ')})` : ''}`);
    await remember(got);
    return tree;
  },
  describe: (src, spec) => {
    const r = src.release ?? '<release>';
    return {
      release: r,
      source: [
        `apt repository ${src.url} ${src.suite}/${src.component} (${spec.arch}): ` +
          (src.key ? `Release verified with the key ${src.key.includes('-----BEGIN PGP') ? '(armored, inline)' : src.key}${src.insecure ? ', an unsigned one accepted (insecure: true)' : ''}` : `${UNSIGNED_NOTE}: its Release is not verified`) +
          '; the Packages index and each .deb checked against the sha256 it lists',
        ...(src.flavour ? [`<release>: the newest linux-image(-unsigned)-<abi>-${src.flavour} (Debian version order), resolved at run time`] : []),
        `linux-image(-unsigned)-${r}, linux-modules-${r}, linux-headers-${r} and the headers (linux-*headers-*, linux-kbuild-*) it depends on; linux-modules-extra-${r} not taken (not needed to boot)`,
      ],
      builder: CHOSEN_BUILDER,
      dtbDir: '<device-tree dir of the packages>',
    };
  },
};

/** One package of a resolved kernel: where it is, pinned by the index's sha256. */
interface PinnedPackage {
  name: string;
  version: string;
  role: 'image' | 'modules' | 'headers';
  url: string;
  sha256: string;
}

/** A kernel resolved in a repository (kept in <cache>/resolved/ once its packages are had). */
interface Resolved {
  key: string;
  at: number;
  release: string;
  /** The repository, suite and component as the results name them (no credentials). */
  where: string;
  /** The index the sha256s come from. */
  index: string;
  unsigned: boolean;
  /** A package there is but the kernel does not need (linux-modules-extra-*). */
  skipped?: string;
  packages: PinnedPackage[];
}

function resolvedFile(key: string): string {
  return path.join(cacheDir(), 'resolved', `apt-${key}.json`);
}

/** A resolution younger than KMATRIX_APT_MAX_AGE whose packages are all downloaded answers without the network. */
function recalled(key: string): Resolved | undefined {
  const file = resolvedFile(key);
  if (!existsSync(file)) return undefined;
  noteUse(file);
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Resolved;
    const had = r.packages.every((p) => existsSync(path.join(cacheDir(), 'downloads', p.sha256, decodeURIComponent(path.basename(new URL(p.url).pathname)))));
    return Date.now() - r.at < listsMaxAgeMs() && had ? r : undefined;
  } catch {
    return undefined;
  }
}

async function remember(r: Resolved): Promise<void> {
  const file = resolvedFile(r.key);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(r, null, 2));
}

/** The kernel's packages in the repository: Release verified, index checked, image chosen and paired. */
export async function resolveAptKernel(src: AptKernelSource, arch: Arch): Promise<Resolved> {
  const base = repositoryUrl(src.url, `the apt repository of ${src.url}`);
  const key = hashOf(['apt-v1', base, src.suite, src.component, arch, src.flavour ?? null, src.release ?? null, src.key ?? null, !!src.insecure]);
  const known = recalled(key);
  if (known) return known;
  const where = `${withoutCredentials(base)} ${src.suite}/${src.component}`;
  const { text, unsigned } = await readRelease(base, src);
  const { stanzas, index } = await readPackages(base, src, arch, text);
  const ofArch = stanzas.filter((s) => s.architecture === arch || s.architecture === 'all');
  const byName = new Map<string, Record<string, string>[]>();
  for (const s of ofArch) byName.set(s.package!, [...(byName.get(s.package!) ?? []), s]);
  const pkg = async (name: string) => (byName.has(name) ? newest(byName.get(name)!) : undefined);
  const image = await chooseImage(ofArch.filter((s) => s.architecture === arch), src, where, arch);
  const r = image.release;
  const chosen: [Record<string, string>, PinnedPackage['role']][] = [[image.stanza, 'image']];
  // the image's parts: Ubuntu's linux-modules-<r>, Debian 7.x's linux-binary-/linux-modules-<r> (named in its Depends)
  const parts = new Set([`linux-modules-${r}`, ...dependencyNames(image.stanza.depends ?? '').filter((d) => d === `linux-binary-${r}` || d === `linux-modules-${r}`)]);
  for (const n of parts) {
    const p = await pkg(n);
    if (p) chosen.push([p, 'modules']);
  }
  const headers = await pkg(`linux-headers-${r}`);
  if (!headers) throw new UserError(`kernel ${r} in ${where}: the repository has no linux-headers-${r} (${arch}): drivers are built against the kernel's headers.`);
  // the common part of the headers, found by following Depends: Ubuntu's linux-headers-<abi> or
  // linux-<flavour>-headers-<abi>, Debian's linux-headers-<abi>-common and linux-kbuild-<version>
  const wanted = [headers];
  for (let i = 0; i < wanted.length; i++)
    for (const d of dependencyNames(wanted[i]!.depends ?? '')) {
      const p = /^linux-(?:[\w.+-]+-)?headers-|^linux-kbuild-/.test(d) ? await pkg(d) : undefined;
      if (p && !wanted.some((w) => w.package === p.package)) wanted.push(p);
    }
  for (const h of wanted) chosen.push([h, 'headers']);
  const extra = byName.has(`linux-modules-extra-${r}`) ? `linux-modules-extra-${r}` : undefined;
  return {
    key,
    at: Date.now(),
    release: r,
    where,
    index,
    unsigned,
    ...(extra ? { skipped: extra } : {}),
    packages: chosen.map(([s, role]) => {
      if (!s.filename || !/^[0-9a-f]{64}$/i.test(s.sha256 ?? '')) throw new Error(`${index}: ${s.package} has no Filename or no SHA256: the package cannot be verified; refused`);
      return { name: s.package!, version: s.version!, role, url: `${base}/${s.filename}`, sha256: s.sha256!.toLowerCase() };
    }),
  };
}

/** dists/<suite>/InRelease, else Release + Release.gpg: verified with the key, or unsigned when `insecure` allows it. */
async function readRelease(base: string, src: AptKernelSource): Promise<{ text: string; unsigned: boolean }> {
  const dists = `${base}/dists/${src.suite}`;
  const inRelease = await getIfThere(`${dists}/InRelease`);
  let data: Buffer, signature: Buffer | undefined, signed: string;
  if (inRelease) [data, signature, signed] = [inRelease, undefined, `${dists}/InRelease`];
  else {
    data = await getBytes(`${dists}/Release`);
    signature = await getIfThere(`${dists}/Release.gpg`);
    signed = signature ? `${dists}/Release.gpg` : '';
  }
  const isSigned = signature !== undefined || data.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP SIGNED MESSAGE-----');
  if (isSigned && src.key) return { text: (await verifySignature({ key: src.key, data, ...(signature ? { signature } : {}), what: signed })).toString('utf8'), unsigned: false };
  if (!src.insecure)
    throw new SignatureInvalid(`${dists}: the repository is not signed (no InRelease, no Release.gpg); refused, nothing kept (\`insecure: true\` on the kernel's apt source accepts an unsigned repository)`);
  return { text: signature ? data.toString('utf8') : clearsignedText(data.toString('utf8')), unsigned: true };
}

/** A URL's bytes, or undefined when the server says 404 (anything else unreachable stays a skip). */
async function getIfThere(url: string): Promise<Buffer | undefined> {
  try {
    return await getBytes(url);
  } catch (e) {
    if (e instanceof KernelUnreachable && /: HTTP 404\b/.test(e.message)) return undefined;
    throw e;
  }
}

/** The text of a clearsigned message, unverified (only for an accepted unsigned repository). */
export function clearsignedText(text: string): string {
  const m = /-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:[^\n]+\n)*?\r?\n([\s\S]*?)\r?\n-----BEGIN PGP SIGNATURE-----/.exec(text);
  return m ? m[1]!.replace(/^- /gm, '') : text;
}

/** The SHA256 section of a Release: path → sha256. */
export function releaseSha256(release: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (parseStanza(release).sha256 ?? '').split('\n')) {
    const m = /^([0-9a-fA-F]{64})\s+\d+\s+(\S+)$/.exec(line.trim());
    if (m) out.set(m[2]!, m[1]!.toLowerCase());
  }
  return out;
}

/** The component's Packages index of the arch (xz, gz or plain, as the Release lists and the server has it), checked. */
async function readPackages(base: string, src: AptKernelSource, arch: Arch, release: string): Promise<{ stanzas: Record<string, string>[]; index: string }> {
  const sums = releaseSha256(release);
  const dists = `${base}/dists/${src.suite}`;
  for (const ext of ['.xz', '.gz', '']) {
    const rel = `${src.component}/binary-${arch}/Packages${ext}`;
    const sha256 = sums.get(rel);
    if (!sha256) continue;
    const data = await getIfThere(`${dists}/${rel}`);
    if (!data) continue;
    const got = sha256Of(data);
    if (got !== sha256) throw new ChecksumMismatch(`sha256 mismatch for ${dists}/${rel}: the verified Release says ${sha256}, the download is ${got} (${data.length} bytes); refused, nothing kept`);
    const text = ext === '.xz' ? Buffer.from((await execa('xz', ['-dc'], { input: data, encoding: 'buffer', stripFinalNewline: false })).stdout).toString('utf8') : ext === '.gz' ? gunzipSync(data).toString('utf8') : data.toString('utf8');
    return { stanzas: text.split(/\n\s*\n/).map(parseStanza).filter((s) => s.package), index: `${dists}/${rel}` };
  }
  throw new CellSkip(`kernel source unavailable: ${dists}: its Release lists no ${src.component}/binary-${arch}/Packages index that the repository has (no ${arch} packages in ${src.component}?)`);
}

/** `a` is a newer Debian version than `b` (dpkg's own order). */
async function newer(a: string, b: string): Promise<boolean> {
  return (await execa('dpkg', ['--compare-versions', a, 'gt', b], { reject: false })).exitCode === 0;
}

async function newest(vs: Record<string, string>[]): Promise<Record<string, string>> {
  let best = vs[0]!;
  for (const s of vs.slice(1)) if (await newer(s.version!, best.version!)) best = s;
  return best;
}

/** A kernel image package's release: linux-image-<r>, linux-image-unsigned-<r> (Ubuntu), linux-image-<r>-unsigned (Debian). */
export function aptImageRelease(name: string): { release: string; unsigned: boolean } | undefined {
  const m = /^linux-image-(unsigned-)?(\d+\.\d+\S*?)(-unsigned)?$/.exec(name);
  if (!m || /-(dbg|dbgsym)$/.test(m[2]!)) return undefined;
  return { release: m[2]!, unsigned: !!(m[1] || m[3]) };
}

/** The image: the exact release, or the newest of the flavour by Debian version order (a signed one before an unsigned one). */
async function chooseImage(stanzas: Record<string, string>[], src: AptKernelSource, where: string, arch: Arch): Promise<{ release: string; stanza: Record<string, string> }> {
  const images = stanzas.flatMap((s) => {
    const r = aptImageRelease(s.package!);
    return r ? [{ ...r, stanza: s }] : [];
  });
  const fits = images.filter((i) => (src.release ? i.release === src.release : i.release.endsWith(`-${src.flavour}`)));
  if (!fits.length) {
    const there = [...new Set(images.map((i) => i.release))].slice(0, 12).join(', ') || 'none';
    if (src.release) throw new CellSkip(`kernel source unavailable: ${where} (${arch}) has no linux-image of ${src.release} (it has: ${there})`);
    throw new UserError(`${where} (${arch}) has no kernel of flavour ${src.flavour} (linux-image-<abi>-${src.flavour}); its kernels: ${there}.`);
  }
  let best = fits[0]!;
  for (const f of fits.slice(1)) {
    const [a, b] = [f.stanza.version!, best.stanza.version!];
    if ((await newer(a, b)) || (a === b && best.unsigned && !f.unsigned)) best = f;
  }
  return best;
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return url;
  }
}
