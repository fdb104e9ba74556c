// An isolated apt configuration per (mirror, suite, arch), the way chdist and
// mmdebstrap do it: own sources list, lists, status and archive directories
// under the cache, reached through APT_CONFIG. The host's apt sources, pins and
// state are only ever read (to find the mirror), never written. Several
// kmatrix processes may share a dist: every apt run on it (update, queries —
// apt-cache rewrites its pkgcache too —, downloads) holds the dist's lock.
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir, cacheStats, hashOf, logProduced, noteUse, withLock } from './cache/cache.js';
import { UserError, errorLine } from './errors.js';
import { writeFileAtomic } from './atomic.js';
import type { Arch, PackageFile } from './types.js';

export interface SuiteOptions {
  /** Accept a Release file past its Valid-Until date (sid on a lagging mirror). Reported per run. */
  allowExpired?: boolean;
  components?: string[];
}

export interface DistSpec extends SuiteOptions {
  mirror: string;
  suite: string;
  arch: string;
}

export type { PackageFile };

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** How long downloaded package lists are trusted before `apt-get update` runs again. */
export function listsMaxAgeMs(): number {
  const s = Number(process.env.KMATRIX_APT_MAX_AGE ?? 12 * 3600);
  return (Number.isFinite(s) ? s : 12 * 3600) * 1000;
}

/**
 * The Debian mirror: $KMATRIX_MIRROR, else matrix.yaml's `mirror`, else the
 * first Debian archive in the host's apt sources (one-line or deb822 format).
 */
export function debianMirror(fromMatrix?: string): string {
  const env = process.env.KMATRIX_MIRROR;
  if (env) return env.replace(/\/+$/, '');
  if (fromMatrix && fromMatrix !== 'auto') return fromMatrix.replace(/\/+$/, '');
  const found = hostDebianMirror();
  if (!found)
    throw new UserError(
      'No Debian mirror found in the host apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/). ' +
        'Set KMATRIX_MIRROR=<url of a Debian archive> or `mirror:` in matrix.yaml.',
    );
  return found;
}

export function hostDebianMirror(etc = '/etc/apt'): string | undefined {
  const files: string[] = [];
  if (existsSync(path.join(etc, 'sources.list'))) files.push(path.join(etc, 'sources.list'));
  const dir = path.join(etc, 'sources.list.d');
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(path.join(dir, f));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const entries = file.endsWith('.sources') ? parseDeb822Sources(text) : parseOneLineSources(text);
    const hit = entries.find((e) => isDebianArchive(e));
    if (hit) return hit.uri.replace(/\/+$/, '');
  }
  return undefined;
}

interface SourceEntry {
  uri: string;
  suites: string[];
  signedBy?: string;
}

export function parseOneLineSources(text: string): SourceEntry[] {
  const out: SourceEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
    out.push({ uri: m[2]!, suites: [m[3]!], signedBy });
  }
  return out;
}

export function parseDeb822Sources(text: string): SourceEntry[] {
  const out: SourceEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields[m[1]!.toLowerCase()] = m[2]!.trim();
    }
    if (!fields.uris || !(fields.types ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.enabled ?? 'yes') === 'no') continue;
    for (const uri of fields.uris.split(/\s+/))
      out.push({ uri, suites: (fields.suites ?? '').split(/\s+/), signedBy: fields['signed-by'] });
  }
  return out;
}

function isDebianArchive(e: SourceEntry): boolean {
  if (e.suites.some((s) => /security/.test(s))) return false;
  if (/\/debian\/?$/.test(e.uri)) return true;
  return (e.signedBy ?? '').includes('debian-archive-keyring');
}

const updated = new Map<string, Promise<void>>();
const memo = new Map<string, string>();
const queues = new Map<string, Promise<unknown>>();

/** Serialize the apt operations on one dist directory in this process (parallel cells share it). */
function serialized<T>(key: string, job: () => Promise<T>): Promise<T> {
  const prev = queues.get(key) ?? Promise.resolve();
  const next = prev.then(job, job);
  queues.set(key, next.catch(() => undefined));
  return next;
}

