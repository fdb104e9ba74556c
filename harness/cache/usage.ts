// The cache's size and its pruning. Every run records the cache entries (and
// downloaded packages) it used in <cache>/usage/<run-id>.json; an entry is
// current when one of the last N recorded runs used it, or a live kmatrix
// process uses it now (its live list). `kmatrix cache prune` removes the rest,
// and half-made entries of processes that are gone, each under the entry's
// lock: what another process holds (producing it, or checking it out) is skipped.
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic.js';
import { cacheDir, isLocked, liveUses, tryLock, usedPaths } from './cache.js';
import { processStart } from '../leftovers.js';
import { UserError } from '../errors.js';

/** Record what this process used, under the run's id. */
export async function recordUsage(runId: string): Promise<void> {
  const dir = path.join(cacheDir(), 'usage');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${runId}.json`);
  // a resumed run adds to what it used before
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as string[]) : [];
  await writeFileAtomic(file, JSON.stringify([...new Set([...before, ...usedPaths])].sort(), null, 1) + '\n');
}

/** The cache's entries: <kind>/<entry> directories, and downloaded packages apt/<dist>/debs/<file>. */
function entries(root: string): string[] {
  const out: string[] = [];
  for (const kind of readdirSync(root)) {
    const dir = path.join(root, kind);
    if (kind === 'usage' || kind === 'locks' || !statSync(dir).isDirectory()) continue;
    if (kind === 'apt') {
      for (const dist of readdirSync(dir)) {
        const debs = path.join(dir, dist, 'debs');
        if (existsSync(debs)) out.push(...readdirSync(debs).map((f) => path.join('apt', dist, 'debs', f)));
      }
      continue;
    }
    out.push(...readdirSync(dir).map((e) => path.join(kind, e)));
  }
  return out;
}

export interface KindSize {
  kind: string;
  bytes: number;
  entries: number;
}

/** Size of the cache by kind (kernels, builds, guests, builders, apt…). */
export async function cacheSizes(root = cacheDir()): Promise<KindSize[]> {
  if (!existsSync(root)) return [];
  const kinds = readdirSync(root).filter((k) => k !== 'locks' && statSync(path.join(root, k)).isDirectory());
  const out: KindSize[] = [];
  for (const kind of kinds) {
    const r = await execa('du', ['-sb', path.join(root, kind)], { reject: false });
    out.push({ kind, bytes: Number(r.stdout.split('\t')[0] ?? 0), entries: readdirSync(path.join(root, kind)).length });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

export interface PrunePlan {
  keepRuns: string[];
  remove: string[];
  keep: number;
}

/** What prune would remove: entries no recent run (nor a live process) used, and leftovers of dead producers (`.tmp-<pid>`). */
export function prunePlan(keepRuns: number, root = cacheDir()): PrunePlan {
  const usageDir = path.join(root, 'usage');
  const runs = existsSync(usageDir)
    ? readdirSync(usageDir).filter((f) => f.endsWith('.json')).sort((a, b) => statSync(path.join(usageDir, b)).mtimeMs - statSync(path.join(usageDir, a)).mtimeMs)
    : [];
  if (!runs.length)
    throw new UserError(`No run has recorded what it uses in ${usageDir} yet, so nothing can be told unused. Run the matrix (\`kmatrix run\`) first, then prune.`);
  const recent = runs.slice(0, keepRuns);
  const used = new Set(recent.flatMap((f) => JSON.parse(readFileSync(path.join(usageDir, f), 'utf8')) as string[]));
  liveUses(root).used.forEach((e) => used.add(e));
  const remove: string[] = [];
  let keep = 0;
  for (const e of entries(root)) {
    const tmp = /\.tmp-(\d+)$/.exec(e);
    if (tmp) {
      // its maker is gone, and no one holds the entry's lock (a producer's lock outlives it by STALE at most)
      if (!processStart(Number(tmp[1])) && !isLocked(lockName(e), root)) remove.push(e);
      continue;
    }
    const entry = e.replace(/\.failed\.log$/, '');
    if (used.has(entry)) keep++;
    else remove.push(e);
  }
  return { keepRuns: recent.map((f) => f.replace(/\.json$/, '')), remove, keep };
}

/** The lock guarding a cache path: its entry's, or for a downloaded package its apt dist's. */
function lockName(e: string): string {
  const deb = /^(apt\/[^/]+)\/debs\//.exec(e);
  return deb ? deb[1]! : e.replace(/\.tmp-\d+$|\.failed\.log$/, '');
}

/**
 * Remove what the plan lists, each under its lock, taken without waiting:
 * an entry another process holds, or started using since the plan, is left.
 * Returns what was left so.
 */
export async function pruneCache(plan: PrunePlan, root = cacheDir()): Promise<string[]> {
  const left: string[] = [];
  for (const e of plan.remove) {
    const release = await tryLock(lockName(e), root);
    if (!release) {
      left.push(e);
      continue;
    }
    try {
      if (liveUses(root).used.has(e.replace(/\.failed\.log$/, ''))) left.push(e);
      else await rm(path.join(root, e), { recursive: true, force: true });
    } finally {
      await release();
    }
  }
  // the live lists of processes that ended without removing theirs (SIGKILL)
  for (const f of liveUses(root).dead) await rm(path.join(root, f), { force: true });
  return left;
}
