// A cell on its way, shared by the phases, the backends and the runner: its
// context (where it writes, how it reports), what each step hands the next
// (Fetched → Built → GuestPlan → GuestOutcome), the clock that turns phase
// boundaries into events, and CellEnd — how a step stops the cell early with
// its verdict (skip, fail, error). It sits below all of them.
import path from 'node:path';
import type { Debian } from './apt.js';
import type { CellEnv, GuestReport, GuestVerdict, JudgeExpect } from './guest.js';
import type { PiSdCard } from './images/sdcard.js';
import type { GuestModules } from './kernels/modules.js';
import type { MachineDef } from './machines.js';
import type { Cell, CellResult, ConsumerAssets, DriverTree, GuestImage, KernelTree, Phase, RunEvent, Status, Timeouts } from './types.js';

export type Sink = (e: RunEvent) => void | Promise<void>;

export interface CellContext {
  debian: Debian;
  runDir: string;
  /** The cell's own directory under the run (logs, console). */
  dir: string;
  timeouts: Timeouts;
  /** Length of the timed syscall loop (pdig cells; matrix `workload.loopCount`). */
  loopCount?: number;
  /** Seconds of the soak after the battery (matrix `workload.soakSeconds`; 0: none). */
  soakSeconds?: number;
  /** The share of events the driver may drop (matrix `workload.maxDropRatio`). */
  maxDropRatio?: number;
  /** Top-level matrix settings of the kernel kinds (kernels/index.ts). */
  kernelSettings: Record<string, unknown>;
  emit: Sink;
  attempt: number;
  /** Files added to the guest beyond the cell's own (guest path → host path). */
  guestFiles?: Record<string, string>;
}

export function cellDirName(id: string): string {
  return id.replace(/[^A-Za-z0-9._@+-]+/g, '_');
}

export function cellDir(runDir: string, id: string): string {
  return path.join(runDir, 'cells', cellDirName(id));
}

/** A phase ends the cell here: its status, reason, first error, and what it adds to the result. */
export class CellEnd extends Error {
  constructor(
    readonly status: Exclude<Status, 'pass'> | 'pass',
    readonly phase: Phase,
    readonly reason: string,
    readonly firstError?: string,
    readonly facts: CellFacts = {},
  ) {
    super(reason);
  }
}

/** What a phase learned about the cell (merged into its result field by field). */
export interface CellFacts {
  kernel?: Partial<CellResult['kernel']>;
  driver?: Partial<CellResult['driver']>;
  consumer?: CellResult['consumer'];
  logs?: CellResult['logs'];
  evidence?: CellResult['evidence'];
  oops?: string;
  toolchain?: CellResult['toolchain'];
}

export function addFacts(result: CellResult, f: CellFacts): void {
  if (f.kernel) result.kernel = { ...result.kernel, ...f.kernel };
  if (f.driver) result.driver = { ...result.driver, ...f.driver };
  if (f.consumer) result.consumer = f.consumer;
  if (f.logs) result.logs = { ...result.logs, ...f.logs };
  if (f.evidence) result.evidence = f.evidence;
  if (f.oops) result.oops = f.oops;
  if (f.toolchain) result.toolchain = f.toolchain;
}

export class PhaseClock {
  readonly durations: Partial<Record<Phase, number>> = {};
  private current?: { phase: Phase; at: number };
  constructor(private cell: string, private emit: Sink) {}
  async start(phase: Phase): Promise<void> {
    this.current = { phase, at: Date.now() };
    await this.emit({ type: 'phase-start', cell: this.cell, phase });
  }
  async end(ok: boolean, detail?: string): Promise<void> {
    if (!this.current) return;
    const seconds = Math.round((Date.now() - this.current.at) / 100) / 10;
    this.durations[this.current.phase] = seconds;
    const phase = this.current.phase;
    this.current = undefined;
    await this.emit({ type: 'phase-end', cell: this.cell, phase, ok, seconds, detail });
  }
  get phase(): Phase | undefined {
    return this.current?.phase;
  }
}

/** The fetch phase's hand-over: the kernel and the driver source. */
export interface Fetched {
  kernel: KernelTree;
  tree: DriverTree;
  /** A negative control: the kernel its module is built for (A; `kernel` is the one booted, B). */
  from?: KernelTree;
}

/** The build phase's hand-over. */
export interface Built {
  /** The driver artifact on the host (kmod: scap.ko, ebpf: probe.o); none for drivers built into the consumer. */
  artifact?: string;
  consumer: ConsumerAssets;
  card?: PiSdCard;
  /** More files for the guest a driver brings (pdig: pdig, the syscall loop, a kmod to compare with). */
  driverFiles?: Record<string, string>;
  /** The kernel's own modules the guest inserts before anything else (kernels/modules.ts), in load order. */
  guestModules?: GuestModules;
  /** The SD card's modules (the kernel's sdModules) as init.sh inserts them: decompressed, in load order. */
  sdModules?: string[];
  /** The battery program for the kernel's arch (its events are checked where the consumer prints parameters). */
  battery?: string;
  /** Why some of those are missing (e.g. no kernel module to compare pdig with). */
  notes?: string[];
  /** Every build this phase needed was found in the cache. */
  cached: boolean;
  facts: CellFacts;
}

/** What boots, with which files and guest steps — made without running anything (`explain`, `--shell`). */
export interface GuestPlan {
  machine: MachineDef;
  /** The kernel image booted (a Pi SD card's copy where the cell boots from one). */
  kernel: string;
  dtb?: string;
  sd?: string;
  /** Kernel arguments beyond the machine's. */
  append: string[];
  /** The cached guest image (busybox + the consumer's closure). */
  base: GuestImage;
  /** Files added to the guest: guest path → host path (driver, consumer, SD modules). */
  files: Record<string, string>;
  /** The guest init's parameters (cell.env). */
  env: CellEnv;
  nonce: string;
  /** The share of events the driver may drop before the cell fails (the host's, not the guest's). */
  maxDropRatio?: number;
  /** Where a KVM probe boot writes its console. */
  probeLog: string;
}

/** What the host judges the guest's report against beyond the marker (guest.ts judge): the soak it asked for, the drops it allows. */
export function judging(plan: GuestPlan): JudgeExpect {
  return { soakSeconds: plan.env.soakSeconds ?? 0, ...(plan.maxDropRatio !== undefined ? { maxDropRatio: plan.maxDropRatio } : {}) };
}

/** One cell as a backend gets it: what was fetched and built, and the guest plan. */
export interface CellJob {
  cell: Cell;
  fetched: Fetched;
  built: Built;
  plan: GuestPlan;
}

/** How the guest ended: the verdict read from its facts, and what they add to the result. */
export interface GuestOutcome {
  verdict: GuestVerdict;
  report: GuestReport;
  facts: CellFacts;
}
