// The vocabulary of kmatrix (cell, phase, status…) as types, shared by every module.
export type Arch = 'amd64' | 'arm64' | 'armhf';
export type DriverId = 'kmod' | 'ebpf' | 'modern-ebpf' | 'pdig';
export type Phase = 'fetch' | 'build' | 'boot' | 'load' | 'capture';
/** flaky: failed at load or capture, then passed when run once more (never evidence for or against a platform). */
export type Status = 'pass' | 'fail' | 'skip' | 'error' | 'flaky';
/**
 * Why a cell did not pass, from one fixed vocabulary: every fail and error
 * carries one (a skip keeps its reason). The meaning of each and classify()
 * are in harness/failures.ts; the README lists them ("Failure classes").
 */
export type FailureClass =
  | 'build:compiler' | 'build:kernel-version-check' | 'build:configure' | 'build:no-artifact' | 'build:other'
  | 'load:signature' | 'load:vermagic' | 'load:permission' | 'load:api-mismatch' | 'load:verifier' | 'load:verifier-limit' | 'load:btf'
  | 'load:unsupported-map' | 'load:kernel-version-check' | 'load:mmap' | 'load:timeout' | 'load:other'
  | 'capture:no-marker' | 'capture:wrong-params' | 'capture:missing-events' | 'capture:corrupt-event' | 'capture:workload-incomplete' | 'capture:drops' | 'capture:consumer-died' | 'capture:timeout' | 'capture:other'
  | 'kernel:oops' | 'control:accepted' | 'pairing:schema-mismatch'
  | 'infra:boot-timeout' | 'infra:boot-crash' | 'infra:boot-module' | 'infra:boot-no-console' | 'infra:qemu-died' | 'infra:tool' | 'infra:fetch' | 'infra:consumer-build' | 'infra:harness' | 'infra:other';

export const DRIVERS: DriverId[] = ['kmod', 'ebpf', 'modern-ebpf', 'pdig'];
export const PHASES: Phase[] = ['fetch', 'build', 'boot', 'load', 'capture'];

/**
 * Where a kernel comes from, as matrix.yaml gives it: the kind (debian, debs,
 * mainline, store, … — one module each under harness/kernels/) and that
 * kind's settings, which its module types and reads.
 */
export interface KernelSourceSpec {
  kind: string;
}

export interface KernelSpec {
  id: string;
  arch: Arch;
  machine: string;
  source: KernelSourceSpec;
  /** Boot this image instead of the package's (same headers): a patched or broken kernel. */
  image?: string;
  /**
   * Boot from a Pi-style SD card built from Debian packages: the GPU firmware
   * (this package), the kernel and its DTBs on the FAT partition, a root
   * partition; QEMU gets the card with -sd, kernel and DTB read back from it.
   */
  sdcard?: { firmware: { suite: string; package: string } };
  line?: number;
}

export type ConsumerKind = 'sysdig' | 'scap-open' | 'falco';

export interface ConsumerSpec {
  id: string;
  kind: ConsumerKind;
  /** sysdig: a Debian binary package (with its dependency closure). */
  debian?: { suite: string; package: string };
  /**
   * scap-open: built in a builder root of `suite` from a libs tree — a Debian
   * falcosecurity-libs source package, or a git commit (with `driver`: another
   * commit's driver/ over its own, whose modern probe is then built in).
   */
  libs?: { suite: string; package?: string; git?: GitPin; driver?: GitPin; modern: boolean };
  /** Falco itself, built from git: Falco, the libs it builds against, the driver tree (FALCOSECURITY_LIBS_SOURCE_DIR, DRIVER_SOURCE_DIR). */
  falco?: FalcoBuildSpec;
  /** sysdig: built from a git commit (userspace from before the libs split) in a builder root of `suite`. */
  git?: GitPin & { suite: string };
  /** Drivers the consumer's libscap can open (Debian's builds never have modern_bpf). */
  engines: DriverId[];
  /** The consumer's libscap minimum driver versions (SCAP_MINIMUM_DRIVER_{API,SCHEMA}_VERSION). */
  requires: { api: string; schema: string };
}

export interface FalcoBuildSpec {
  git: GitPin;
  libs: GitPin;
  driver: GitPin;
  /** The Debian suite whose builder root builds it (and whose packages its guest gets). */
  suite: string;
  /** What `falco --version` says (a shallow checkout has no tags: FALCO_VERSION). */
  version: string;
}

