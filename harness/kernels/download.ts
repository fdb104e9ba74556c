// Downloads for kernel sources outside Debian's archive (package URLs, Ubuntu
// mainline): sha256-verified before they are kept, content-addressed in the
// cache, and an unreachable host is a skip with its reason, not a failure.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tmpBeside } from '../atomic.js';
import { cacheDir } from '../cache/cache.js';
import { CellSkip } from '../errors.js';

/** A kernel source that cannot be reached from here: the cell is a skip with this reason. */
export class KernelUnreachable extends CellSkip {
  constructor(url: string, why: string) {
    super(`kernel source unreachable: ${url}: ${why}`);
  }
}

/** The network's words for a failed fetch (the cause: `getaddrinfo ENOTFOUND host`, `connect ECONNREFUSED …`). */
export function fetchFailure(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.message || cause?.code) return cause.message && cause.code && !cause.message.includes(cause.code) ? `${cause.code} (${cause.message})` : (cause.message ?? cause.code)!;
  if ((e as Error).name === 'TimeoutError') return 'timed out';
  return (e as Error).message ?? String(e);
}

/** GET a URL as bytes; unreachable or not there (HTTP error) → KernelUnreachable. */
export async function getBytes(url: string, timeoutMs = 30_000): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    throw new KernelUnreachable(url, fetchFailure(e));
  }
  if (!res.ok) throw new KernelUnreachable(url, `HTTP ${res.status} ${res.statusText}`.trim());
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (e) {
    throw new KernelUnreachable(url, `download interrupted: ${fetchFailure(e)}`);
  }
}

export function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** A file's sha256 did not match what pins it: refused, nothing kept. An error (not a skip): the source is wrong or tampered with. */
export class ChecksumMismatch extends Error {}

/**
 * A file pinned by its sha256, downloaded once into the cache
 * (downloads/<sha256>/<name>). A mismatch is refused and nothing is kept:
 * never a silent re-download.
 */
export async function downloadPinned(url: string, sha256: string, pinnedBy: string): Promise<string> {
  const name = decodeURIComponent(path.basename(new URL(url).pathname)) || 'download';
  const dir = path.join(cacheDir(), 'downloads', sha256.toLowerCase());
  const file = path.join(dir, name);
  if (existsSync(file)) return file;
  const data = await getBytes(url, 15 * 60_000);
  const got = sha256Of(data);
  if (got !== sha256.toLowerCase())
    throw new ChecksumMismatch(`sha256 mismatch for ${url}: ${pinnedBy} says ${sha256}, the download is ${got} (${data.length} bytes); refused, nothing kept`);
  await mkdir(dir, { recursive: true });
  const tmp = tmpBeside(file);
  await writeFile(tmp, data);
  await rename(tmp, file).catch(async (e) => {
    await rm(tmp, { force: true });
    throw e;
  });
  return file;
}
