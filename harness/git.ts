// Sources from git (driver trees, consumers): exactly one pinned commit, fetched shallow
// (`git fetch --depth 1 <url> <commit>`), checked, and cached by commit id.
// Offline mirrors are git's own business (`url.<mirror>.insteadOf` in its
// configuration, e.g. GIT_CONFIG_COUNT/KEY/VALUE): the code path is the same.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { cached } from './cache/cache.js';
import { SourceUnavailable } from './errors.js';
import type { GitPin } from './types.js';
export type { GitPin };

/** A checkout that is not the pinned commit: never built from, an error (not a skip). */
export class GitPinMismatch extends Error {}

async function git(cwd: string, args: string[]) {
  // no prompts (a private or missing repository must fail, not wait for a password)
  return execa('git', args, { cwd, reject: false, all: true, stdin: 'ignore', env: { GIT_TERMINAL_PROMPT: '0' } });
}

/** The last line git wrote that says why (its `fatal:` line if any). */
function gitWhy(out: string | undefined): string {
  const lines = (out ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^fatal:/.test(l)) ?? lines.at(-1) ?? 'no output';
}

/** HEAD of a checkout must be the pin. */
export async function verifyCheckout(dir: string, pin: GitPin): Promise<void> {
  const r = await git(dir, ['rev-parse', 'HEAD']);
  const head = r.stdout.trim();
  if (r.exitCode !== 0 || head !== pin.commit)
    throw new GitPinMismatch(`the checkout of ${pin.url} in ${dir} is at ${head || `nothing (${gitWhy(r.all)})`}, not the pinned commit ${pin.commit}`);
}

/**
 * The working tree of `pin` (cached by commit: the same commit from any URL
 * is the same tree). A commit that cannot be fetched is a SourceUnavailable
 * (the cell is a skip, with git's reason).
 */
export async function gitCheckout(pin: GitPin): Promise<string> {
  const exclude = pin.exclude ?? [];
  // the same commit is the same tree from any URL; a checkout leaving paths out is another tree
  const dir = await cached('git', exclude.length ? { commit: pin.commit, exclude } : { commit: pin.commit }, async (tmp) => {
    const tree = path.join(tmp, 'tree');
    const steps: string[][] = exclude.length
      ? // a partial clone: no blob is fetched until the checkout needs it, and the
        // sparse checkout never needs the left-out paths' (a mirror may not have them)
        [
          ['init', '--quiet', tree],
          ['-C', tree, 'remote', 'add', 'origin', pin.url],
          ['-C', tree, 'fetch', '--quiet', '--depth', '1', '--filter=blob:none', 'origin', pin.commit],
          ['-C', tree, 'sparse-checkout', 'set', '--no-cone', '/*', ...exclude.map((p) => `!/${p.replace(/^\/+/, '')}`)],
          ['-C', tree, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', 'FETCH_HEAD'],
        ]
      : [
          ['init', '--quiet', tree],
          ['-C', tree, 'fetch', '--quiet', '--depth', '1', pin.url, pin.commit],
          ['-C', tree, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', 'FETCH_HEAD'],
        ];
    for (const args of steps) {
      const r = await git(tmp, args);
      if (r.exitCode === 0) continue;
      const why = `git ${args.filter((a) => a !== '--quiet').slice(args[0] === '-C' ? 2 : 0).join(' ')}: ${gitWhy(r.all)}`;
      // the checkout of a partial clone fetches its blobs: unreachable then is unavailable too
      if (args.includes('fetch') || (exclude.length && args.includes('checkout'))) throw new SourceUnavailable(`commit ${pin.commit} of ${pin.url} cannot be fetched (${why})`);
      throw new Error(why);
    }
    await verifyCheckout(tree, pin);
  });
  const tree = path.join(dir, 'tree');
  if (!existsSync(tree)) throw new GitPinMismatch(`the cached checkout of ${pin.commit} (${dir}) has no tree`);
  // checked on every use: a cached checkout someone moved is not the pin any more
  await verifyCheckout(tree, pin);
  return tree;
}

/** A writable copy of a checkout without its .git: for builds that write into their sources (CMake does). */
export async function copyCheckout(tree: string, to: string): Promise<void> {
  await cp(tree, to, { recursive: true, filter: (f) => !f.endsWith(`${path.sep}.git`) });
}

/**
 * A copy of a libs checkout with another checkout's driver/ over its own: the
 * modern probe libs builds in is then that driver's (libs builds it from its
 * own tree, whatever DRIVER_SOURCE_DIR says).
 */
export async function copyLibsWithDriver(libs: string, driver: string | undefined, to: string): Promise<void> {
  await copyCheckout(libs, to);
  if (!driver) return;
  await rm(path.join(to, 'driver'), { recursive: true, force: true });
  await cp(path.join(driver, 'driver'), path.join(to, 'driver'), { recursive: true });
}
