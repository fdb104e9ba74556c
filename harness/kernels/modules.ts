// The kernel's own modules the guest needs. Vendor kernels (RHEL, Amazon
// Linux, Ubuntu's cloud flavours) build as modules what Debian builds in: what
// the guest needs is taken from the kernel's modules.builtin (built in: nothing
// to load) and its modules (with their dependency closure), decompressed on
// the host, and init.sh inserts them in dependency order before anything else.
// The kernel's packages are read lazily: only the index and the modules a
// guest needs are extracted (the image package holds thousands).
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cached } from '../cache/cache.js';
import type { KernelTree } from '../types.js';

/**
 * What the guest needs that a kernel may build as a module, by the machine's
 * console. Only the serial console driver: init.sh reports on it. The rest of
 * what init.sh uses cannot be a module (proc, sysfs, devtmpfs, tmpfs, debugfs,
 * tracefs, bpf(), AF_INET for the battery are bool options), or is not used
 * (configfs, overlayfs: no mounts of theirs; ipv6, unix: the battery's
 * sockets are AF_INET), or would not help as a module (rtc_cmos sets the
 * clock only when built in: boards without a working RTC get kmatrix.time=).
 * A serial driver loaded as a module is no kernel console (SERIAL_8250_CONSOLE
 * needs SERIAL_8250=y): init.sh then writes to its tty itself.
 */
export const CONSOLE_NEEDS: Record<string, string[]> = { ttyS: ['8250'], ttyAMA: ['amba_pl011'] };

/** The modules the guest needs on a machine with this console (ttyS0 → 8250). */
export function consoleNeeds(console: string): string[] {
  return CONSOLE_NEEDS[console.replace(/\d+$/, '')] ?? [];
}

/** More modules of the kernel to load in the guest, as a user asks (KMATRIX_GUEST_MODULES=vxlan,dummy). */
export function requestedModules(env: string | undefined = process.env.KMATRIX_GUEST_MODULES): string[] {
  return (env ?? '').split(/[\s,]+/).filter(Boolean).map(moduleNameOf);
}

/** A module's name from its file or name: kernel/net/ipv6/ip6_udp_tunnel.ko.xz → ip6_udp_tunnel (dashes as underscores, as the kernel names it). */
export function moduleNameOf(file: string): string {
  return path.basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** The kernel's modules.builtin: the names of the modules built in. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim()).filter((l) => /\.ko$/.test(l)).map(moduleNameOf));
}

/** modules.dep (`kernel/a.ko.xz: kernel/b.ko.xz …`, paths relative to the modules dir or absolute): each module's dependencies. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const rel = (p: string) => p.replace(/^.*?\/lib\/modules\/[^/]+\//, '');
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const at = line.indexOf(':');
    if (at <= 0) continue;
    deps.set(rel(line.slice(0, at).trim()), line.slice(at + 1).trim().split(/\s+/).filter(Boolean).map(rel));
  }
  return deps;
}

/** The `depends=` of a (decompressed) module's .modinfo: the modules it needs, as modpost wrote them. */
export function modinfoDepends(ko: Buffer): string[] | undefined {
  for (let at = ko.indexOf('depends='); at >= 0; at = ko.indexOf('depends=', at + 1)) {
    if (at > 0 && ko[at - 1] !== 0) continue;
    const end = ko.indexOf(0, at);
    return ko.subarray(at + 'depends='.length, end < 0 ? undefined : end).toString('latin1').split(',').filter(Boolean).map(moduleNameOf);
  }
  return undefined;
}

/** What a kernel has of its modules: the files by name (relative to its modules dir), the built-in names, modules.dep where shipped. */
export interface ModulesIndex {
  files: Record<string, string>;
  /** Undefined: the kernel ships no modules.builtin (nothing can be said built in). */
  builtin?: string[];
  dep?: Record<string, string[]>;
  /** Each module file → the package holding it (only that one is read to extract it). */
  owners: Record<string, string>;
}

/** Which of `wanted` need loading, in dependency order (dependencies first, each once), which are built in, which the kernel lacks. */
export interface ModulesClosure {
  load: string[];
  builtin: string[];
  missing: string[];
}

/**
 * The closure of the wanted modules over a dependency function (modules.dep's
 * or .modinfo's), dependencies first. `depsOf` returns undefined for a module
 * whose dependencies are not known yet (the caller extracts it and asks again).
 */
export function moduleClosure(wanted: string[], index: Pick<ModulesIndex, 'files' | 'builtin'>, depsOf: (file: string) => string[] | undefined): ModulesClosure & { unknown: string[] } {
  const builtin = new Set(index.builtin ?? []);
  const out: ModulesClosure & { unknown: string[] } = { load: [], builtin: [], missing: [], unknown: [] };
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const deps = depsOf(file);
    if (!deps) return void out.unknown.push(file);
    for (const d of deps) {
      // modules.dep names files, depends= names modules; one built in needs nothing, one nowhere is the kernel's missing piece
      const f = d.includes('/') ? d : index.files[moduleNameOf(d)];
      if (f) visit(f);
      else if (!builtin.has(moduleNameOf(d))) out.missing.push(moduleNameOf(d));
    }
    out.load.push(file);
  };
  for (const w of wanted.map(moduleNameOf)) {
    if (builtin.has(w)) out.builtin.push(w);
    else if (index.files[w]) visit(index.files[w]!);
    else out.missing.push(w);
  }
  return out;
}

