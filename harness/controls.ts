// Negative controls: the kernel module built for one kernel (A) inserted into
// another kernel (B) of the same arch. The kernel must refuse it (vermagic,
// symbol versions): a refusal is the control's pass, an accepted module its
// failure. A control is never evidence for a driver: the verdicts set controls
// aside everywhere but in the claim `kmod-tied-to-kernel`, which they decide.
import type { GuestReport, GuestVerdict } from './guest.js';
import type { CellResult, ControlFacts, KernelSpec, ProfileSpec } from './types.js';

/** The profile segment of a control's id: `<B>/kmod@<source>/control-from-<A>`. */
export const CONTROL_PREFIX = 'control-from-';

/** matrix.yaml `controls:` — which driver sources get controls, and optionally which kernels B. */
export interface ControlsSpec {
  sources: string[];
  /** The kernels B (default: the Debian kernels of the matrix entries, in matrix order). */
  kernels?: string[];
}

/** A control's profile: the host's (root, no extra kernel arguments), named for the module's kernel. */
export function controlProfile(from: string): ProfileSpec {
  return { id: `${CONTROL_PREFIX}${from}`, description: `negative control: the kernel module built for ${from}, inserted into this kernel; it must be refused` };
}

/** The module's kernel (A) a control's profile names, or undefined for any other profile. */
export function controlFromProfile(profile: string): string | undefined {
  return profile.startsWith(CONTROL_PREFIX) ? profile.slice(CONTROL_PREFIX.length) : undefined;
}

/** A control's result (older results files have only the profile to tell). */
export function isControl(c: Pick<CellResult, 'profile'> & { control?: unknown }): boolean {
  return c.control !== undefined || controlFromProfile(c.profile) !== undefined;
}

/** What makes two kernel entries the same kernel: another machine booting the same packages is not another kernel. */
function identity(k: KernelSpec): string {
  return JSON.stringify([k.arch, k.source, k.image ?? null]);
}

/**
 * The pairs (B, A) of controls among kernels in matrix order: the same kernel
 * booted on several machines counts once (its first entry), and each kernel B
 * gets its module from the kernel of its arch before it (the first from the
 * last: wrapping). A kernel alone in its arch gets none.
 */
export function controlPairs(kernels: KernelSpec[]): { kernel: KernelSpec; from: KernelSpec }[] {
  const seen = new Set<string>();
  const distinct = kernels.filter((k) => {
    const id = identity(k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return distinct.flatMap((kernel) => {
    const same = distinct.filter((k) => k.arch === kernel.arch);
    if (same.length < 2) return [];
    const from = same[(same.indexOf(kernel) - 1 + same.length) % same.length]!;
    return [{ kernel, from }];
  });
}

/** dmesg's timestamp prefix. */
const STAMP = /^\[\s*\d+\.\d+\]\s*/;
/** How a kernel says a module is not its own. */
const REFUSAL = /version magic|disagrees about version of symbol|no symbol version for|Unknown symbol|Invalid module format|invalid ELF|Exec format error|module_layout|module has bad taint|ENOEXEC/i;

/** The lines where the kernel (dmesg) and insmod say why the module was refused, the kernel's first. */
export function refusalLines(r: Pick<GuestReport, 'logs'>): string[] {
  const kernel = (r.logs.dmesg ?? '').split('\n').map((l) => l.trim().replace(STAMP, '')).filter((l) => REFUSAL.test(l));
  const insmod = (r.logs.insmod ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return [...new Set([...kernel.slice(0, 5), ...insmod.slice(0, 3)])];
}

/**
 * A control's verdict from what the guest reported: insmod failed → pass at
 * load (B refused A's module), with the kernel's words; insmod succeeded →
 * fail at load (B accepted it). Anything else (no boot, a crash, no answer
 * from insmod) keeps the ordinary verdict: infrastructure, or a failure
 * that says nothing about the module's tie to its kernel.
 */
export function judgeControl(r: GuestReport, v: GuestVerdict, b: string, a: { id: string; release?: string }): { verdict: GuestVerdict; control: ControlFacts } {
  const control: ControlFacts = { from: a.id, ...(a.release ? { fromRelease: a.release } : {}) };
  if (v.status === 'error' || !r.insmod || Number.isNaN(r.insmod.rc) || (r.crash && r.crash.phase !== 'boot')) return { verdict: v, control };
  const lines = refusalLines(r);
  const built = `a kernel module built for ${a.id}${a.release ? ` (${a.release})` : ''}`;
  const into = `${b}${r.boot?.release ? ` (${r.boot.release})` : ''}`;
  const none = { events: 0, marker: false, lines, oops: v.oops };
  if (r.insmod.rc !== 0) {
    const message = lines[0] ?? `insmod exit ${r.insmod.rc}`;
    return { verdict: { status: 'pass', phase: 'load', reason: `${into} refused ${built}: ${message}`, ...none }, control: { ...control, refused: true, message } };
  }
  const message = lines.find((l) => !/^insmod/.test(l));
  return {
    verdict: { status: 'fail', phase: 'load', reason: `kernel ${into} accepted ${built} (insmod exit 0): the load phase cannot tell a foreign module`, ...(message ? { firstError: message } : {}), ...none },
    control: { ...control, refused: false, ...(message ? { message } : {}) },
  };
}
