// Failure classes: one fixed vocabulary for why a cell did not pass, so that a
// run's failures can be counted, filtered and expected by kind ("the verifier
// refused it") rather than by their words. Every fail and error gets one,
// computed from what the result already says (status, phase, reason, first
// error, oops) and, where the first error says too little, the build log's
// lines. The rules were written against real runs' results and build logs
// (test/unit/failures.test.ts quotes the lines).
import type { CellResult, FailureClass } from './types.js';

/** The vocabulary, each with its meaning (what the README lists). */
export const FAILURE_CLASSES: Record<FailureClass, string> = {
  'build:compiler': "the compiler or linker rejected the driver's code (an `error:` line, modpost)",
  'build:kernel-version-check': "the legacy eBPF probe's own check refused the kernel (\"Kernel version must be >= 4.14 with eBPF enabled\")",
  'build:configure': "a configure step failed before compiling (the probe's configure sanity check, CMake's configure)",
  'build:no-artifact': 'make exited 0 but built no module or probe',
  'build:other': 'the build failed with no line that says why',
  'load:signature': 'the kernel refused an unsigned module (module.sig_enforce, lockdown: "Key was rejected by service", "Required key not available")',
  'load:vermagic': 'the module is not for this kernel ("Invalid module format", vermagic, "disagrees about version of symbol", unknown symbols)',
  'load:permission': 'the driver needs a capability the profile lacks ("Operation not permitted", EPERM)',
  'load:api-mismatch': "the consumer refused the driver's API or schema version",
  'load:verifier': 'the BPF verifier rejected a program (its reason in the first error)',
  'load:verifier-limit': 'the BPF verifier gave up: program too large, instruction or complexity limit',
  'load:btf': "BTF / CO-RE: libbpf could not read the kernel's BTF or relocate a field for it",
  'load:unsupported-map': 'the kernel lacks a BPF map type the driver needs (e.g. "ring buffer map type is not supported" below 5.8)',
  'load:kernel-version-check': 'the driver or its consumer refused the kernel as too old when loading or opening ("Kernel version must be >= 4.14", "requires \'raw_tracepoints\' so kernel versions greater or equal than \'4.17\'")',
  'load:mmap': "mapping the driver's buffer failed (\"unable to mmap the perf-buffer\": Cannot allocate memory, Invalid argument)",
  'load:timeout': 'no answer from the guest before the load timeout (insmod or the consumer hung, or was very slow)',
  'load:other': 'the driver did not load or open, for another reason (the first error says which)',
  'capture:no-marker': 'the driver captured events, but not the marker system call',
  'capture:wrong-params': "the battery's calls were captured with wrong parameters (\"battery: write #3: size expected 29, saw 64\")",
  'capture:missing-events': "some of the battery's calls (or their enter events) were not captured at all",
  'capture:corrupt-event': 'the consumer could not parse what the driver wrote ("corrupted filler", "could not parse param")',
  'capture:workload-incomplete': 'the guest did not run the whole workload: the battery stopped short of its fixed script or exited non-zero ("battery: stopped after 7 of 20 calls (exit 1)"), no battery reported, or a soak with no run',
  'capture:drops': "the driver dropped more of its events than the matrix allows (`workload.maxDropRatio`; Falco's `Driver Drops`)",
  'capture:consumer-died': 'the consumer crashed or was killed by a signal (while capturing, during the battery or the soak)',
  'capture:timeout': 'no answer from the guest before the capture timeout',
  'capture:other': 'the capture failed for another reason',
  'kernel:oops': 'a kernel panic, Oops, BUG or WARNING while the driver loaded or captured',
  'control:accepted': "a negative control's kernel accepted a module built for another kernel",
  'pairing:schema-mismatch': "the matrix paired the driver with a tree or consumer of another event schema (pdig: \"corrupted filler … should have added …\", its own fillers against the event table it was built with): never evidence for or against the driver",
  'infra:boot-timeout': 'the guest did not reach init before the boot timeout',
  'infra:boot-crash': 'the kernel crashed before init, before any driver was loaded',
  'infra:boot-module': "a module of the kernel the guest needs (its serial console driver, one KMATRIX_GUEST_MODULES names) is not in the kernel, or did not load in the guest",
  'infra:boot-no-console': "the guest ended (powered off, or the kernel died) without init's report reaching the serial console: the kernel has no driver for it, or its console is on another port",
  'infra:qemu-died': 'QEMU exited or was ended from outside',
  'infra:tool': 'a tool of the harness did not run (build sandbox, compiler killed, libvirt, Vagrant, SD card image, the VM runner)',
  'infra:fetch': 'fetching the kernel, the driver source or the guest failed (mirror, download, git)',
  'infra:consumer-build': "the consumer (not the driver) did not build",
  'infra:harness': 'a bug of the harness ("harness error: …")',
  'infra:other': 'another infrastructure error',
};

