// fetch: the kernel (+ headers) and the driver source; then, is the cell applicable at all?
import { fetchDriverSource, notApplicable } from '../drivers/index.js';
import { CellSkip, errorLine, isUserError } from '../errors.js';
import { pvhImage } from '../images/pvh.js';
import { fetchKernel } from '../kernels/index.js';
import { MACHINES } from '../machines.js';
import { CellEnd, type CellContext, type CellFacts, type Fetched } from '../plan.js';
import type { Cell, CellResult, DriverTree, KernelTree } from '../types.js';

export async function fetchPhase(cell: Cell, ctx: Pick<CellContext, 'debian' | 'kernelSettings'>): Promise<Fetched> {
  let kernel: KernelTree, tree: DriverTree, from: KernelTree | undefined;
  const kctx = { debian: ctx.debian, settings: ctx.kernelSettings };
  // a negative control also needs the kernel its module is built for
  const fromKernel = cell.control
    ? fetchKernel(cell.control.from, kctx).catch((e: unknown) => {
        throw e instanceof CellSkip ? new CellSkip(`the module's kernel ${cell.control!.from.id}: ${e.message}`) : e;
      })
    : undefined;
  try {
    [kernel, tree, from] = await Promise.all([fetchKernel(cell.kernel, kctx), fetchDriverSource(ctx.debian, cell.source), fromKernel]);
  } catch (e) {
    if (e instanceof CellSkip) throw new CellEnd('skip', 'fetch', e.message);
    throw new CellEnd('error', 'fetch', `fetch failed: ${errorLine(e)}`, isUserError(e) ? e.message : undefined);
  }
  const skip = notApplicable(cell.driver, tree, cell.consumer, cell.kernel.arch);
  if (skip) throw new CellEnd('skip', 'fetch', skip, undefined, fetchedFacts({ kernel, tree }));
  if (from && from.release === kernel.release)
    throw new CellEnd('skip', 'fetch', `no control: ${cell.control!.from.id} and ${cell.kernel.id} are the same kernel release (${kernel.release}) today`, undefined, fetchedFacts({ kernel, tree }));
  // what QEMU boots: the kernel's ELF where the machine enters it at its PVH entry
  if (MACHINES[cell.kernel.machine]?.pvh && !kernel.box) {
    const pvh = await pvhImage(kernel.image).catch((e: unknown) => {
      throw new CellEnd('error', 'fetch', `the kernel's ELF for a PVH boot: ${errorLine(e)}`);
    });
    if (pvh) kernel = { ...kernel, pvh };
  }
  return { kernel, tree, ...(from ? { from } : {}) };
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
  const image = k.packages.find((p) => /^linux-image-/.test(p.name));
  return {
    release: k.release,
    version: k.version,
    package: k.origin,
    compiler: k.compiler,
    // (another major, or another distribution's build of the same one: the cell says the builder is not the kernel's own)
    builder: `${b.suite} ${b.compiler}${b.substitution || b.vendor ? ` (${b.substitution ?? b.vendor})` : ''}`,
    ...(image ? { packageVersion: image.version } : {}),
    ...(k.features ? { features: k.features } : {}),
    ...(k.box ? {} : { boot: k.pvh ? ('pvh' as const) : ('image' as const) }),
  };
}
