// The guest plan: what boots for a cell, with which files and guest steps.
// Made without running anything, so it can be shown (`explain`), booted by
// hand (`--shell`), or run by the cell's backend (boot → load → capture).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { engineArgs } from '../consumers/index.js';
import { moduleName } from '../drivers/build.js';
import { ARTIFACT_IN_GUEST, cellEnvFile, moduleInGuest, runAsPrefix } from '../guest.js';
import { guestModuleFiles } from '../kernels/modules.js';
import { MACHINES, type MachineDef } from '../machines.js';
import type { Built, Fetched, GuestPlan } from '../plan.js';
import type { Cell, KernelTree, Timeouts } from '../types.js';
import { BATTERY_IN_GUEST } from '../workload.js';

export function planGuest(cell: Cell, { kernel, tree }: Fetched, built: Built, opts: { timeouts: Timeouts; dir: string; nonce?: string; loopCount?: number; soakSeconds?: number; maxDropRatio?: number }): GuestPlan {
  const machine = MACHINES[cell.kernel.machine]!;
  const nonce = opts.nonce ?? randomBytes(6).toString('hex');
  const { artifact, consumer, card } = built;
  // the kernel module goes in under its own name (falco.ko, as `insmod driver/falco.ko`)
  const module = cell.driver === 'kmod' ? moduleName(tree.dir) : undefined;
  return {
    machine,
    kernel: card?.kernel ?? kernel.pvh ?? kernel.image,
    dtb: card?.dtb ?? dtbPath(machine, kernel),
    sd: card?.image,
    append: [...(machine.hasRtc ? [] : [`kmatrix.time=${Math.floor(Date.now() / 1000)}`]), ...(cell.profile.cmdline ?? [])],
    base: consumer.image,
    files: {
      ...consumer.files,
      ...(artifact ? { [cell.driver === 'kmod' ? moduleInGuest(module) : ARTIFACT_IN_GUEST[cell.driver]!]: artifact } : {}),
      ...built.driverFiles,
      ...(built.battery ? { [BATTERY_IN_GUEST]: built.battery } : {}),
      ...(built.guestModules ? guestModuleFiles(built.guestModules) : {}),
      ...(card ? Object.fromEntries((built.sdModules ?? kernel.sdModules).map((m, i) => [`kmatrix/sd/${String(i).padStart(2, '0')}-${path.basename(m)}`, m])) : {}),
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
      soakSeconds: built.battery ? opts.soakSeconds : 0,
      module,
      // a negative control: insmod the other kernel's module, and stop there
      ...(cell.control ? { mode: 'control' as const } : {}),
    },
    nonce,
    ...(opts.maxDropRatio !== undefined ? { maxDropRatio: opts.maxDropRatio } : {}),
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
