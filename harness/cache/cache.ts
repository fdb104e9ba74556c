// Content-keyed cache under $XDG_CACHE_HOME/kmatrix: every download, extracted
// tree and build lives in <cache>/<kind>/<hash of its inputs>/, written to a
// temporary sibling first and renamed into place, so a half-built entry is
// never mistaken for a finished one and a rerun reuses everything.
// Several kmatrix processes may share one cache (two terminals, a test suite
// and its CLI runs, CI jobs): each entry is produced under a lock
// (<cache>/locks/<kind>/<hash>.lock, proper-lockfile) by one of them while the
// others wait, and what a live process uses is listed for `cache prune`.
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, mkdir, rename, rm, writeFile, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { writeFileAtomic } from '../atomic.js';

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

/**
 * Note that this process uses a cache path. It is also appended at once to
 * this process's live list (<cache>/usage/live/<pid>-<random>.txt, under a
 * lock held while the process runs), so a concurrent `cache prune` keeps it.
 */
export function noteUse(file: string): void {
  usedPaths.add(path.relative(cacheDir(), file));
  if (published.has(file)) return;
  published.add(file);
  appendFileSync(liveFile(), path.relative(cacheDir(), file) + '\n');
}

const published = new Set<string>();
const liveFiles = new Map<string, string>();

function liveFile(root = cacheDir()): string {
  let file = liveFiles.get(root);
  if (!file) {
    file = path.join(root, 'usage', 'live', `${process.pid}-${randomBytes(4).toString('hex')}.txt`);
    const lock = lockPath(path.relative(root, file), root);
    mkdirSync(path.dirname(file), { recursive: true });
    mkdirSync(path.dirname(lock), { recursive: true });
    // the name is this process's own: the lock is free; it is kept fresh until the process ends —
    // or until the cache itself is removed (a test's temporary cache): then there is nothing to keep
    const options = lockOptions(false);
    lockfile.lockSync(lock, { ...options, onCompromised: (e) => (existsSync(root) ? options.onCompromised?.(e) : liveFiles.delete(root)) });
    const f = file;
    process.once('exit', () => rmSync(f, { force: true }));
    liveFiles.set(root, file);
  }
  return file;
}

/**
 * Lock timing. A holder refreshes its lock's mtime every STALE/6; a lock not
 * refreshed for STALE is a dead (SIGKILLed) holder's and is taken over. A live
 * holder is waited for without limit: some productions take 20+ minutes.
 * KMATRIX_LOCK_STALE_MS shortens it for tests.
 */
export const LOCK_STALE_MS = Number(process.env.KMATRIX_LOCK_STALE_MS) || 30_000;

function lockOptions(wait: boolean): lockfile.LockOptions {
  return {
    stale: LOCK_STALE_MS,
    update: LOCK_STALE_MS / 6,
    realpath: false, // the locked path itself never exists, only its .lock directory
    retries: wait ? { forever: true, minTimeout: 100, maxTimeout: 2000, randomize: true } : 0,
    // only when the event loop stalled past STALE: another process may now redo the same work
    // (harmless: each producer writes its own .tmp-<pid>, the first finished entry is kept)
    onCompromised: (e) => console.error(`kmatrix: lost a cache lock (${e.message}); going on`),
  };
}

/** The lock of the cache path `rel` (a directory <cache>/locks/<rel>.lock once taken). */
function lockPath(rel: string, root = cacheDir()): string {
  return path.join(root, 'locks', rel);
}

/**
 * Run `job` holding the cross-process lock named `rel` (a cache path), waiting
 * as long as a live holder keeps it. Not re-entrant: never take the same lock
 * inside `job` (in-process sharing is inFlight's and the apt queue's).
 */
export async function withLock<T>(rel: string, job: () => Promise<T>, root = cacheDir()): Promise<T> {
  const file = lockPath(rel, root);
  await mkdir(path.dirname(file), { recursive: true });
  const release = await lockfile.lock(file, lockOptions(true));
  try {
    return await job();
  } finally {
    await release().catch(() => undefined); // already lost (compromised): nothing to release
  }
}

/** The lock named `rel` if it is free now (or its holder dead), else undefined: `cache prune` skips what others hold. */
export async function tryLock(rel: string, root = cacheDir()): Promise<(() => Promise<void>) | undefined> {
  const file = lockPath(rel, root);
  await mkdir(path.dirname(file), { recursive: true });
  try {
    return await lockfile.lock(file, lockOptions(false));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
    throw e;
  }
}

/** Whether a live process holds the lock named `rel`. */
export function isLocked(rel: string, root = cacheDir()): boolean {
  return lockfile.checkSync(lockPath(rel, root), { stale: LOCK_STALE_MS, realpath: false });
}

/** Paths that live processes use now (their live lists); the lists of dead processes are returned apart. */
export function liveUses(root = cacheDir()): { used: Set<string>; dead: string[] } {
  const dir = path.join(root, 'usage', 'live');
  const used = new Set<string>();
  const dead: string[] = [];
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    const rel = path.join('usage', 'live', f);
    if (!isLocked(rel, root)) dead.push(rel);
    else readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).forEach((p) => used.add(p));
  }
  return { used, dead };
}

/** One line per entry (or download) made, `<path> <pid> <time> [<seconds>s]`, in <cache>/produced.log: who made what, once, and how long it took (the ETA's past costs, eta.ts). */
export async function logProduced(rel: string, seconds?: number): Promise<void> {
  await appendFile(path.join(cacheDir(), 'produced.log'), `${rel} ${process.pid} ${new Date().toISOString()}${seconds !== undefined ? ` ${seconds}s` : ''}\n`);
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Return the directory of the cache entry `kind/hash(inputs)`, producing it
 * with `produce(tmpDir)` when absent. Concurrent callers of one key share one
 * production: in this process through inFlight, across processes through the
 * entry's lock. A failed production leaves nothing behind. A finished entry
 * that `reuse` refuses (e.g. made by an older harness that could not tell an
 * infrastructure failure) is produced again.
 */
export function cached(kind: string, inputs: unknown, produce: (dir: string) => Promise<void>, reuse?: (dir: string) => boolean): Promise<string> {
  const root = cacheDir();
  const rel = path.join(kind, hashOf(inputs));
  const dir = path.join(root, rel);
  noteUse(dir);
  const pending = inFlight.get(dir);
  if (pending) return pending;
  // even a finished entry is checked under its lock: prune (which takes it too) cannot remove it between check and use
  const done = () => existsSync(path.join(dir, '.done')) && (!reuse || reuse(dir));
  const job = withLock(rel, async () => {
    if (done()) return dir; // made before, or by the process we waited for
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const started = Date.now();
    try {
      cacheStats.produced[kind] = (cacheStats.produced[kind] ?? 0) + 1;
      await produce(tmp);
      await writeFile(path.join(tmp, '.inputs.json'), JSON.stringify(inputs, null, 2));
      await writeFile(path.join(tmp, '.done'), new Date().toISOString());
      // another process may have finished it meanwhile if our lock was lost: keep theirs, it may be in use
      if (done()) {
        await rm(tmp, { recursive: true, force: true });
        return dir;
      }
      await rm(dir, { recursive: true, force: true }); // a leftover without .done, or an entry `reuse` refused
      await rename(tmp, dir);
      await logProduced(rel, Math.round((Date.now() - started) / 1000));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    return dir;
  }, root);
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

/** Written whole (renamed into place): another process reading it meanwhile sees the old value or the new one. */
export async function writeCachedJson(name: string, value: unknown): Promise<void> {
  const file = path.join(cacheDir(), name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(value, null, 2));
}