/** One isolated apt "distribution" directory: lists and downloaded .debs for one suite and arch. */
export class AptDist {
  readonly dir: string;
  readonly spec: DistSpec;
  private readonly root = cacheDir();

  constructor(spec: DistSpec) {
    this.spec = spec;
    this.dir = path.join(this.root, 'apt', `${spec.suite}-${spec.arch}-${hashOf([spec.mirror, spec.components ?? ['main']])}`);
  }

  /**
   * Run `job` alone on this dist's apt state (lists, pkgcache, status, debs,
   * src): first in this process's queue, then under the dist's lock across
   * processes (apt's own locking is off: Debug::NoLocking). Never nested: the
   * lock is not re-entrant, so jobs call run(), not apt().
   */
  private locked<T>(job: () => Promise<T>): Promise<T> {
    return serialized(this.dir, () => withLock(path.relative(this.root, this.dir), job, this.root));
  }

  private get conf(): string {
    return path.join(this.dir, 'apt.conf');
  }

  private async prepare(): Promise<void> {
    const d = this.dir;
    for (const sub of ['lists/partial', 'archives/partial', 'etc/parts', 'etc/prefs', 'debs', 'src'])
      await mkdir(path.join(d, sub), { recursive: true });
    if (!existsSync(path.join(d, 'status'))) await writeFile(path.join(d, 'status'), '');
    const comps = (this.spec.components ?? ['main']).join(' ');
    const opts = `[signed-by=${KEYRING} arch=${this.spec.arch}]`;
    await writeFile(
      path.join(d, 'sources.list'),
      `deb ${opts} ${this.spec.mirror} ${this.spec.suite} ${comps}\n` +
        `deb-src [signed-by=${KEYRING}] ${this.spec.mirror} ${this.spec.suite} ${comps}\n`,
    );
    const conf = [
      `Dir::State "${d}";`,
      `Dir::State::lists "${d}/lists";`,
      `Dir::State::status "${d}/status";`,
      `Dir::Cache "${d}";`,
      `Dir::Cache::archives "${d}/archives";`,
      `Dir::Etc::SourceList "${d}/sources.list";`,
      `Dir::Etc::SourceParts "${d}/etc/parts";`,
      `Dir::Etc::Parts "${d}/etc/parts";`,
      `Dir::Etc::Preferences "${d}/etc/prefs/none";`,
      `Dir::Etc::PreferencesParts "${d}/etc/prefs";`,
      `APT::Architecture "${this.spec.arch}";`,
      `APT::Architectures { "${this.spec.arch}"; };`,
      `APT::Install-Recommends "false";`,
      `APT::Sandbox::User "root";`,
      `Acquire::Languages "none";`,
      `Acquire::Check-Valid-Until "${this.spec.allowExpired ? 'false' : 'true'}";`,
      `Debug::NoLocking "true";`,
    ];
    await writeFile(this.conf, conf.join('\n') + '\n');
  }