export const FAILURE_CLASS_NAMES = Object.keys(FAILURE_CLASSES) as FailureClass[];

export function isFailureClass(s: unknown): s is FailureClass {
  return typeof s === 'string' && Object.hasOwn(FAILURE_CLASSES, s);
}

/**
 * Failures deterministic by nature: the same code, kernel and profile fail the
 * same way every time, so a cell failing so is run once (a second run would
 * double its time to learn nothing), listed in expectations.yaml or not.
 */
export const DETERMINISTIC_CLASSES: ReadonlySet<FailureClass> = new Set<FailureClass>([
  ...FAILURE_CLASS_NAMES.filter((c) => c.startsWith('build:')),
  'load:signature', 'load:vermagic', 'load:api-mismatch', 'load:verifier', 'load:verifier-limit', 'load:btf', 'load:unsupported-map',
  'load:kernel-version-check',
]);

/** A kernel panic, Oops, BUG or WARNING while the driver ran: never run again, never flaky (the first run's failure stands). */
export function isKernelCrash(r: Classifiable & { class?: string }): boolean {
  return r.status === 'fail' && (Boolean(r.oops) || classOf(r) === 'kernel:oops');
}

/** A failure worth one more run to tell an intermittent fault: at load or capture, no kernel crash, of no deterministic class. */
export function mayBeIntermittent(r: Classifiable & { class?: string }): boolean {
  if (r.status !== 'fail' || (r.phase !== 'load' && r.phase !== 'capture') || isKernelCrash(r)) return false;
  const cls = classOf(r);
  return !(isFailureClass(cls) && DETERMINISTIC_CLASSES.has(cls));
}

/** What classify() reads of a result. */
export type Classifiable = Pick<CellResult, 'status' | 'phase' | 'reason' | 'firstError' | 'oops'>;

/** Log texts that can tell more than the first error (the cell's build.log). */
export interface LogTexts {
  build?: string;
}

// The rules: each a pattern over the first error and the reason, in order (the first that matches wins).
// (and, since libs 0.15 on arm64: "The CAPTURE_SCHED_PROC_FORK support requires 'raw_tracepoints' so kernel versions greater or equal than '4.17'")
const KERNEL_VERSION_CHECK = /Kernel version must be >= ?\d|requires 'raw_tracepoints' so kernel versions greater or equal than/;
const NO_ARTIFACT = /make exited 0 but built no /;
const CONFIGURE = /configure sanity check failed|build system is broken|CMake Error|Configuring incomplete/i;
const COMPILER = /\berror:|^ERROR: modpost:|\bmodpost: .*undefined|undefined reference to|fatal error/m;

