// Kernel sources: each kind (a Debian suite, kernel packages, Ubuntu mainline,
// the kernel store, …) is one module of this folder that turns its matrix.yaml
// fragment into the same KernelTree the rest of the harness uses. Adding a
// kind is one new module registered in KINDS below: its schema fragment, its
// parser and its fetch.
import type { PackageFile } from '../apt.js';
import type { Debian } from '../images.js';
import type { Arch, KernelSourceSpec, KernelSpec } from '../types.js';
import { boxKernels, type BoxRef } from './box.js';
import { debianKernels } from './debian.js';
import { debsKernels } from './debs.js';
import { mainlineKernels } from './mainline.js';
import { storeKernels } from './store.js';

/** A bootable kernel and its module build tree, whatever its source. */
export interface KernelTree {
  /** `uname -r` of the kernel, e.g. 6.1.0-50-amd64 or 4.9.229. */
  release: string;
  /** Upstream version, e.g. 6.1.176 or 4.9.229. */
  version: string;
  /** Where it came from, for the results: `linux-image-<release>=<package version>`, `store:…`, `mainline:…`. */
  origin: string;
  arch: Arch;
  /** Root of the extracted packages (usr/src/..., boot/...). */
  root: string;
  /** Relative to root: the headers dir `make -C` goes to. */
  headers: string;
  /** The boot image (absolute). */
  image: string;
  dtbDir?: string;
  /** The SD card's modules (mmc host, ext4 and its dependencies), in load order, where the kernel has them as modules. */
  sdModules: string[];
  /** The compiler the kernel records it was built with, e.g. `gcc-12` or `gcc version 11.3.0 (Debian 11.3.0-12)`. */
  compiler: string;
  /** The builder root that builds drivers for it. */
  builder: BuilderChoice;
  /** The kernel's packages: their sha256 keys every build made for it. */
  packages: PackageFile[];
  /** A kernel inside a Vagrant box: booted by the Vagrant backend, drivers built in the box. */
  box?: BoxRef;
}

/** Which Debian suite's root builds drivers for a kernel, with which compiler package. */
export interface BuilderChoice {
  suite: string;
  /** The compiler package (native name), e.g. gcc-11 or clang-14. */
  compiler: string;
  /** Set when no suite has the kernel's own compiler: what was used instead, and why. */
  substitution?: string;
  /**
   * The kernel's tree calls its compiler by the plain name (`gcc`,
   * `<triplet>-gcc`: a self-built tree); builds then find the chosen one under it.
   * Debian's trees name the versioned compiler themselves.
   */
  plainName?: boolean;
}

/** What a kind may use to fetch its kernels. */
export interface KernelContext {
  debian: Debian;
  /** Top-level matrix settings of the kinds that have some (e.g. `mainline: { base }`), by kind. */
  settings: Record<string, unknown>;
}

/** One kind of kernel source. */
export interface KernelKind<S extends KernelSourceSpec = KernelSourceSpec> {
  kind: string;
  /** JSON schema of the kind's fragment under a kernel (`<kind>: { … }`). */
  schema: object;
  /** JSON schema of the kind's top-level matrix setting (`<kind>: { … }` at the top), if it has one. */
  settings?: object;
  /** The fragment (schema-valid) as the kind's spec; `dir` is the matrix file's directory, for relative paths. */
  parse(fragment: any, dir: string): S;
  /** The arch the fragment names, if it names one (checked against the kernel's). */
  arch?(spec: S): Arch | undefined;
  /** Debian suites the fragment uses (a configured suite nothing uses is an error). */
  suites?(spec: S): string[];
  fetch(spec: S, kernel: KernelSpec, ctx: KernelContext): Promise<KernelTree>;
  /** For `kmatrix explain`: what such a kernel is, told without fetching anything (what only a fetch knows as <…>). */
  describe?(spec: S, kernel: KernelSpec, settings: Record<string, unknown>): KernelDescription;
}

/** A kernel as `explain` tells it. */
export interface KernelDescription {
  /** `uname -r`, or a <placeholder>. */
  release: string;
  /** Where its packages come from. */
  source: string[];
  /** Which builder root builds its drivers, and with which compiler. */
  builder: { suite: string; compiler: string };
  /** Its device trees, relative to its extracted packages. */
  dtbDir?: string;
}

export const KINDS: KernelKind<any>[] = [debianKernels, debsKernels, mainlineKernels, storeKernels, boxKernels];

export function kernelKind(kind: string): KernelKind {
  const k = KINDS.find((x) => x.kind === kind);
  if (!k) throw new Error(`unknown kernel source kind ${kind}`);
  return k;
}

/** Fetch a kernel from its source. A source that cannot be had here raises CellSkip (the cell is a skip with the reason). */
export function fetchKernel(spec: KernelSpec, ctx: KernelContext): Promise<KernelTree> {
  return kernelKind(spec.source.kind).fetch(spec.source, spec, ctx);
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
