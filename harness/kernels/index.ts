// Kernel sources: each kind (a Debian suite, kernel packages, Ubuntu mainline,
// the kernel store, …) is one module of this folder that turns its matrix.yaml
// fragment into the same KernelTree the rest of the harness uses. Adding a
// kind is one new module registered in KINDS below: its schema fragment, its
// parser and its fetch.
import type { KernelSpec, KernelTree } from '../types.js';
import { aptKernels } from './aptrepo.js';
import { boxKernels } from './box.js';
import { debianKernels } from './debian.js';
import { debsKernels } from './debs.js';
import { mainlineKernels } from './mainline.js';
import { kernelFeatures } from './features.js';
import type { KernelContext, KernelDescription, KernelKind } from './kind.js';
import { storeKernels } from './store.js';
import { yumKernels } from './yum.js';

export const KINDS: KernelKind<any>[] = [debianKernels, debsKernels, mainlineKernels, storeKernels, boxKernels, aptKernels, yumKernels];

export function kernelKind(kind: string): KernelKind {
  const k = KINDS.find((x) => x.kind === kind);
  if (!k) throw new Error(`unknown kernel source kind ${kind}`);
  return k;
}

/** Fetch a kernel from its source. A source that cannot be had here raises CellSkip (the cell is a skip with the reason). */
export async function fetchKernel(spec: KernelSpec, ctx: KernelContext): Promise<KernelTree> {
  const tree = await kernelKind(spec.source.kind).fetch(spec.source, spec, ctx);
  const features = await kernelFeatures(tree);
  return features ? { ...tree, features } : tree;
}

/** A kernel described without fetching it (a kind that cannot tell says only its kind). */
export function describeKernel(spec: KernelSpec, settings: Record<string, unknown>): KernelDescription {
  const kind = kernelKind(spec.source.kind);
  return (
    kind.describe?.(spec.source, spec, settings) ?? {
      release: '<release>',
      source: [`a ${kind.kind} kernel`],
      builder: { suite: '<suite>', compiler: '<compiler>' },
    }
  );
}

export function kernelSuites(spec: KernelSpec): string[] {
  return kernelKind(spec.source.kind).suites?.(spec.source) ?? [];
}