export interface GitPin {
  url: string;
  /** A full 40-hex commit id. */
  commit: string;
  /**
   * Paths left out of the checkout (e.g. Falco's proposals/): fetched as a
   * partial clone (blobs on demand) with a sparse checkout, so their blobs are
   * never downloaded — online that spares documents and charts, and a mirror
   * that lacks one of them still serves the commit.
   */
  exclude?: string[];
}

export interface SourceSpec {
  id: string;
  /** A Debian falcosecurity-scap-dkms package: a ready-configured driver tree. */
  debian?: { suite: string; package: string };
  /** A local driver tree (configured: driver_config.h present). */
  dir?: string;
  /** A git commit: its driver/ tree, configured as its CMake does; or, with libs, pdig's tree. */
  git?: GitPin;
  /**
   * The name a git driver tree is configured with — its module (<name>.ko)
   * and device (/dev/<name>0): libs' CMake says scap, Falco's says falco.
   */
  name?: string;
  /** The libs tree a git source builds against (pdig's FALCO_LIBS_DIR). */
  libs?: GitPin;
  /** pdig: the source whose kernel module pdig's cost is measured against (default: its own libs tree). */
  compareKmod?: SourceSpec;
  consumer: string;
  /** Another consumer for some drivers (e.g. modern-ebpf needs a libscap built with it). */
  consumers?: Partial<Record<DriverId, string>>;
}

export interface ProfileSpec {
  id: string;
  description?: string;
  /** Added to the guest kernel command line (e.g. module.sig_enforce=1). */
  cmdline?: string[];
  /** If set, the driver steps run as root with only these capabilities (bounding set). */
  capabilities?: string[];
}

export interface Timeouts {
  boot: number;
  load: number;
  capture: number;
}

export interface Cell {
  id: string;
  kernel: KernelSpec;
  driver: DriverId;
  source: SourceSpec;
  consumer: ConsumerSpec;
  profile: ProfileSpec;
  /** A negative control (harness/controls.ts): the module is built for this kernel (A) and inserted into `kernel` (B). */
  control?: { from: KernelSpec };
}

/** A kernel's facts that decide whether a driver can work on it, from its .config and version (harness/kernels/features.ts). */
export interface KernelFeatures {
  /** CONFIG_BPF_SYSCALL. */
  bpf: boolean;
  /** CONFIG_DEBUG_INFO_BTF: the kernel's BTF (/sys/kernel/btf/vmlinux). */
  btf: boolean;
  /** The BPF ring buffer (5.8). */
  ringbuf: boolean;
  /** BTF-enabled raw tracepoints, BPF_TRACE_RAW_TP (5.5, with BTF). */
  btfTracing: boolean;
  /** BPF raw tracepoints (4.17). */
  rawTracepoints: boolean;
  /** CONFIG_MODULE_SIG, CONFIG_MODULE_SIG_FORCE. */
  moduleSig: boolean;
  sigForce: boolean;
}

/** The builder root and tools that built a driver: Debian package names and versions. */
export interface Toolchain {
  /** The builder root's suite (`+cross <arch>` for a cross build). */
  suite: string;
  /** Whose build: the driver's own (kmod, probe, pdig), or its consumer's (modern eBPF is built into it). */
  by: 'driver' | 'consumer';
  /** The compiler of the driver's code, e.g. `gcc-12 12.2.0-14`, `clang-19 1:19.1.7-3`. */
  compiler?: string;
  /** Modern eBPF: the skeleton's bpftool and the libbpf linked in (`libbpf-dev 1:1.5.0-3 (Debian's)`, or bundled). */
  bpftool?: string;
  libbpf?: string;
}

/** What a negative control's result keeps: whose module, and whether the kernel refused it (with the kernel's words). */
export interface ControlFacts {
  /** Kernel A, the module's. */
  from: string;
  /** A's `uname -r`. */
  fromRelease?: string;
  /** A's arch (another than B's: the control crossed architectures; results before it: the same). */
  fromArch?: Arch;
  /** true: the kernel refused the module; false: it accepted it; absent: insmod never answered. */
  refused?: boolean;
  /** The refusal (or acceptance) in the kernel's and insmod's words. */
  message?: string;
}

export interface Versions {
  api: string;
  schema: string;
}

