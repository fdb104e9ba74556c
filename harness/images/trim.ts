// The smallest guest that still runs its programs: keep every executable and
// the shared libraries they load (DT_NEEDED, followed through the libraries),
// plus what libraries open by name at run time (libscap's engines, NSS);
// drop the rest (gconv modules, unused libraries, data). Under TCG every
// megabyte of initramfs costs boot time.
import { execa } from 'execa';
import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';

const BIN_DIRS = ['usr/bin', 'usr/sbin', 'bin', 'sbin'];
/** Opened by name (dlopen), never in DT_NEEDED. */
const DLOPENED = /^(libscap_engine_|libnss_|libpman|libbpf|ld-linux|ld64)/;
/** Directories of the guest that hold no program and are not needed at run time. */
const DATA = ['usr/share', 'usr/include', 'usr/lib/gcc', 'usr/libexec/gcc'];

function walk(root: string, rel: string): string[] {
  let names: string[];
  try {
    names = readdirSync(path.join(root, rel));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const r = path.join(rel, n);
    const st = lstatSync(path.join(root, r));
    return st.isDirectory() ? walk(root, r) : [r];
  });
}

/** DT_NEEDED names of ELF files (readelf reads any architecture). */
async function needed(files: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < files.length; i += 200) {
    const batch = files.slice(i, i + 200);
    const r = await execa('readelf', ['-d', '-W', ...batch], { reject: false });
    // readelf complains about non-ELF files (scripts) but must have run: without it every library would look unused
    if (r.exitCode === undefined) throw new Error(`readelf (binutils) failed: ${r.shortMessage}`);
    let current = '';
    for (const line of r.stdout.split('\n')) {
      const f = /^File: (.*)$/.exec(line);
      if (f) current = f[1]!;
      const n = /\(NEEDED\)\s+Shared library: \[(.+)\]/.exec(line);
      if (n) out.set(current || batch[0]!, [...(out.get(current || batch[0]!) ?? []), n[1]!]);
    }
    if (batch.length === 1 && !out.has(batch[0]!)) out.set(batch[0]!, []);
  }
  return out;
}

/**
 * Trim an extracted guest root (merged /usr) in place; `keep` are extra paths
 * to keep whole; `programs` are host files added to the guest later (e.g. a
 * built scap-open) whose libraries must stay.
 */
export async function trimGuest(root: string, keep: string[] = [], programs: string[] = []): Promise<{ before: number; after: number }> {
  const all = walk(root, 'usr').concat(walk(root, 'etc'));
  const size = (files: string[]) => files.reduce((a, f) => a + (lstatSync(path.join(root, f)).isFile() ? statSync(path.join(root, f)).size : 0), 0);
  const before = size(all);
  const libs = all.filter((f) => /\.so(\.|$)/.test(path.basename(f)) || /^ld-linux/.test(path.basename(f)));
  const byName = new Map<string, string[]>();
  for (const l of libs) byName.set(path.basename(l), [...(byName.get(path.basename(l)) ?? []), l]);
  const bins = all.filter((f) => BIN_DIRS.some((d) => f.startsWith(d + '/')));
  const kept = new Set<string>([...bins, ...libs.filter((l) => DLOPENED.test(path.basename(l))), ...all.filter((f) => keep.some((k) => f.startsWith(k)))]);
  for (const names of (await needed(programs)).values())
    for (const n of names) for (const l of byName.get(n) ?? []) kept.add(l);
  // follow symlinks and NEEDED until nothing new
  let frontier = [...kept];
  while (frontier.length) {
    const real = frontier.filter((f) => lstatSync(path.join(root, f)).isFile());
    const next: string[] = [];
    for (const f of frontier) {
      if (lstatSync(path.join(root, f)).isSymbolicLink()) {
        const target = path.normalize(path.join(path.dirname(f), readlinkSync(path.join(root, f)))).replace(/^\/+/, '');
        const t = target.startsWith('usr/') || target.startsWith('etc/') ? target : path.join('usr', target.replace(/^(lib|bin|sbin|lib64)\//, '$1/'));
        for (const c of [target, t]) if (all.includes(c) && !kept.has(c)) (kept.add(c), next.push(c));
      }
    }
    const deps = await needed(real.map((f) => path.join(root, f)));
    for (const names of deps.values())
      for (const n of names)
        for (const l of byName.get(n) ?? []) if (!kept.has(l)) (kept.add(l), next.push(l));
    frontier = next;
  }
  for (const f of all) {
    const isLib = libs.includes(f) || f.includes('/gconv/');
    const isData = DATA.some((d) => f.startsWith(d + '/')) && !keep.some((k) => f.startsWith(k));
    if ((isLib || isData) && !kept.has(f)) await rm(path.join(root, f), { force: true });
  }
  return { before, after: size(walk(root, 'usr').concat(walk(root, 'etc'))) };
}
