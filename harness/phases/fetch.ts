// fetch: the kernel (+ headers) and the driver source; then, is the cell applicable at all?
import { fetchDriverSource, notApplicable } from '../drivers/index.js';
import { CellSkip, errorLine, isUserError } from '../errors.js';
import { fetchKernel } from '../kernels/index.js';
import { CellEnd, type CellContext, type CellFacts, type Fetched } from '../plan.js';
import type { Cell, CellResult, DriverTree, KernelTree } from '../types.js';

export async function fetchPhase(cell: Cell, ctx: Pick<CellContext, 'debian' | 'kernelSettings'>): Promise<Fetched> {
  let kernel: KernelTree, tree: DriverTree;
  try {
    [kernel, tree] = await Promise.all([fetchKernel(cell.kernel, { debian: ctx.debian, settings: ctx.kernelSettings }), fetchDriverSource(ctx.debian, cell.source)]);
  } catch (e) {
    if (e instanceof CellSkip) throw new CellEnd('skip', 'fetch', e.message);
    throw new CellEnd('error', 'fetch', `fetch failed: ${errorLine(e)}`, isUserError(e) ? e.message : undefined);
  }
  const skip = notApplicable(cell.driver, tree, cell.consumer, cell.kernel.arch);
  if (skip) throw new CellEnd('skip', 'fetch', skip, undefined, fetchedFacts({ kernel, tree }));
  return { kernel, tree };
}

/** What the fetched kernel and source add to a cell's result. */
export function fetchedFacts({ kernel, tree }: Fetched): CellFacts {
  return {
    kernel: kernelFacts(kernel),
    driver: { version: tree.version, ...tree.versions },
  };
}

/** What the results say of a fetched kernel (a compiler substitution is a finding of the cell). */
function kernelFacts(k: KernelTree): Partial<CellResult['kernel']> {
  const b = k.builder;
  return { release: k.release, version: k.version, package: k.origin, compiler: k.compiler, builder: `${b.suite} ${b.compiler}${b.substitution ? ` (${b.substitution})` : ''}` };
}
