// The kernel's side of a failure: where the kernel's own build tree says why a
// driver cannot work on it (no BTF, no BPF ring buffer, too old for the legacy
// probe, module signatures enforced), a failed cell says so beside the
// driver's words, and a fallback class (load:other, build:other…) becomes the
// precise one. Never a pass into a fail, never a class the message already
// decided otherwise. Pure: the facts are in the result (kernel.features).
import { classify, type Classifiable, type LogTexts } from './failures.js';
import { atLeast } from './kernels/features.js';
import type { CellResult, DriverId, FailureClass, KernelFeatures } from './types.js';

/** What the cause reads of a finished cell. */
export interface CauseInput {
  status: CellResult['status'];
  phase?: CellResult['phase'];
  class?: FailureClass;
  reason?: string;
  driver: DriverId;
  kernel: { version?: string; arch: CellResult['kernel']['arch']; features?: KernelFeatures };
  /** The profile's kernel command line (module.sig_enforce=1). */
  cmdline?: string[];
}

export interface KernelCause {
  /** The kernel's reason, to follow the cell's own (" — " between them). */
  because: string;
  /** The class it should have instead (only ever in place of a fallback class). */
  class?: FailureClass;
}

/** Load failures of modern eBPF whose cause may be the kernel's (not a capability, not a version the consumer refused). */
const MODERN_LOAD: FailureClass[] = ['load:other', 'load:btf', 'load:unsupported-map'];
/** Build failures of the legacy probe that its own version check explains. */
const PROBE_BUILD: FailureClass[] = ['build:kernel-version-check', 'build:configure', 'build:other'];

export function kernelCause(c: CauseInput): KernelCause | undefined {
  const f = c.kernel.features;
  const v = c.kernel.version;
  if (c.status !== 'fail' || !c.class) return undefined;
  const refine = (want: FailureClass, from: FailureClass[]) => (c.class !== want && from.includes(c.class!) ? want : undefined);

  if (c.driver === 'modern-ebpf' && c.phase === 'load' && f && MODERN_LOAD.includes(c.class)) {
    // libpman checks the ring buffer first, then the tracing programs (which need BTF): the class follows the first lack
    const lacks: { why: string; cls: FailureClass }[] = [];
    if (!f.bpf) lacks.push({ why: 'this kernel has no bpf() (CONFIG_BPF_SYSCALL is not set)', cls: 'load:other' });
    else if (!f.ringbuf) lacks.push({ why: `this kernel (${v}) has no BPF ring buffer (5.8): modern eBPF needs it`, cls: 'load:unsupported-map' });
    if (!f.btf) lacks.push({ why: 'this kernel has no BTF (CONFIG_DEBUG_INFO_BTF is not set): modern eBPF needs it', cls: 'load:btf' });
    if (!lacks.length) return undefined;
    const cls = lacks[0]!.cls;
    return { because: lacks.map((l) => l.why).join('; '), class: cls === 'load:other' ? undefined : refine(cls, ['load:other']) };
  }

  if (c.driver === 'ebpf' && c.phase === 'build' && v && PROBE_BUILD.includes(c.class)) {
    if (!atLeast(v, 4, 14))
      return { because: `this kernel is ${v}: the legacy eBPF probe needs 4.14 (its quirks.h refuses older kernels)`, class: refine('build:kernel-version-check', PROBE_BUILD) };
    // libs since 0.15 capture sched_process_fork on arm64 with raw tracepoints, and refuse a kernel without them
    if (c.kernel.arch === 'arm64' && f && !f.rawTracepoints && c.class === 'build:kernel-version-check')
      return { because: `this kernel is ${v}: the legacy eBPF probe on arm64 needs raw tracepoints (4.17)` };
    return undefined;
  }

  // the module refused by insmod (not a consumer failing after it loaded)
  if (c.driver === 'kmod' && c.phase === 'load' && (c.class === 'load:signature' || (c.class === 'load:other' && /^insmod failed/.test(c.reason ?? '')))) {
    const cmdline = (c.cmdline ?? []).includes('module.sig_enforce=1');
    // module.sig_enforce exists only where the kernel can check signatures (CONFIG_MODULE_SIG)
    const by = [...(f?.sigForce ? ['CONFIG_MODULE_SIG_FORCE=y'] : []), ...(cmdline && f?.moduleSig !== false ? ['module.sig_enforce=1 on its command line'] : [])];
    if (!by.length) return undefined;
    return { because: `this kernel enforces module signatures (${by.join(', ')}) and the module is unsigned`, class: refine('load:signature', ['load:other']) };
  }
  return undefined;
}

/**
 * A finished cell's class and reason, as its result keeps them: classify()'s
 * class (a build's log can tell more than its first error), then the kernel's
 * cause where its facts give one — after the cell's own reason, " — " between.
 */
export function classAndCause(r: Classifiable & Pick<CauseInput, 'driver' | 'kernel' | 'cmdline'>, logs: LogTexts = {}): { class?: FailureClass; reason?: string } {
  const cls = classify(r, logs);
  const cause = kernelCause({ ...r, class: cls });
  return { class: cause?.class ?? cls, reason: cause ? `${r.reason} — ${cause.because}` : r.reason };
}