export interface CellResult {
  id: string;
  kernel: {
    id: string;
    release?: string;
    version?: string;
    arch: Arch;
    machine: string;
    package?: string;
    /** The compiler the kernel records, and the builder root (suite, compiler package) that built its drivers. */
    compiler?: string;
    builder?: string;
    /** Booted from a Pi SD card: what the guest saw of it. */
    sdcard?: { partitions: string[]; rootMounted: boolean };
    /** The kernel's own modules the guest inserted before anything else (its console driver, KMATRIX_GUEST_MODULES), in order. */
    guestModules?: string[];
    /** The kernel image package's version (Debian's, e.g. 6.1.158-1; a store or mainline kernel's own). */
    packageVersion?: string;
    /** What its build tree says the drivers can use (harness/kernels/features.ts). */
    features?: KernelFeatures;
    /** How QEMU entered it: the bzImage's ELF at its PVH entry (harness/images/pvh.ts), or the image as packaged. */
    boot?: 'pvh' | 'image';
  };
  /** What built the cell's driver (harness/toolchain.ts). */
  toolchain?: Toolchain;
  driver: { id: DriverId; source: string; version?: string; api?: string; schema?: string };
  consumer?: { id: string; kind?: ConsumerKind; version?: string };
  profile: string;
  status: Status;
  phase?: Phase;
  reason?: string;
  firstError?: string;
  /** Why it did not pass (fail and error; harness/failures.ts): set where the result is finalized (run.ts). */
  class?: FailureClass;
  evidence?: {
    events: number;
    marker: boolean;
    lines?: string[];
    /** pdig: was the marker opened by a process pdig does not trace captured (it must not be)? */
    untracedMarker?: boolean;
    /** The timed syscall loop: untraced, and with drivers capturing (pdig cells). */
    overhead?: Overhead;
    /** The consumer's warnings when it passed with them. */
    warnings?: string[];
    /** Falco as the consumer: its alert, start-up time and counters. */
    falco?: FalcoEvidence;
    /** The battery's calls checked against the consumer's events (consumers that print parameters). */
    battery?: BatteryResult;
    /** The soak: seconds of mixed workload while the consumer captured. */
    soak?: SoakResult;
  };
  durations: Partial<Record<Phase, number>>;
  logs: Partial<Record<'build' | 'console', string>>;
  attempts: number;
  findings?: string[];
  /** Kernel panic / Oops / BUG / WARN text seen on the console while the driver loaded or captured. */
  oops?: string;
  /** A cell run twice (it failed at load or capture): each run's outcome, the first's logs under first-run/. */
  runs?: { status: Status; phase?: Phase; reason?: string; firstError?: string; class?: string; logs?: CellResult['logs'] }[];
  /** A negative control: never driver evidence (harness/controls.ts). */
  control?: ControlFacts;
}

/** One call of the battery: its events found, each checked parameter as expected and as seen. */
export interface BatteryCallResult {
  seq: number;
  call: string;
  status: 'right' | 'wrong' | 'missing';
  fields: { field: string; expected: string; seen: string }[];
  /** false: the consumer shows enter events, but not this call's. */
  enter?: boolean;
}

/** The battery of one cell: calls right / wrong / missing, and the first problem. */
export interface BatteryResult {
  right: number;
  wrong: number;
  missing: number;
  /** Whether the consumer shows enter events at all (newer libs put their parameters in the exit event). */
  enterEvents?: boolean;
  calls: BatteryCallResult[];
  firstProblem?: string;
  /** Seconds it took in the guest, until the consumer had printed its last call. */
  seconds?: number;
  /** The battery program's exit status in the guest. */
  rc?: number;
  /** Why the guest's script output is not the whole fixed script with exit 0 (harness/battery.ts BATTERY_SCRIPT). */
  scriptProblem?: string;
}

/** The soak of one cell: the battery runs, the events the consumer printed meanwhile, its parse errors (distinct lines). */
export interface SoakResult {
  seconds: number;
  runs: number;
  events: number;
  parseErrors: number;
  /** Whether the consumer was still running at the soak's end (init.sh's `soak … alive=`). */
  alive?: boolean;
}

/** What a Falco cell keeps of Falco's run. */
export interface FalcoEvidence {
  /** The marker rule's alert, the JSON line as Falco printed it. */
  alert?: string;
  /** Seconds from Falco's start until it opened the syscall source (the guest's quarter-second clock). */
  startupSeconds?: number;
  /** At exit (-v): the driver's event and drop counts, Falco's drop monitor, its alerts. */
  driverEvents?: number;
  driverDrops?: number;
  dropsDetected?: number;
  alerts?: number;
}

