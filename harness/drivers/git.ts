// Git driver sources: a driver tree from one pinned commit (configured as its
// CMake does), or pdig's tree with the libs tree it builds against.
import { gitCheckout } from '../git.js';
import type { DriverTree, SourceSpec } from '../types.js';
import { configuredDriverTree, readDriverConfig } from './configure.js';

export async function fetchGitSource(src: SourceSpec): Promise<DriverTree> {
  const git = src.git!;
  const [tree, libs] = await Promise.all([gitCheckout(git), src.libs ? gitCheckout(src.libs) : undefined]);
  // pdig's events are the libs tree's: its versions are the driver's
  const driver = libs ? await configuredDriverTree(libs, src.libs!.commit) : await configuredDriverTree(tree, git.commit, src.name);
  const origin = `git:${git.url}@${git.commit}${libs ? ` + ${src.libs!.url}@${src.libs!.commit}` : ''}`;
  return { dir: driver, ...readDriverConfig(driver), origin, ...(libs ? { pdig: { tree, libs } } : {}) };
}