  /**
   * A read-only apt query (show, --print-uris, -s install), answered from
   * <cache>/resolved/ when these same package lists answered it before: a warm
   * cell resolves no package (and takes no lock). Keyed by the lists' update
   * stamp, so refreshed lists mean fresh answers.
   */
  private async query(tool: 'apt-get' | 'apt-cache', args: string[]): Promise<string> {
    const known = this.answer(tool, args);
    if (known.out !== undefined) return known.out;
    return this.locked(async () => {
      const { file, out } = this.answer(tool, args); // the lists (so the key), or the answer, may be new since we waited
      if (out !== undefined) return out;
      const fresh = await this.run(tool, args);
      memo.set(file, fresh);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, JSON.stringify({ tool, args, out: fresh }));
      return fresh;
    });
  }

  private answer(tool: string, args: string[]): { file: string; out?: string } {
    const stamp = path.join(this.dir, 'lists', '.updated');
    const at = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
    const file = path.join(this.root, 'resolved', `${hashOf([this.dir, at, tool, args])}.json`);
    noteUse(file);
    if (memo.has(file)) return { file, out: memo.get(file) };
    try {
      return { file, out: (JSON.parse(readFileSync(file, 'utf8')) as { out: string }).out };
    } catch {
      return { file }; // not answered yet (or pruned meanwhile)
    }
  }

  /** Run apt on this dist, alone (see locked()). */
  apt(tool: 'apt-get' | 'apt-cache', args: string[], cwd?: string): Promise<string> {
    return this.locked(() => this.run(tool, args, cwd));
  }

  /** Run apt; the caller holds the dist's lock. */
  private async run(tool: 'apt-get' | 'apt-cache', args: string[], cwd?: string): Promise<string> {
    cacheStats.aptRuns++;
    const r = await execa(tool, args, {
      env: { APT_CONFIG: this.conf, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      cwd,
      reject: false,
      all: true,
    });
    if (r.exitCode !== 0) {
      const err = (r.all ?? '').split('\n').filter((l) => /^(E|W): /.test(l)).join(' ') || errorLine(r.all ?? r.message);
      throw new Error(`${tool} ${args.join(' ')} (${this.spec.suite}/${this.spec.arch}): ${err}`);
    }
    return r.stdout;
  }

  /**
   * `apt-get update` at most once per run and only when the lists are older
   * than KMATRIX_APT_MAX_AGE — checked under the lock: a process that waited
   * for another's update finds the lists fresh.
   */
  update(): Promise<void> {
    let job = updated.get(this.dir);
    if (!job) {
      job = this.locked(async () => {
        await this.prepare();
        const stamp = path.join(this.dir, 'lists', '.updated');
        const fresh = existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < listsMaxAgeMs();
        if (fresh) return;
        try {
          await this.run('apt-get', ['-q', 'update']);
          await writeFile(stamp, new Date().toISOString());
          await logProduced(`${path.relative(this.root, this.dir)}/lists`);
        } catch (e) {
          if (existsSync(stamp)) return; // stale lists beat no lists; the run still records the resolved versions
          const msg = errorLine(e);
          const hint = /expired/i.test(msg)
            ? ` The suite's Release file is past its Valid-Until date; if that is acceptable set \`allowExpired: true\` for suite ${this.spec.suite} in matrix.yaml (it is then reported in the results).`
            : ` Check the mirror (${this.spec.mirror}; override with KMATRIX_MIRROR) and the network.`;
          throw new UserError(`Could not read the package lists of ${this.spec.suite}/${this.spec.arch}: ${msg}.${hint}`);
        }
      });
      updated.set(this.dir, job);
      job.catch(() => updated.delete(this.dir));
    }
    return job;
  }

  /** The fields of a package's candidate stanza (`apt-cache show`). */
  async show(pkg: string): Promise<Record<string, string>> {
    await this.update();
    let out: string;
    try {
      out = await this.query('apt-cache', ['show', '--no-all-versions', pkg]);
    } catch {
      throw new Error(`package ${pkg} not found in ${this.spec.suite}/${this.spec.arch}`);
    }
    return parseStanza(out);
  }

  /** Package names a package depends on (first alternative of each), without version constraints. */
  async depends(pkg: string): Promise<string[]> {
    return dependencyNames((await this.show(pkg)).depends ?? '');
  }

  /** Download exact packages (no dependencies) into the dist's deb directory; already present files are reused. */
  async download(pkgs: string[]): Promise<PackageFile[]> {
    await this.update();
    const files = parsePrintUris(await this.query('apt-get', ['-q', '--print-uris', 'download', ...pkgs]));
    const debs = path.join(this.dir, 'debs');
    // checked and fetched under the lock: a file another process is downloading is waited for, not fetched twice
    return this.locked(async () => {
      const missing = files.filter((f) => !existsSync(path.join(debs, f.file)));
      cacheStats.downloads += missing.length;
      if (missing.length) await this.run('apt-get', ['-q', 'download', ...missing.map((f) => `${f.name}=${f.version}`)], debs);
      for (const f of missing) await logProduced(path.relative(this.root, path.join(debs, f.file)));
      for (const f of files) noteUse(path.join(debs, f.file));
      return files.map((f) => ({ ...f, file: path.join(debs, f.file) }));
    });
  }

  /** The dependency closure of `pkgs` (as if installed on an empty system, no recommends), downloaded. */
  async closure(pkgs: string[]): Promise<PackageFile[]> {
    await this.update();
    const sim = await this.query('apt-get', ['-s', '-q', 'install', ...pkgs]);
    const names = [...sim.matchAll(/^Inst (\S+) \((\S+)/gm)].map((m) => `${m[1]}=${m[2]}`);
    return this.download(names);
  }

  /** Download a source package (dsc + tarballs) into the dist's src directory; present files are reused. */
  async source(pkg: string): Promise<{ dsc: string; dir: string }> {
    await this.update();
    const dir = path.join(this.dir, 'src');
    // already downloaded (every file the lists name): no apt run at all
    const files = parsePrintUris(await this.query('apt-get', ['-q', '--print-uris', 'source', pkg]));
    const have = files.find((f) => f.file.endsWith('.dsc'));
    if (have && files.every((f) => existsSync(path.join(dir, f.file)))) {
      files.forEach((f) => noteUse(path.join(dir, f.file)));
      return { dsc: path.join(dir, have.file), dir };
    }
    return this.locked(async () => {
      const out = await this.run('apt-get', ['-q', '--download-only', 'source', pkg], dir);
      const dsc = sourceDsc(out);
      if (!/Skipping already downloaded file/.test(out)) {
        cacheStats.downloads++;
        await logProduced(`${path.relative(this.root, dir)}/${pkg}`);
      }
      if (!dsc) throw new Error(`no .dsc for source ${pkg} in ${this.spec.suite}`);
      return { dsc: path.join(dir, dsc), dir };
    });
  }
}

/** The .dsc that `apt-get source --download-only` fetched (`Get:… name version (dsc)`) or found already downloaded. */
export function sourceDsc(out: string): string | undefined {
  const skipped = /Skipping already downloaded file '([^']+\.dsc)'/.exec(out);
  if (skipped) return skipped[1];
  const got = /^Get:\d+ .* (\S+) (\S+) \(dsc\)/m.exec(out);
  return got ? `${got[1]}_${got[2]!.replace(/^\d+:/, '')}.dsc` : undefined;
}