/** The syscall loop (COUNT openat/close) timed in one guest: untraced, with kmod capturing, under pdig. */
export interface Overhead {
  count: number;
  untracedNs?: number;
  kmodNs?: number;
  pdigNs?: number;
  /** pdigNs / kmodNs: how many times slower pdig is than the kernel module here. */
  pdigVsKmod?: number;
  /** pdigNs / untracedNs and kmodNs / untracedNs. */
  pdigSlowdown?: number;
  kmodSlowdown?: number;
  /** Why a figure is missing (e.g. the kernel module did not build here). */
  notes?: string[];
}


// What the phases fetch and build — shared by kernel sources, drivers, consumers, images and backends.

/** A Debian package downloaded into the cache. */
export interface PackageFile {
  name: string;
  version: string;
  file: string;
  sha256: string;
}

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
  /** The image's ELF for QEMU's PVH entry, where the machine boots one and the kernel has it (images/pvh.ts). */
  pvh?: string;
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
  /** What its .config says the drivers can use (set by fetchKernel; none for a box). */
  features?: KernelFeatures;
}

/** Which Debian suite's root builds drivers for a kernel, with which compiler package. */
export interface BuilderChoice {
  suite: string;
  /** The compiler package (native name), e.g. gcc-11 or clang-14. */
  compiler: string;
  /** Set when no suite has the kernel's own compiler: what was used instead, and why. */
  substitution?: string;
  /** Set when the kernel's compiler is another distribution's build of that major (Red Hat's, Ubuntu's): Debian's builds its drivers. */
  vendor?: string;
  /**
   * The kernel's tree calls its compiler by the plain name (`gcc`,
   * `<triplet>-gcc`: a self-built tree); builds then find the chosen one under it.
   * Debian's trees name the versioned compiler themselves.
   */
  plainName?: boolean;
}

/** A Vagrant box, pinned. */
export interface BoxRef {
  name: string;
  version: string;
  local: boolean;
}

/** A driver source fetched: its tree and what it declares. */
export interface DriverTree {
  /** The driver dir (kmod sources at top, legacy probe in bpf/). */
  dir: string;
  version: string;
  versions: Versions;
  origin: string;
  /** A pdig source: pdig's checkout and the libs checkout it builds against. */
  pdig?: { tree: string; libs: string };
}

/** A consumer ready for a guest. */
export interface ConsumerAssets {
  image: GuestImage;
  /** Files added to the guest (guest path → host path), e.g. a built scap-open. */
  files: Record<string, string>;
  version: string;
  /** For scap-open: the openat exit event number of its libs (printed with --evt_type). */
  openatExit?: number;
  /** The builder root it was built in (none for Debian's binaries): the toolchain of a modern probe built into it. */
  builder?: { suite: string; root: string; cross?: Arch };
}

/** A guest's base initramfs (harness/images/guest.ts). */
export interface GuestImage {
  /** Uncompressed newc cpio: busybox + the consumer's dependency closure. */
  cpio: string;
  packages: { name: string; version: string }[];
}

export interface RunInfo {
  id: string;
  startedAt: string;
  finishedAt?: string;
  host: string;
  accel: string;
  kmatrixVersion: string;
  matrix: { path: string; hash: string };
  mirror: string;
  /** Suites read with an expired Release file accepted (an explicit matrix setting). */
  expiredSuitesAccepted: string[];
  /** A shard of a sharded run (`run --shard i/N`): which cells it was given, and of what selection (count, hash of the ids). */
  shard?: { index: number; total: number; cells: string[]; of?: { cells: number; hash: string } };
  /** Stopped by SIGINT/SIGTERM: the cells it did not finish are missing (`kmatrix run --resume <id>`). */
  interrupted?: boolean;
  /** When this run was resumed. */
  resumedAt?: string[];
}

/** The typed stream the runner emits; UI, results writer and reporters consume it. */
export type RunEvent =
  | { type: 'run-start'; run: RunInfo; cells: string[]; resume?: boolean }
  | { type: 'phase-start'; cell: string; phase: Phase }
  | { type: 'phase-end'; cell: string; phase: Phase; ok: boolean; seconds: number; detail?: string }
  | { type: 'note'; cell?: string; message: string }
  | { type: 'cell-end'; result: CellResult }
  | { type: 'run-end'; run: RunInfo; results: CellResult[] }
  /** A heavy build in the background slot (harness/early.ts): started, or done (its cells may start). */
  | { type: 'build'; name: string; state: 'start' | 'end'; seconds?: number };
