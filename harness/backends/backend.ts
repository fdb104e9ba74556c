// A backend runs a cell's guest — boot → load → capture — from a GuestPlan and
// streams its console line by line; the VM phase reads the `KMATRIX v1` lines
// and judges. QEMU (direct kernel boot) is the default; others (a Vagrant box)
// implement the same three calls.
import type { GuestPlan } from '../phases/vm.js';

export interface GuestExit {
  timedOut: boolean;
  /** The harness ended it after the guest said `done` (or the run was interrupted). */
  endedByHarness: boolean;
  exitCode?: number;
  /** Ended by someone else (a signal the harness did not send) or crashed: infrastructure. */
  killed?: string;
  seconds: number;
}

export interface GuestRun {
  /** Allow this many seconds (from now) until the next `expect` or the end. */
  expect(seconds: number): void;
  /** End the guest now. */
  stop(): void;
  done: Promise<GuestExit>;
}

export interface GuestIo {
  consoleLog: string;
  onLine: (line: string) => void;
  /** Seconds until the guest's first `expect` (the boot timeout). */
  firstTimeout: number;
}

export interface Backend {
  readonly id: string;
  /** Boot the plan's guest; its init runs the cell's steps (plan.env). */
  start(plan: GuestPlan, io: GuestIo): Promise<GuestRun>;
  /** What would run, without running it (for `explain`). */
  describe(plan: GuestPlan): Promise<string[]>;
  /** For the run header: e.g. the acceleration used per machine. */
  summary(): Promise<string>;
}