export function parseStanza(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let key = '';
  for (const line of text.split('\n')) {
    if (line === '') {
      if (Object.keys(out).length) break;
      continue;
    }
    if (/^\s/.test(line) && key) out[key] += '\n' + line.trim();
    else {
      const m = /^([^:\s]+):\s?(.*)$/.exec(line);
      if (m) out[(key = m[1]!.toLowerCase())] = m[2]!;
    }
  }
  return out;
}

export function dependencyNames(depends: string): string[] {
  return depends
    .split(',')
    .map((d) => d.split('|')[0]!.trim().split(/[\s(:]/)[0]!)
    .filter(Boolean);
}

/** Lines like `'http://…/pool/…/x_1.0_amd64.deb' x_1.0_amd64.deb 1234 SHA256:abcd`. */
export function parsePrintUris(text: string): PackageFile[] {
  const out: PackageFile[] = [];
  for (const m of text.matchAll(/^'([^']+)' (\S+) \d+ (?:SHA256:)?(\S*)/gm)) {
    const file = m[2]!;
    const base = file.replace(/\.(deb|dsc|tar\.\w+|diff\.gz)$/, '');
    const [name = '', version = ''] = base.split('_');
    out.push({ name, version: decodeURIComponent(version), file, sha256: m[3]! });
  }
  return out;
}

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

