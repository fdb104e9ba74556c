// What one kind of kernel source is (kernels/index.ts lists them): its matrix
// fragment's schema and parser, and how it fetches a kernel into a KernelTree.
import type { Debian } from '../apt.js';
import type { Arch, KernelSourceSpec, KernelSpec, KernelTree } from '../types.js';

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