const SIGNATURE = /Key was rejected by service|Required key not available|module verification failed|Loading of unsigned module|unsigned module loading is restricted|Lockdown: .*module/i;
const VERMAGIC = /Invalid module format|disagrees about version of symbol|wrong symbol version|version magic|vermagic|no symbol version for|Unknown symbol|Exec format error/i;
const API_MISMATCH = /API version mismatch|schema version mismatch|Driver supports (API|schema) version|(API|schema) version .*(incompatible|not compatible)/i;
const BTF = /CO-RE relocation|target BTF|kernel BTF|vmlinux BTF|BTF is required|failed to (load|find|parse) .*\bBTF\b/i;
const VERIFIER_LIMIT = /program is too large|too many instructions|instruction limit|insn limit|is too complex|complexity limit|processed \d+ insns? \(limit \d+\)\s*$/i;
/** The verifier's reason in the first error: " — <reason>" (guest.ts), or "(verifier: …)" of results before it. */
const VERIFIER_REASON = /\s—\s\S|\(verifier: /;
const PERMISSION = /Operation not permitted|\bEPERM\b|errno: 1 \||failed to load: -1$|\berr=1\b|must be root|requires? (CAP_|root)/i;
const VERIFIER = /BPF program load failed|prog '[^']*': failed to load|bpf_load_program\(\) err=|invalid mem access|\bverifier\b/i;
const UNSUPPORTED_MAP = /map type is not supported|map type .*(unsupported|not supported)|BPF_MAP_TYPE_\w+ .*not supported/i;
const MMAP = /unable to mmap|\bmmap\b.*(failed|Cannot allocate memory|Invalid argument)|Cannot allocate memory/i;
/**
 * pdig's own filler check (pdig_compat.c): its fillers (udig_procs.c) added
 * another count of parameters than the event table of the tree it was built
 * with declares. A kernel module's fillers and table come from one tree: the
 * same words there would be the driver's bug, so only judge()'s attribution
 * (PAIRING_NOTE in the reason, pdig cells) makes it a pairing.
 */
export const SCHEMA_MISMATCH = /corrupted filler for event type \d+ \(added \d+ args, should have added \d+\)/;
export const PAIRING_NOTE = "pdig's fillers and the event table of the tree it was built with disagree: a pairing of two event schemas";
const CORRUPT_EVENT = /corrupted filler|could not parse param|could not be parsed|buffer corruption|corrupt(ed)? (event|param)|invalid event|unexpected parameter/i;
/** The battery's verdict (guest.ts): "… has N call(s) wrong and M missing", its first problem "battery: write #3: size expected 29, saw 64". */
const BATTERY = /the battery has (\d+) call\(s\) wrong and (\d+) missing/;
const WRONG_PARAMS = /^battery: .* expected .*, saw |wrong param/i;
/** guest.ts: "marker seen, but the driver dropped N of M event(s) (…), above workload.maxDropRatio 1%". */
const DROPS = /^marker seen, but the driver dropped \d+ of/;
/** guest.ts: the battery cut short or not reported, the soak not run. */
const WORKLOAD_INCOMPLETE = /^marker seen, but (the battery did not run its whole script|the guest reported no (battery|soak)|the soak ran no battery)/;

/** The class of a build failure from a line (its first error), or undefined. */
function buildClass(text: string): FailureClass | undefined {
  if (KERNEL_VERSION_CHECK.test(text)) return 'build:kernel-version-check';
  if (NO_ARTIFACT.test(text)) return 'build:no-artifact';
  if (CONFIGURE.test(text)) return 'build:configure';
  if (COMPILER.test(text)) return 'build:compiler';
  return undefined;
}

/** The class of a driver that did not load or open, from its first error (and the reason), or undefined. */
function loadClass(text: string): FailureClass | undefined {
  if (KERNEL_VERSION_CHECK.test(text)) return 'load:kernel-version-check';
  if (SIGNATURE.test(text)) return 'load:signature';
  if (VERMAGIC.test(text)) return 'load:vermagic';
  if (API_MISMATCH.test(text)) return 'load:api-mismatch';
  if (BTF.test(text)) return 'load:btf';
  if (VERIFIER_LIMIT.test(text)) return 'load:verifier-limit';
  if (VERIFIER_REASON.test(text) && VERIFIER.test(text)) return 'load:verifier';
  if (PERMISSION.test(text)) return 'load:permission';
  if (VERIFIER.test(text)) return 'load:verifier';
  if (UNSUPPORTED_MAP.test(text)) return 'load:unsupported-map';
  if (MMAP.test(text)) return 'load:mmap';
  return undefined;
}

