// Content-keyed cache under $XDG_CACHE_HOME/kmatrix: every download, extracted
// tree and build lives in <cache>/<kind>/<hash of its inputs>/, written to a
// temporary sibling first and renamed into place, so a half-built entry is
// never mistaken for a finished one and a rerun reuses everything.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

let root: string | undefined;

export function setCacheDir(dir: string | undefined): void {
  root = dir ? path.resolve(dir) : undefined;
}

export function cacheDir(): string {
  if (root) return root;
  if (process.env.KMATRIX_CACHE_DIR) return path.resolve(process.env.KMATRIX_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(xdg, 'kmatrix');
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** What this process fetched and produced (the bench counts a warm run's downloads and builds). */
export const cacheStats = { downloads: 0, produced: {} as Record<string, number>, aptRuns: 0 };

/** Cache paths (relative to the cache root) this process used: recorded per run for `kmatrix cache prune`. */
export const usedPaths = new Set<string>();

export function noteUse(file: string): void {
  usedPaths.add(path.relative(cacheDir(), file));
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Return the directory of the cache entry `kind/hash(inputs)`, producing it
 * with `produce(tmpDir)` when absent. Concurrent callers of one key share one
 * production. A failed production leaves nothing behind.
 */
export function cached(kind: string, inputs: unknown, produce: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(cacheDir(), kind, hashOf(inputs));
  noteUse(dir);
  const pending = inFlight.get(dir);
  if (pending) return pending;
  const job = (async () => {
    if (existsSync(path.join(dir, '.done'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      cacheStats.produced[kind] = (cacheStats.produced[kind] ?? 0) + 1;
      await produce(tmp);
      await writeFile(path.join(tmp, '.inputs.json'), JSON.stringify(inputs, null, 2));
      await writeFile(path.join(tmp, '.done'), new Date().toISOString());
      // another process (a parallel run) may have finished the same entry meanwhile: keep theirs, it may be in use
      if (existsSync(path.join(dir, '.done'))) {
        await rm(tmp, { recursive: true, force: true });
        return dir;
      }
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    return dir;
  })();
  inFlight.set(dir, job);
  job.catch(() => inFlight.delete(dir));
  return job;
}

/** A small JSON value cached by key (e.g. the acceleration probe's answer). */
export async function readCachedJson<T>(name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path.join(cacheDir(), name), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function writeCachedJson(name: string, value: unknown): Promise<void> {
  const file = path.join(cacheDir(), name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(value, null, 2));
}
