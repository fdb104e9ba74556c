// Consumers: the userspace that opens a driver and reads its events — Debian's
// sysdig (debian.ts), libscap's scap-open built from a falcosecurity-libs
// source package (scap-open.ts: the only way to a modern-eBPF engine, Debian's
// libscap builds never include it), or sysdig built from git (sysdig-git.ts).
// Also how each one is told which driver to open.
import type { Debian } from '../apt.js';
import { ARTIFACT_IN_GUEST } from '../guest.js';
import type { Arch, ConsumerAssets, ConsumerSpec, DriverId } from '../types.js';
import { debianSysdig } from './debian.js';
import { buildScapOpen } from './scap-open.js';
import { buildGitSysdig } from './sysdig-git.js';

/** The consumer and its guest image (plus `extra` guest packages, e.g. a profile's setpriv). */
export async function prepareConsumer(debian: Debian, spec: ConsumerSpec, arch: Arch, extra: string[] = []): Promise<ConsumerAssets> {
  if (spec.debian) return debianSysdig(debian, spec.debian, arch, extra);
  if (spec.git) return buildGitSysdig(debian, spec, arch, extra);
  return buildScapOpen(debian, spec, arch, extra);
}

/** How the consumer is told to open the driver. */
export function engineArgs(kind: ConsumerSpec['kind'], driver: DriverId): string {
  const probe = `/${ARTIFACT_IN_GUEST.ebpf}`;
  // -B takes its path attached only; -u: libscap's udig engine, reading pdig's ring in /dev/shm
  if (kind === 'sysdig') return driver === 'ebpf' ? `--bpf=${probe}` : driver === 'pdig' ? '-u' : '';
  return { kmod: '--kmod', ebpf: `--bpf ${probe}`, 'modern-ebpf': '--modern_bpf', pdig: '' }[driver];
}

export function consumerHasEngine(spec: ConsumerSpec, driver: DriverId): boolean {
  return spec.engines.includes(driver);
}
