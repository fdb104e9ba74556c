// What every phase of a cell shares: its context (where it writes, how it
// reports), the clock that turns phase boundaries into events, and CellEnd —
// how a phase stops the cell early with its verdict (skip, fail, error).
import path from 'node:path';
import type { Backend } from '../backends/backend.js';
import type { Debian } from '../images.js';
import type { CellResult, Phase, RunEvent, Status, Timeouts } from '../types.js';

export type Sink = (e: RunEvent) => void | Promise<void>;

export interface CellContext {
  debian: Debian;
  runDir: string;
  /** The cell's own directory under the run (logs, console). */
  dir: string;
  timeouts: Timeouts;
  /** Length of the timed syscall loop (pdig cells; matrix `workload.loopCount`). */
  loopCount?: number;
  /** Top-level matrix settings of the kernel kinds (kernels/index.ts). */
  kernelSettings: Record<string, unknown>;
  emit: Sink;
  /** How boot → load → capture runs (QEMU by default). */
  backend: Backend;
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
}

export function addFacts(result: CellResult, f: CellFacts): void {
  if (f.kernel) result.kernel = { ...result.kernel, ...f.kernel };
  if (f.driver) result.driver = { ...result.driver, ...f.driver };
  if (f.consumer) result.consumer = f.consumer;
  if (f.logs) result.logs = { ...result.logs, ...f.logs };
  if (f.evidence) result.evidence = f.evidence;
  if (f.oops) result.oops = f.oops;
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