function infraClass(reason: string): FailureClass {
  if (/before the boot timeout|boot timed out|vagrant up did not finish within/.test(reason)) return 'infra:boot-timeout';
  if (/kernel crashed before init/.test(reason)) return 'infra:boot-crash';
  if (/^the guest ended without init's report on the console/.test(reason)) return 'infra:boot-no-console';
  if (/^guest modules:|^the guest could not load the kernel's module/.test(reason)) return 'infra:boot-module';
  if (/\bQEMU (exited|was ended)/.test(reason)) return 'infra:qemu-died';
  if (/^harness error:/.test(reason)) return 'infra:harness';
  if (/^fetch failed:/.test(reason)) return 'infra:fetch';
  if (/^the consumer did not build/.test(reason)) return 'infra:consumer-build';
  if (/infrastructure failed|SD card image failed|libvirt could not be started|vagrant up failed|vagrant ssh ended|did not start|was killed|timed out|sandbox/i.test(reason)) return 'infra:tool';
  return 'infra:other';
}

/**
 * The class of a cell that did not pass (undefined for a pass or a skip):
 * an `error` is always `infra:*`, a `fail` never is.
 */
export function classify(r: Classifiable, logs: LogTexts = {}): FailureClass | undefined {
  // a pass, a skip (its reason says enough), any other outcome (flaky: it passed in the end)
  if (r.status !== 'fail' && r.status !== 'error') return undefined;
  const reason = r.reason ?? '';
  const first = r.firstError ?? '';
  if (r.status === 'error') return infraClass(reason);
  if (/accepted a kernel module built for/.test(reason)) return 'control:accepted';
  if (/^kernel (panic|Oops|BUG|WARNING) while|^kernel crashed/.test(reason)) return 'kernel:oops';
  if (/no result before the load timeout|no answer from insmod/.test(reason)) return 'load:timeout';
  if (/no result before the capture timeout/.test(reason)) return 'capture:timeout';
  if (/was killed by signal|^the consumer .* during the (battery|soak)$/.test(reason)) return 'capture:consumer-died';
  const text = `${first}\n${reason}`;
  if (r.phase === 'fetch' || r.phase === 'build') {
    // the first error first; then the build log's error lines, for one that says more
    return buildClass(first) ?? buildClass(reason) ?? buildClass(logLines(logs.build).join('\n')) ?? 'build:other';
  }
  // two schemas paired by the matrix: before any driver verdict on the events
  if (SCHEMA_MISMATCH.test(first) && reason.includes(PAIRING_NOTE)) return 'pairing:schema-mismatch';
  if (r.phase === 'capture') {
    if (CORRUPT_EVENT.test(text)) return 'capture:corrupt-event';
    if (DROPS.test(reason)) return 'capture:drops';
    if (WORKLOAD_INCOMPLETE.test(reason)) return 'capture:workload-incomplete';
    const battery = BATTERY.exec(reason);
    // its first problem says which (a field seen wrong, or a call or its enter event not seen); else the counts
    if (battery && /printed nothing/.test(first)) return 'capture:other';
    if (battery) return WRONG_PARAMS.test(first) ? 'capture:wrong-params' : /: no (enter )?event$/.test(first) || Number(battery[1]) === 0 ? 'capture:missing-events' : 'capture:wrong-params';
    if (WRONG_PARAMS.test(text)) return 'capture:wrong-params';
    if (/^marker not found/.test(reason)) return 'capture:no-marker';
    return loadClass(first) ?? 'capture:other';
  }
  return loadClass(text) ?? (CORRUPT_EVENT.test(text) ? 'capture:corrupt-event' : 'load:other');
}

/** A result's class: the one it carries, else computed (results written before classes existed). */
export function classOf(r: Classifiable & { class?: string }): string | undefined {
  if (r.status !== 'fail' && r.status !== 'error') return r.class;
  return r.class ?? classify(r);
}

/** The error-looking lines of a build log, without the probes' own configure chatter (what builder.ts skips too). */
function logLines(text?: string): string[] {
  return (text ?? '')
    .split('\n')
    .filter((l) => /error|must be|broken|built no/i.test(l) && !/\[configure-(kmod|bpf)\]/.test(l) && !/^expr: /.test(l))
    .slice(0, 200);
}

/** How many cells of each class (non-pass cells only), most first. */
export function classCounts(cells: (Classifiable & { class?: string })[]): [string, number][] {
  const n = new Map<string, number>();
  for (const c of cells) {
    const k = classOf(c);
    if (k) n.set(k, (n.get(k) ?? 0) + 1);
  }
  return [...n].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