/** Decompression of a module on the host: busybox's insmod reads only what its build enables (xz, gzip: maybe; zstd: never). */
const UNPACK: Record<string, string[]> = { '.xz': ['xz', '-dc'], '.zst': ['zstd', '-dcq'], '.gz': ['gzip', '-dc'] };

/** A module as insmod can read it: decompressed (.ko.xz, .ko.zst, .ko.gz) or copied. */
export async function decompressModule(from: string, to: string): Promise<void> {
  const tool = UNPACK[path.extname(from)];
  if (!tool) return copyFile(from, to);
  const r = await execa(tool[0]!, [...tool.slice(1), from], { encoding: 'buffer', stripFinalNewline: false, reject: false, maxBuffer: 256 * 1024 * 1024 });
  if (r.exitCode !== 0) throw new Error(`${tool[0]} could not decompress ${path.basename(from)}: ${Buffer.from(r.stderr as Uint8Array).toString().trim()}`);
  await writeFile(to, Buffer.from(r.stdout as Uint8Array));
}

/** Modules as insmod reads them, into `dir`: each decompressed (or copied) to <name>.ko, in the same order. */
export async function unpackedModules(files: string[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const out: string[] = [];
  for (const f of files) {
    const to = path.join(dir, path.basename(f).replace(/\.ko(\.(xz|zst|gz))?$/, '.ko'));
    await decompressModule(f, to);
    out.push(to);
  }
  return out;
}

/** Where a kernel's modules are: its extracted root (a store or rpm tree holding them all), else its .deb packages, read member by member. */
interface ModuleSource {
  /** Every file under the modules dir (relative path) → the package holding it (its sha256; '' for a tree). */
  list(): Promise<Record<string, string>>;
  /** Copy these (relative to the modules dir) into `dir`, same relative paths; only the packages `owners` names are read. */
  extract(files: string[], dir: string, owners: Record<string, string>): Promise<void>;
  key: unknown;
}

const MODULES_DIRS = (r: string) => [`lib/modules/${r}`, `usr/lib/modules/${r}`];

function moduleSource(k: Pick<KernelTree, 'root' | 'release' | 'packages'>): ModuleSource | undefined {
  // the image and its siblings: Ubuntu's linux-modules(-extra)-*, sid 7.x's linux-binary-* and linux-base-* (modules.builtin is there)
  const debs = k.packages.filter((p) => p.file.endsWith('.deb') && /^linux-(image|modules|binary|base)-/.test(p.name));
  if (debs.length) {
    const prefixes = MODULES_DIRS(k.release).map((d) => `./${d}/`);
    return {
      key: ['debs', debs.map((p) => p.sha256).sort(), k.release],
      list: async () => {
        const names: Record<string, string> = {};
        for (const d of debs) {
          const r = await execa('bash', ['-c', 'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -t', 'bash', d.file], { maxBuffer: 256 * 1024 * 1024 });
          for (const n of r.stdout.split('\n')) {
            const p = prefixes.find((x) => n.startsWith(x));
            if (p && !n.endsWith('/')) names[n.slice(p.length)] ??= d.sha256;
          }
        }
        return names;
      },
      extract: async (files, dir, owners) => {
        const tmp = `${dir}.x`;
        await mkdir(tmp, { recursive: true });
        // each package read once, and only those holding a wanted file (sid's modules package alone is ~100 MB of xz)
        for (const d of debs.filter((x) => files.some((f) => owners[f] === x.sha256)))
          await execa('bash', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "${@:3}" 2>/dev/null; true', 'bash', d.file, tmp, ...files.flatMap((f) => prefixes.map((p) => p + f))]);
        for (const f of files) {
          const from = MODULES_DIRS(k.release).map((m) => path.join(tmp, m, f)).find((x) => existsSync(x));
          if (!from) continue;
          await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
          await copyFile(from, path.join(dir, f));
        }
        await execa('rm', ['-rf', tmp]);
      },
    };
  }
  const dir = MODULES_DIRS(k.release).map((d) => path.join(k.root, d)).find((d) => existsSync(path.join(d, 'modules.builtin')) || existsSync(path.join(d, 'modules.dep')));
  if (!dir) return undefined;
  return {
    key: ['dir', dir],
    list: async () =>
      Object.fromEntries(
        (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
          .filter((e) => e.isFile())
          .map((e) => [path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)), '']),
      ),
    extract: async (files, to) => {
      for (const f of files.filter((x) => existsSync(path.join(dir, x)))) {
        await mkdir(path.dirname(path.join(to, f)), { recursive: true });
        await copyFile(path.join(dir, f), path.join(to, f));
      }
    },
  };
}

/** Part of the caches' keys: change how modules are chosen or unpacked, bump it. */
const GUEST_MODULES = 'guest-modules-v2';

/** A kernel's modules index (cached per package set). */
async function modulesIndex(src: ModuleSource): Promise<ModulesIndex> {
  const dir = await cached('kernel-modules', [src.key, GUEST_MODULES], async (out) => {
    const owners = await src.list();
    const files: Record<string, string> = {};
    const kos = Object.keys(owners).filter((x) => /\.ko(\.(xz|zst|gz))?$/.test(x)).sort();
    for (const n of kos) files[moduleNameOf(n)] ??= n;
    const meta = ['modules.builtin', 'modules.dep'].filter((m) => m in owners);
    await src.extract(meta, out, owners);
    const read = async (m: string) => (meta.includes(m) ? readFile(path.join(out, m), 'utf8') : undefined);
    const builtin = await read('modules.builtin');
    const dep = await read('modules.dep');
    const index: ModulesIndex = {
      files,
      ...(builtin !== undefined ? { builtin: [...parseModulesBuiltin(builtin)].sort() } : {}),
      ...(dep !== undefined ? { dep: Object.fromEntries(parseModulesDep(dep)) } : {}),
      owners: Object.fromEntries(kos.map((k) => [k, owners[k]!])),
    };
    await writeFile(path.join(out, 'index.json'), JSON.stringify(index));
  });
  return JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as ModulesIndex;
}

/** The modules a guest loads, decompressed, in load order; the names built in; the names the kernel does not have. */
export interface GuestModules {
  load: { name: string; file: string }[];
  builtin: string[];
  missing: string[];
  /** The kernel ships modules.builtin: a name in neither list is really not in it. */
  builtinKnown: boolean;
}

/**
 * The kernel's modules for `wanted` and their dependencies: from modules.dep
 * where the packages ship it, else from each module's own `depends=` (Debian
 * and Ubuntu generate modules.dep at install), extracted and decompressed
 * into a cache entry. Undefined where the kernel's modules cannot be read
 * (a box, a tree without its modules).
 */
export async function guestModules(k: Pick<KernelTree, 'root' | 'release' | 'packages'>, wanted: string[]): Promise<GuestModules | undefined> {
  if (!wanted.length) return { load: [], builtin: [], missing: [], builtinKnown: true };
  const src = moduleSource(k);
  if (!src) return undefined;
  const index = await modulesIndex(src);
  const names = [...new Set(wanted.map(moduleNameOf))].sort();
  const dir = await cached('guest-modules', [src.key, names, GUEST_MODULES], async (out) => {
    const raw = path.join(out, 'raw');
    const deps = new Map<string, string[]>(Object.entries(index.dep ?? {}));
    let closure = moduleClosure(names, index, (f) => deps.get(f) ?? (index.dep ? [] : undefined));
    // without modules.dep: extract what the closure reached, read its depends=, until nothing is unknown
    while (closure.unknown.length) {
      await src.extract(closure.unknown, raw, index.owners);
      for (const f of closure.unknown) {
        const ko = path.join(out, 'unpacked', f.replace(/\.ko(\.\w+)?$/, '.ko'));
        await mkdir(path.dirname(ko), { recursive: true });
        if (!existsSync(path.join(raw, f))) throw new Error(`${f} is listed in the kernel's packages but did not extract`);
        await decompressModule(path.join(raw, f), ko);
        deps.set(f, modinfoDepends(await readFile(ko)) ?? []);
      }
      closure = moduleClosure(names, index, (f) => deps.get(f));
    }
    const load: GuestModules['load'] = [];
    const toExtract = closure.load.filter((f) => !existsSync(path.join(raw, f)));
    if (toExtract.length) await src.extract(toExtract, raw, index.owners);
    for (const [i, f] of closure.load.entries()) {
      const name = moduleNameOf(f);
      // numbered: init.sh inserts them in this order (dependencies first)
      const file = `${String(i).padStart(2, '0')}-${name}.ko`;
      if (!existsSync(path.join(raw, f))) throw new Error(`${f} is listed in the kernel's packages but did not extract`);
      await decompressModule(path.join(raw, f), path.join(out, file));
      load.push({ name, file });
    }
    await execa('rm', ['-rf', raw, path.join(out, 'unpacked')]);
    await writeFile(path.join(out, 'closure.json'), JSON.stringify({ load, builtin: closure.builtin, missing: [...new Set(closure.missing)], builtinKnown: index.builtin !== undefined }));
  });
  const c = JSON.parse(await readFile(path.join(dir, 'closure.json'), 'utf8')) as GuestModules;
  return { ...c, load: c.load.map((m) => ({ name: m.name, file: path.join(dir, m.file) })) };
}

/** Where init.sh finds them: kmatrix/modules/NN-<name>.ko, inserted in name order. */
export function guestModuleFiles(m: GuestModules): Record<string, string> {
  return Object.fromEntries(m.load.map((x) => [`kmatrix/modules/${path.basename(x.file)}`, x.file]));
}
