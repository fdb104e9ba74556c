// Driver sources: where a driver's tree comes from — a Debian
// falcosecurity-scap-dkms package (debian.ts), a git commit (git.ts), or a
// local configured tree — and whether a cell can run with it at all.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { SourceUnavailable } from '../errors.js';
import type { Arch, ConsumerSpec, DriverId, DriverTree, SourceSpec, Versions } from '../types.js';
import { readDriverConfig } from './configure.js';
import { fetchDebianSource } from './debian.js';
import { fetchGitSource } from './git.js';

/** Fetch a driver source; one that cannot be had raises SourceUnavailable (the cell is a skip). */
export async function fetchDriverSource(debian: Debian, src: SourceSpec): Promise<DriverTree> {
  if (src.dir) {
    if (!existsSync(path.join(src.dir, 'driver_config.h')))
      throw new SourceUnavailable(`local driver tree ${src.dir} has no driver_config.h (run libs' cmake configure step first)`);
    return { dir: src.dir, ...readDriverConfig(src.dir), origin: `dir:${src.dir}` };
  }
  if (src.git) return fetchGitSource(src);
  return fetchDebianSource(debian, src.debian!);
}

function parseVersion(v: string): number[] {
  return v.split('.').map(Number);
}

/** libscap's rule: same major, and minor.patch at least the consumer's minimum. */
export function consumerAccepts(required: Versions, driver: Versions): { ok: boolean; why?: string } {
  for (const kind of ['api', 'schema'] as const) {
    const [rM, rm, rp] = parseVersion(required[kind]);
    const [dM, dm, dp] = parseVersion(driver[kind]);
    if (rM !== dM || dm! < rm! || (dm === rm && dp! < rp!))
      return { ok: false, why: `driver ${kind} version ${driver[kind]} is not accepted by the consumer (needs ${required[kind]}, same major)` };
  }
  return { ok: true };
}

/** Why a cell cannot run at all (a skip, with its reason), or undefined. */
export function notApplicable(driver: DriverId, tree: DriverTree, consumer: ConsumerSpec, arch: Arch = 'amd64'): string | undefined {
  if (driver === 'pdig') {
    if (arch !== 'amd64') return `pdig is x86_64 only (its ptrace code is written for amd64's registers and syscall numbers): no ${arch} build`;
    if (!tree.pdig) return 'this driver source has no pdig tree (a pdig source is git: pdig at a commit, with libs: the libs tree it builds against)';
  } else if (tree.pdig) return `this source is pdig's: its libs tree is there for pdig, not for ${driver} cells`;
  if (driver === 'ebpf' && !existsSync(path.join(tree.dir, 'bpf', 'probe.c')))
    return 'this driver source has no legacy eBPF probe (removed upstream in libs 0.24.0 / driver 10.0.0)';
  if (!consumer.engines.includes(driver))
    return `consumer ${consumer.id} has no ${driver} engine${driver === 'modern-ebpf' ? " (Debian's libscap builds never include modern_bpf)" : ''}`;
  const compat = consumerAccepts(consumer.requires, tree.versions);
  if (!compat.ok) return `consumer ${consumer.id}: ${compat.why}`;
  return undefined;
}

