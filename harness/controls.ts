// Negative controls: the kernel module built for one kernel (A) inserted into
// another kernel (B): of the same arch (another version), or, with
// `crossArch: true`, of another arch (the same version line). The kernel must
// refuse it (vermagic, symbol versions, a foreign ELF machine): a recognised
// refusal is the control's pass, an accepted module its failure, and any other
// insmod failure (no such file, EPERM, ENOMEM, a truncated file) an error: no
// evidence. A control is never evidence for a driver: the verdicts set controls
// aside everywhere but in the claim `kmod-tied-to-kernel`, which they decide.
import type { GuestReport, GuestVerdict } from './guest.js';
import type { Arch, CellResult, ControlFacts, KernelSpec, ProfileSpec } from './types.js';

/** The profile segment of a control's id: `<B>/kmod@<source>/control-from-<A>`. */
export const CONTROL_PREFIX = 'control-from-';

/** matrix.yaml `controls:` — which driver sources get controls, and optionally which kernels B. */
export interface ControlsSpec {
  sources: string[];
  /** The kernels B (default: the Debian kernels of the matrix entries, in matrix order). */
  kernels?: string[];
  /** Also, per arch, one kernel B gets the module of a kernel of another arch of the same version line. */
  crossArch?: boolean;
}

/** A control's profile: the host's (root, no extra kernel arguments), named for the module's kernel. */
export function controlProfile(from: string, fromArch?: Arch): ProfileSpec {
  const arch = fromArch ? ` (${fromArch}: another architecture)` : '';
  return { id: `${CONTROL_PREFIX}${from}`, description: `negative control: the kernel module built for ${from}${arch}, inserted into this kernel; it must be refused` };
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

/** The same kernel line on another arch: the same source but for its flavour/arch (e.g. bookworm amd64 and bookworm arm64). */
function line(k: KernelSpec): string {
  const { flavour: _f, arch: _a, ...rest } = k.source as unknown as Record<string, unknown>;
  return JSON.stringify([rest, k.image ?? null]);
}

/** What a control crossed: the kernel version (same arch), or the architecture. */
export type Crossed = 'version' | 'arch';

/**
 * The pairs (B, A) of controls among kernels in matrix order: the same kernel
 * booted on several machines counts once (its first entry), and each kernel B
 * gets its module from the kernel of its arch before it (the first from the
 * last: wrapping). A kernel alone in its arch gets none. With `crossArch`,
 * also, per arch, its first kernel B that has a kernel of the same line on
 * another arch gets that kernel's module (the first such, in matrix order):
 * only the architecture differs.
 */
export function controlPairs(kernels: KernelSpec[], crossArch = false): { kernel: KernelSpec; from: KernelSpec; crossed: Crossed }[] {
  const seen = new Set<string>();
  const distinct = kernels.filter((k) => {
    const id = identity(k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const versions = distinct.flatMap((kernel) => {
    const same = distinct.filter((k) => k.arch === kernel.arch);
    if (same.length < 2) return [];
    const from = same[(same.indexOf(kernel) - 1 + same.length) % same.length]!;
    return [{ kernel, from, crossed: 'version' as const }];
  });
  if (!crossArch) return versions;
  const arches = [...new Set(distinct.map((k) => k.arch))];
  const arch = arches.flatMap((a) => {
    for (const kernel of distinct.filter((k) => k.arch === a)) {
      const from = distinct.find((k) => k.arch !== a && line(k) === line(kernel));
      if (from) return [{ kernel, from, crossed: 'arch' as const }];
    }
    return [];
  });
  return [...versions, ...arch];
}

/** dmesg's timestamp prefix. */
const STAMP = /^\[\s*\d+\.\d+\]\s*/;
/** How the kernel (dmesg) says a module is not its own: built for another version, or another machine. */
const KERNEL_REFUSAL = /version magic|disagrees about version of symbol|no symbol version for|Unknown symbol|Invalid architecture in ELF header|module_layout/i;
/** How insmod (busybox or kmod) words ENOEXEC, the kernel's answer to a module that is not its own. */
const INSMOD_REFUSAL = /invalid module format|Exec format error/i;
/**
 * How the kernel says a module file is broken (truncated, not an ELF object):
 * also ENOEXEC, but a corrupt file is not a foreign module.
 */
const BROKEN = /Invalid ELF header (len|magic|type)|Module len \d+ truncated|Invalid ELF section header|not an ELF/i;

const kernelLines = (r: Pick<GuestReport, 'logs'>): string[] => (r.logs.dmesg ?? '').split('\n').map((l) => l.trim().replace(STAMP, ''));
const insmodLines = (r: Pick<GuestReport, 'logs'>): string[] => (r.logs.insmod ?? '').split('\n').map((l) => l.trim()).filter(Boolean);

/** The lines where the kernel (dmesg) and insmod say why the module was refused, the kernel's first. */
export function refusalLines(r: Pick<GuestReport, 'logs'>): string[] {
  const kernel = kernelLines(r).filter((l) => KERNEL_REFUSAL.test(l));
  const insmod = insmodLines(r).filter((l) => INSMOD_REFUSAL.test(l));
  return [...new Set([...kernel.slice(0, 5), ...insmod.slice(0, 3)])];
}

/**
 * Whether insmod's failure is the kernel refusing a module built for another
 * kernel: the kernel's own words in dmesg, or insmod's ENOEXEC words when the
 * kernel did not say the file itself is broken. Anything else (a missing file,
 * EPERM, ENOMEM, a truncated module) is not.
 */
export function isRefusal(r: Pick<GuestReport, 'logs'>): boolean {
  if (kernelLines(r).some((l) => KERNEL_REFUSAL.test(l))) return true;
  return insmodLines(r).some((l) => INSMOD_REFUSAL.test(l)) && !kernelLines(r).some((l) => BROKEN.test(l));
}

/**
 * A control's verdict from what the guest reported: insmod refused with a
 * recognised refusal → pass at load (B refused A's module), in the kernel's
 * words; insmod failed otherwise → error at load (no evidence), in insmod's
 * words; insmod succeeded → fail at load (B accepted it). Anything else (no
 * boot, a crash, no answer from insmod) keeps the ordinary verdict:
 * infrastructure, or a failure that says nothing about the module's tie to
 * its kernel.
 */
export function judgeControl(r: GuestReport, v: GuestVerdict, b: string, a: { id: string; release?: string; arch?: Arch }): { verdict: GuestVerdict; control: ControlFacts } {
  const control: ControlFacts = { from: a.id, ...(a.release ? { fromRelease: a.release } : {}), ...(a.arch ? { fromArch: a.arch } : {}) };
  if (v.status === 'error' || !r.insmod || Number.isNaN(r.insmod.rc) || (r.crash && r.crash.phase !== 'boot')) return { verdict: v, control };
  const lines = refusalLines(r);
  const built = `a kernel module built for ${a.id}${a.release ? ` (${a.release})` : ''}`;
  const into = `${b}${r.boot?.release ? ` (${r.boot.release})` : ''}`;
  const none = { events: 0, marker: false, lines, oops: v.oops };
  if (r.insmod.rc !== 0 && isRefusal(r)) {
    const message = lines[0]!;
    return { verdict: { status: 'pass', phase: 'load', reason: `${into} refused ${built}: ${message}`, ...none }, control: { ...control, refused: true, message } };
  }
  if (r.insmod.rc !== 0) {
    // insmod's words first, then what the kernel said of the file
    const said = [...insmodLines(r).slice(0, 3), ...kernelLines(r).filter((l) => BROKEN.test(l)).slice(0, 2)];
    const message = said[0] ?? `insmod exit ${r.insmod.rc}, with no words`;
    return {
      verdict: { status: 'error', phase: 'load', reason: `the control's insmod failed (exit ${r.insmod.rc}) without refusing the module as another kernel's: ${message}`, events: 0, marker: false, lines: said, oops: v.oops },
      control: { ...control, message },
    };
  }
  const message = kernelLines(r).find((l) => l && !/^insmod/.test(l) && KERNEL_REFUSAL.test(l));
  return {
    verdict: { status: 'fail', phase: 'load', reason: `kernel ${into} accepted ${built} (insmod exit 0): the load phase cannot tell a foreign module`, ...(message ? { firstError: message } : {}), ...none },
    control: { ...control, refused: false, ...(message ? { message } : {}) },
  };
}
