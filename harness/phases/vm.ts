// boot → load → capture: one guest, its phases read from its console. The plan
// (what boots, with which files and steps) is made without running anything,
// so it can be shown (`explain`) or booted by hand (`--shell`); a backend runs it.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ARTIFACT_IN_GUEST, engineArgs } from '../consumers.js';
import { errorLine } from '../errors.js';
import { cellEnvFile, GuestReader, judge, loopWatchdog, runAsPrefix, type CellEnv, type GuestReport, type GuestVerdict } from '../guest.js';
import { DEFAULT_LOOP_COUNT } from '../workload.js';
import type { GuestImage } from '../images.js';
import type { KernelTree } from '../kernels/index.js';
import { MACHINES, type MachineDef } from '../machines.js';
import { PHASES, type Cell, type Timeouts } from '../types.js';
import type { Built } from './build.js';
import { CellEnd, type CellContext, type CellFacts, type PhaseClock } from './cell.js';
import type { Fetched } from './fetch.js';

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
  /** Where a KVM probe boot writes its console. */
  probeLog: string;
}

export function planGuest(cell: Cell, { kernel }: Fetched, built: Built, opts: { timeouts: Timeouts; dir: string; nonce?: string; loopCount?: number }): GuestPlan {
  const machine = MACHINES[cell.kernel.machine]!;
  const nonce = opts.nonce ?? randomBytes(6).toString('hex');
  const { artifact, consumer, card } = built;
  return {
    machine,
    kernel: card?.kernel ?? kernel.image,
    dtb: card?.dtb ?? dtbPath(machine, kernel),
    sd: card?.image,
    append: [...(machine.hasRtc ? [] : [`kmatrix.time=${Math.floor(Date.now() / 1000)}`]), ...(cell.profile.cmdline ?? [])],
    base: consumer.image,
    files: {
      ...consumer.files,
      ...(artifact ? { [ARTIFACT_IN_GUEST[cell.driver]!]: artifact } : {}),
      ...built.driverFiles,
      ...(card ? Object.fromEntries(kernel.sdModules.map((m, i) => [`kmatrix/sd/${String(i).padStart(2, '0')}-${path.basename(m)}`, m])) : {}),
    },
    env: {
      driver: cell.driver,
      consumer: cell.consumer.kind,
      nonce,
      engineArgs: engineArgs(cell.consumer.kind, cell.driver),
      runAs: runAsPrefix(cell.profile),
      captureTimeout: opts.timeouts.capture,
      evtType: consumer.openatExit,
      sdcard: Boolean(card),
      loopCount: opts.loopCount,
    },
    nonce,
    probeLog: path.join(opts.dir, 'kvm-probe.log'),
  };
}

/** The guest's steps as the init will read them (for `explain`). */
export function guestSteps(plan: GuestPlan): string {
  return cellEnvFile(plan.env);
}

function dtbPath(machine: MachineDef, kernel: KernelTree): string | undefined {
  return machine.dtb && kernel.dtbDir ? path.join(kernel.dtbDir, machine.dtb) : undefined;
}

export interface GuestOutcome {
  verdict: GuestVerdict;
  report: GuestReport;
  facts: CellFacts;
}

/**
 * Run the plan on the context's backend; the clock follows the guest's
 * console (boot → load → capture). Starts in no phase; ends in the verdict's.
 */
export async function vmPhase(cell: Cell, plan: GuestPlan, ctx: CellContext, clock: PhaseClock, notes?: string[]): Promise<GuestOutcome> {
  // a retried cell keeps every attempt's console
  const consoleLog = path.join(ctx.dir, ctx.attempt > 1 ? `console-attempt${ctx.attempt}.log` : 'console.log');
  const facts: CellFacts = { logs: { console: path.relative(ctx.runDir, consoleLog) } };
  const reader = new GuestReader();
  try {
    await clock.start('boot');
    let steps = Promise.resolve(); // console lines are handled strictly in order
    const vm = await ctx.backend.start(plan, {
      consoleLog,
      firstTimeout: ctx.timeouts.boot,
      onLine: (line) => {
        const msg = reader.feed(line);
        if (!msg) return;
        const step = async () => {
          if (msg.verb === 'boot') {
            await clock.end(true, reader.report.boot?.release);
            await clock.start('load');
            vm.expect(ctx.timeouts.load);
          } else if (msg.verb === 'consumer') {
            vm.expect(ctx.timeouts.capture + 30);
          } else if (msg.verb === 'loop') {
            vm.expect(loopWatchdog(plan.env.loopCount ?? DEFAULT_LOOP_COUNT) + ctx.timeouts.capture);
          } else if (msg.verb === 'insmod' && reader.report.insmod?.rc !== 0) {
            await clock.end(false);
          } else if (msg.verb === 'attached') {
            // a streaming consumer printed its first event: the driver is loaded and attached
            await clock.end(true);
            await clock.start('capture');
          } else if (msg.verb === 'done') {
            if (!plan.machine.exitsOnPoweroff) vm.stop();
          }
        };
        steps = steps.then(step);
      },
    });
    const exit = await vm.done;
    await steps;
    const v = judge(reader.report, cell.driver, cell.consumer.kind, plan.nonce, { timedOut: exit.timedOut, phase: clock.phase ?? 'boot', killed: exit.killed });
    if (reader.report.boot?.release) facts.kernel = { release: reader.report.boot.release };
    if (reader.report.sdcard) facts.kernel = { ...facts.kernel, sdcard: reader.report.sdcard };
    const overhead = v.overhead && notes?.length ? { ...v.overhead, notes: [...notes, ...(v.overhead.notes ?? [])] } : v.overhead;
    facts.evidence = { events: v.events, marker: v.marker, lines: v.lines, untracedMarker: v.untracedMarker, overhead, warnings: v.warnings };
    if (v.oops) facts.oops = v.oops;
    const at = clock.phase;
    if (at && at !== v.phase && PHASES.indexOf(v.phase) > PHASES.indexOf(at)) {
      // the guest's facts place the end later than the console showed (scap-open's window is load and capture at once)
      await clock.end(true);
      await clock.start(v.phase);
    }
    return { verdict: v, report: reader.report, facts };
  } catch (e) {
    throw new CellEnd('error', clock.phase ?? 'boot', `VM infrastructure failed: ${errorLine(e)}`, undefined, facts);
  }
}
