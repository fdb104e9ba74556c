// The QEMU backend: the plan's kernel booted directly with an initramfs made of
// the cached guest image followed by a small per-cell archive (init, cell.env,
// the driver), console on the serial port. Acceleration is resolved per machine
// (KVM only when a probe boot proves it works).
import { execa } from 'execa';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cellEnvFile, GuestReader } from '../guest.js';
import { writeCpio, type GuestImage } from '../images.js';
import { qemuCommand, resolveAccel, startVm, type Accel, type MachineDef } from '../machines.js';
import { writePidFile } from '../leftovers.js';
import { guestInit } from '../paths.js';
import type { GuestPlan } from '../phases/vm.js';
import type { Backend, GuestIo, GuestRun } from './backend.js';

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

  async describe(plan: GuestPlan): Promise<string[]> {
    const accel = process.env.KMATRIX_ACCEL === 'kvm' ? 'kvm' : 'tcg';
    const { file, args } = qemuCommand({ ...bootOf(plan), accel, initrd: `<${plan.base.cpio} + cell archive>` });
    return [[file, ...args.map((a) => (/\s/.test(a) ? `'${a}'` : a))].join(' ')];
  }

  async summary(): Promise<string> {
    return [...new Set(await Promise.all(this.accels.values()))].join(',') || 'none';
  }

  private accelFor(plan: GuestPlan): Promise<Accel> {
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

/** The cell's initramfs: the cached base archive followed by a small per-cell one (init, cell.env, driver). */
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
