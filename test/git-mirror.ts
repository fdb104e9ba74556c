// Tests only: git's own redirection to local mirrors (the product never names them).
// The same three variables .ci/run exports when ../shared/git exists.
import { existsSync } from 'node:fs';
import path from 'node:path';

/** GIT_CONFIG_* making https://github.com/<owner>/<repo> read <dir>/<owner>/<repo>(.git). */
export function insteadOfEnv(dir: string, base = 'https://github.com/'): Record<string, string> {
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.file://${path.resolve(dir)}/.insteadOf`, GIT_CONFIG_VALUE_0: base };
}

/** This machine's mirrors (../shared/git), if there are any. */
export const SHARED_GIT = path.resolve('../shared/git');
export const sharedGitAvailable = (): boolean => existsSync(SHARED_GIT);

/** Set the redirection in this process (inherited by the git the harness runs), unless the caller's environment already has one. */
export function useSharedGit(): void {
  if (process.env.GIT_CONFIG_COUNT) return;
  Object.assign(process.env, insteadOfEnv(SHARED_GIT));
}
