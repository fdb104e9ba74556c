// Vagrant boxes as a kernel source: a distribution's own kernel inside a box
// (provider libvirt), pinned by name and version. The box is fetched outside
// the backend's network namespace (`vagrant box add`, before `up`); a box that
// cannot be had is a skip, "box unreachable: …". The local box (built from
// Debian packages by `kmatrix images build-box`) is built when missing. The
// drivers for a box are built inside it, against its own headers.
import { execa } from 'execa';
import { CellSkip } from '../errors.js';
import { boxAdded, buildLocalBox, lastMeaningful, LOCAL_BOX, vagrantEnv } from '../images/box.js';
import type { BoxRef, KernelSpec, KernelTree } from '../types.js';
import type { KernelContext, KernelKind } from './kind.js';

export interface BoxKernelSource {
  kind: 'box';
  /** Vagrant box name, e.g. generic/centos7. */
  name: string;
  /** Pinned box version (not needed for the local box: its version follows its kernel). */
  version?: string;
  /** The local box built from Debian packages. */
  local?: boolean;
}

export const boxKernels: KernelKind<BoxKernelSource> = {
  kind: 'box',
  schema: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$' }, version: { type: 'string' }, local: { type: 'boolean' } },
  },
  parse: (f) => ({ kind: 'box', name: f.name, ...(f.version ? { version: f.version } : {}), ...(f.local ? { local: true } : {}) }),
  fetch: fetchBox,
};

/** The box a cell boots (on KernelTree.box). */

/** What `vagrant box add` said when a box could not be had, as a skip reason. */
export function unreachable(output: string): CellSkip {
  return new CellSkip(`box unreachable: ${lastMeaningful(output) || 'vagrant box add failed'}`);
}

async function fetchBox(src: BoxKernelSource, spec: KernelSpec, ctx: KernelContext): Promise<KernelTree> {
  let ref: BoxRef;
  let release = '';
  if (src.local || src.name === LOCAL_BOX.name) {
    const box = await buildLocalBox(ctx.debian);
    ref = { name: box.name, version: box.version, local: true };
    release = box.release;
  } else {
    if (!src.version) throw new CellSkip(`box ${src.name} has no pinned version in the matrix`);
    ref = { name: src.name, version: src.version, local: false };
    if (!boxAdded(src.name, src.version)) {
      // online, outside the namespace: the only network the backend ever uses
      const r = await execa('vagrant', ['box', 'add', '--provider', 'libvirt', '--box-version', src.version, src.name], {
        env: vagrantEnv(),
        reject: false,
        all: true,
        stdin: 'ignore',
        timeout: 30 * 60_000,
      });
      if (r.exitCode !== 0) throw unreachable(r.all ?? '');
    }
  }
  return {
    release,
    version: /^(\d+\.\d+(\.\d+)?)/.exec(release)?.[1] ?? '',
    origin: `box:${ref.name}@${ref.version}`,
    arch: spec.arch,
    root: '',
    headers: '',
    image: '',
    sdModules: [],
    compiler: '',
    builder: { suite: 'box', compiler: "the box's own" },
    packages: [],
    box: ref,
  };
}
