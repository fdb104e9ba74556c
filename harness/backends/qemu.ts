// The QEMU backend: the plan's kernel booted directly with an initramfs made of
// the cached guest image followed by a small per-cell archive (init, cell.env,
// the driver), console on the serial port. Acceleration is resolved per machine
// (KVM only when a probe boot proves it works). The cell's clock follows the
// guest's console: boot → load → capture.
import { execa } from 'execa';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorLine } from '../errors.js';
import { cellEnvFile, evidenceOf, GuestReader, judge, loopWatchdog } from '../guest.js';
import { writeCpio } from '../images/guest.js';
import { writePidFile } from '../leftovers.js';
import { qemuCommand, resolveAccel, startVm, type Accel, type MachineDef } from '../machines.js';
import { guestInit } from '../paths.js';
import { CellEnd, judging, type CellContext, type CellFacts, type CellJob, type GuestOutcome, type GuestPlan, type PhaseClock } from '../plan.js';
import { PHASES, type GuestImage } from '../types.js';
import { DEFAULT_LOOP_COUNT } from '../workload.js';
import type { Backend } from './backend.js';

export interface GuestExit {
  timedOut: boolean;
  /** The harness ended it after the guest said `done` (or the run was interrupted). */
  endedByHarness: boolean;
  exitCode?: number;
  /** Ended by someone else (a signal the harness did not send) or crashed: infrastructure. */
  killed?: string;
  /** QEMU's last line on stderr. */
  said?: string;
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

export class QemuBackend implements Backend {
  readonly id = 'qemu';
  private accels = new Map<string, Promise<Accel>>();
  constructor(
    private note: (message: string) => void | Promise<void> = () => {},
    /** Where each running VM gets a pid file (the run's pids/), for the next run to end leftovers. */
    private pidDir?: string,
  ) {}

