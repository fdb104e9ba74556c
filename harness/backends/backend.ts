// A backend runs a cell's guest — boot → load → capture — and follows it with
// the cell's clock: QEMU (direct kernel boot, qemu.ts) or a Vagrant box
// (vagrant.ts, which also builds the driver in the box). The runner picks one
// per cell by the kernel's machine (index.ts) and calls it the same way.
import type { CellContext, CellJob, GuestOutcome, GuestPlan, PhaseClock } from '../plan.js';

export interface Backend {
  readonly id: string;
  /**
   * Boot the job's guest and follow it until it ends: the clock starts at
   * boot and is left in the verdict's phase. Infrastructure failures end the
   * cell with CellEnd('error'); the verdict itself is returned.
   */
  run(job: CellJob, ctx: CellContext, clock: PhaseClock): Promise<GuestOutcome>;
  /** What would run, without running it (for `explain`). */
  describe(plan: GuestPlan): Promise<string[]>;
  /** For the run header: e.g. the acceleration used per machine. */
  summary(): Promise<string>;
  /** The run is interrupted: end every guest now, start none. */
  abort(): void;
  /** The run is over: release what the backend holds (a libvirt session). */
  close(): Promise<void>;
}
