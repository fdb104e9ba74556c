// Consumers: the userspace that opens a driver and reads its events — Debian's
// sysdig (debian.ts), libscap's scap-open built from a falcosecurity-libs
// source package (scap-open.ts: the only way to a modern-eBPF engine, Debian's
// libscap builds never include it), sysdig built from git (sysdig-git.ts), or
// Falco itself built from git (falco.ts).
// Also how each one is told which driver to open.
import type { Debian } from '../apt.js';
import { ARTIFACT_IN_GUEST } from '../guest.js';
import { hostDebianArch } from '../machines.js';
import type { Arch, ConsumerAssets, ConsumerSpec, DriverId } from '../types.js';
import { debianSysdig } from './debian.js';
import { buildFalco, falcoEngine } from './falco.js';
import { buildScapOpen } from './scap-open.js';
import { buildGitSysdig } from './sysdig-git.js';

/** The consumer and its guest image (plus `extra` guest packages, e.g. a profile's setpriv). */
export async function prepareConsumer(debian: Debian, spec: ConsumerSpec, arch: Arch, extra: string[] = []): Promise<ConsumerAssets> {
  if (spec.debian) return debianSysdig(debian, spec.debian, arch, extra);
  if (spec.git) return buildGitSysdig(debian, spec, arch, extra);
  if (spec.falco) return buildFalco(debian, spec, arch, extra);
  return buildScapOpen(debian, spec, arch, extra);
}

/** How the consumer is told to open the driver. */
export function engineArgs(kind: ConsumerSpec['kind'], driver: DriverId): string {
  const probe = `/${ARTIFACT_IN_GUEST.ebpf}`;
  // -B takes its path attached only; -u: libscap's udig engine, reading pdig's ring in /dev/shm
  if (kind === 'sysdig') return driver === 'ebpf' ? `--bpf=${probe}` : driver === 'pdig' ? '-u' : '';
  if (kind === 'falco') return falcoEngine(driver);
  return { kmod: '--kmod', ebpf: `--bpf ${probe}`, 'modern-ebpf': '--modern_bpf', pdig: '' }[driver];
}

export function consumerHasEngine(spec: ConsumerSpec, driver: DriverId): boolean {
  return spec.engines.includes(driver);
}

/** A consumer as `explain` tells it, without building anything: what it is, its guest image, its command in the guest. */
export function describeConsumer(spec: ConsumerSpec, runAs: string, engine: string, arch: Arch = hostDebianArch()): { what: string; image: string; command: string } {
  const foreign = arch !== hostDebianArch();
  const pre = runAs ? `${runAs} ` : '';
  const short = (p: { url: string; commit: string }) => `${p.url}@${p.commit.slice(0, 12)}`;
  if (spec.debian)
    return {
      what: `${spec.debian.package} from ${spec.debian.suite} (Debian binary package and its dependency closure)`,
      image: `<${spec.debian.suite} ${spec.debian.package} closure + busybox>`,
      command: `${pre}sysdig --unbuffered ${engine} -p '…' "fd.name contains <nonce>"`.replace(/\s+/g, ' '),
    };
  if (spec.git)
    return {
      what: `sysdig built from ${short(spec.git)} in a ${spec.git.suite} builder root`,
      image: `<${spec.git.suite} runtime of sysdig + busybox>`,
      command: `${pre}sysdig --unbuffered ${engine} -p '…' "fd.name contains <nonce>"`.replace(/\s+/g, ' '),
    };
  if (spec.falco) {
    const f = spec.falco;
    return {
      what: `Falco ${f.version} built from ${short(f.git)} against libs ${short(f.libs)} and driver ${short(f.driver)} in a ${f.suite} builder root (nothing bundled, falcoctl off, no container plugin)${foreign ? `; not built for ${arch} here: the cell is a skip` : ''}`,
      image: `<${f.suite} runtime of Falco + busybox>`,
      command: `${pre}falco -c /etc/falco/falco.yaml ${engine} -v (JSON alerts on stdout; one rule on the marker, the nonce written in)`.replace(/\s+/g, ' '),
    };
  }
  const libs = spec.libs!;
  return {
    what: `scap-open built from ${libs.git ? `libs ${short(libs.git)}${libs.driver ? ` with the driver/ of ${short(libs.driver)}` : ''}` : `the ${libs.package} source`} of ${libs.suite}${libs.modern ? ', with the modern eBPF engine' : ''}${foreign ? `, cross-built for ${arch} in a multiarch root` : ''}`,
    image: `<${libs.suite} runtime of scap-open + busybox>`,
    command: `${pre}scap-open ${engine} --evt_type <openat exit of its libs>`.replace(/\s+/g, ' '),
  };
}