  async start(plan: GuestPlan, io: GuestIo): Promise<GuestRun> {
    const accel = await this.accelFor(plan);
    const tmp = await mkdtemp(path.join(tmpdir(), 'kmatrix-'));
    try {
      const initrd = await cellInitrd(tmp, plan.base, { files: plan.files, env: cellEnvFile(plan.env) });
      const vm = startVm({ ...bootOf(plan), accel, initrd }, io.consoleLog, io.onLine, io.firstTimeout);
      const pidFile = this.pidDir && vm.pid ? await writePidFile(this.pidDir, vm.pid, `${plan.machine.qemu} for ${io.consoleLog}`) : undefined;
      const done = vm.done.finally(async () => {
        if (pidFile) await rm(pidFile, { force: true });
        await rm(tmp, { recursive: true, force: true });
      });
      return { ...vm, done };
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** boot → load → capture on the guest's console; the clock starts at boot and ends in the verdict's phase. */
  async run({ cell, plan, built }: CellJob, ctx: CellContext, clock: PhaseClock): Promise<GuestOutcome> {
    // a retried cell keeps every attempt's console
    const consoleLog = path.join(ctx.dir, ctx.attempt > 1 ? `console-attempt${ctx.attempt}.log` : 'console.log');
    const facts: CellFacts = { logs: { console: path.relative(ctx.runDir, consoleLog) } };
    const reader = new GuestReader();
    try {
      await clock.start('boot');
      let steps = Promise.resolve(); // console lines are handled strictly in order
      const vm = await this.start(plan, {
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
              vm.expect(ctx.timeouts.capture + 30 + (plan.env.soakSeconds ?? 0));
            } else if (msg.verb === 'loop') {
              vm.expect(loopWatchdog(plan.env.loopCount ?? DEFAULT_LOOP_COUNT) + ctx.timeouts.capture);
            } else if (msg.verb === 'insmod' && reader.report.insmod?.rc !== 0) {
              // (a negative control's module refused: what it expects)
              await clock.end(plan.env.mode === 'control');
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
      const v = judge(reader.report, cell.driver, cell.consumer.kind, plan.nonce, { timedOut: exit.timedOut, phase: clock.phase ?? 'boot', killed: exit.killed, said: exit.said }, judging(plan));
      if (reader.report.boot?.release) facts.kernel = { release: reader.report.boot.release };
      if (reader.report.sdcard) facts.kernel = { ...facts.kernel, sdcard: reader.report.sdcard };
      const loaded = reader.report.modules?.filter((m) => m.rc === 0).map((m) => m.name);
      if (loaded?.length) facts.kernel = { ...facts.kernel, guestModules: loaded };
      facts.evidence = evidenceOf(v, built.notes);
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

  abort(): void {} // every VM is ended by the run's interrupt handler (interrupt.ts)

  async close(): Promise<void> {}

  async describe(plan: GuestPlan): Promise<string[]> {
    const accel = process.env.KMATRIX_ACCEL === 'kvm' ? 'kvm' : 'tcg';
    const { file, args } = qemuCommand({ ...bootOf(plan), accel, initrd: `<${plan.base.cpio} + cell archive>` });
    return [[file, ...args.map((a) => (/\s/.test(a) ? `'${a}'` : a))].join(' ')];
  }

  async summary(): Promise<string> {
    return [...new Set(await Promise.all(this.accels.values()))].join(',') || 'none';
  }

  /** The acceleration of a plan's machine (probed once per machine). */
  accelFor(plan: GuestPlan): Promise<Accel> {
    const machine = plan.machine;
    let a = this.accels.get(machine.id);
    if (!a) {
      a = resolveAccel(machine, () => bootProbe(machine, plan.kernel, plan.base, plan.probeLog)).then(async (r) => {
        await this.note(`${machine.id}: acceleration ${r.accel} (${r.why})`);
        return r.accel;
      });
      this.accels.set(machine.id, a);
    }
    return a;
  }
}

function bootOf(plan: GuestPlan) {
  return { machine: plan.machine, kernel: plan.kernel, dtb: plan.dtb, sd: plan.sd, append: plan.append };
}

/**
 * The cell's initramfs: the cached base archive followed by a small per-cell
 * one (init, cell.env, driver, the kernel's modules the guest needs). Both are
 * uncompressed newc (writeCpio) and the modules in it decompressed on the
 * host: a kernel that reads only gzip (3.10: no zstd) or no compressed
 * initramfs at all unpacks every part.
 */
export async function cellInitrd(tmp: string, guest: GuestImage, extra: { files: Record<string, string>; env: string }): Promise<string> {
  const overlay = path.join(tmp, 'overlay');
  await mkdir(path.join(overlay, 'kmatrix'), { recursive: true });
  await copyFile(guestInit(), path.join(overlay, 'init'));
  await chmod(path.join(overlay, 'init'), 0o755);
  await writeFile(path.join(overlay, 'kmatrix', 'cell.env'), extra.env);
  for (const [to, from] of Object.entries(extra.files)) {
    await mkdir(path.dirname(path.join(overlay, to)), { recursive: true });
    await copyFile(from, path.join(overlay, to));
  }
  await writeCpio(overlay, path.join(tmp, 'overlay.cpio'));
  const initrd = path.join(tmp, 'initrd.cpio');
  await execa('sh', ['-c', 'cat "$1" "$2" > "$3"', 'sh', guest.cpio, path.join(tmp, 'overlay.cpio'), initrd]);
  return initrd;
}

/** Does KVM really boot this kernel to init? (Nested KVM here hangs at "Booting from ROM".) */
async function bootProbe(machine: MachineDef, kernel: string, guest: GuestImage, log: string): Promise<boolean> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'kmatrix-probe-'));
  try {
    const initrd = await cellInitrd(tmp, guest, {
      files: {},
      env: cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'probe', engineArgs: '', runAs: '', captureTimeout: 1, mode: 'probe' }),
    });
    const reader = new GuestReader();
    const vm = startVm({ machine, accel: 'kvm', kernel, initrd, append: [] }, log, (l) => {
      if (reader.feed(l)?.verb === 'done') vm.stop();
    }, 60);
    await vm.done;
    return reader.report.boot !== undefined;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
