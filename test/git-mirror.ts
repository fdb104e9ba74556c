// Tests only: git's own redirection to local mirrors (the product never names them).
// The same three variables .ci/run exports when ../shared/git exists.
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** GIT_CONFIG_* making https://github.com/<owner>/<repo> read <dir>/<owner>/<repo>(.git). */
export function insteadOfEnv(dir: string, base = 'https://github.com/'): Record<string, string> {
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.file://${path.resolve(dir)}/.insteadOf`, GIT_CONFIG_VALUE_0: base };
}

/** This machine's mirrors (../shared/git), if there are any. */
export const SHARED_GIT = path.resolve('../shared/git');
export const sharedGitAvailable = (): boolean => existsSync(SHARED_GIT);

/** The redirection to ../shared/git this process should add: none when there are no mirrors, or when the caller's environment already has a redirection. */
export function sharedGitEnv(): Record<string, string> {
  return process.env.GIT_CONFIG_COUNT || !sharedGitAvailable() ? {} : insteadOfEnv(SHARED_GIT);
}

/** Set the redirection in this process (inherited by the git the harness runs), when sharedGitEnv() has one. */
export function useSharedGit(): void {
  Object.assign(process.env, sharedGitEnv());
}

/**
 * Why git cannot fetch `commit` of `url` now, or '' when it can: a shallow
 * fetch of the commit alone (`--filter=tree:0`, where the server allows it)
 * into a temporary repository, with this process's environment plus `env`,
 * no prompt, at most `seconds`.
 */
export async function gitFetchProblem(url: string, commit: string, env: Record<string, string> = {}, seconds = 60): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kmatrix-git-probe-'));
  try {
    const opts = { reject: false, all: true, stdin: 'ignore', env: { ...env, GIT_TERMINAL_PROMPT: '0' }, timeout: seconds * 1000 } as const;
    await execa('git', ['init', '--quiet', dir], opts);
    const r = await execa('git', ['-C', dir, 'fetch', '--quiet', '--no-tags', '--depth', '1', '--filter=tree:0', url, commit], opts);
    if (r.exitCode === 0) return '';
    if (r.timedOut) return `git fetch ${url} ${commit}: no answer in ${seconds} s`;
    const lines = (r.all ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !/^warning:/.test(l));
    return `git fetch ${url} ${commit}: ${lines.find((l) => l.startsWith('fatal:')) ?? lines.at(-1) ?? `exit ${r.exitCode}`}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A suite title's pending suffix — " (pending: <git's reasons>)" — when git cannot
 * fetch every one of `pins` (or `missing` says why there are none), '' when it can.
 */
export async function pendingUnlessFetchable(pins: { url: string; commit: string }[], missing: string): Promise<string> {
  const problems = pins.length ? (await Promise.all(pins.map((p) => gitFetchProblem(p.url, p.commit, sharedGitEnv())))).filter(Boolean) : [missing];
  return problems.length ? ` (pending: ${problems.join('; ')})` : '';
}
