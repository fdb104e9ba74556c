// `kmatrix run <cell> --shell`: the cell's fetch and build phases, then its
// guest booted in shell mode (driver loaded, an interactive shell on the serial
// console) with the user's terminal attached to the console. Leaving the
// shell (poweroff, or QEMU's Ctrl-A X) ends the VM; so does the harness ending.
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Debian, debianMirror } from '../apt.js';
import { cellInitrd, QemuBackend } from '../backends/qemu.js';
import { cellEnvFile } from '../guest.js';
import { MACHINES, qemuCommand } from '../machines.js';
import { UserError } from '../errors.js';
import type { Matrix } from '../matrix.js';
import { buildPhase } from '../phases/build.js';
import { fetchPhase } from '../phases/fetch.js';
import { planGuest } from '../phases/vm.js';
import { CellEnd } from '../plan.js';
import type { Cell } from '../types.js';

/** Lines after which a board that does not exit on poweroff (Pi) is ended by the harness. */
const POWERED_OFF = /reboot: (Power down|System halted)|System halted/;

export async function shellCell(m: Matrix, cell: Cell, say: (l: string) => void = (l) => process.stderr.write(`kmatrix: ${l}\n`)): Promise<number> {
  if (MACHINES[cell.kernel.machine]?.backend !== 'qemu')
    throw new UserError(`--shell boots QEMU machines only: ${cell.id} runs in a ${cell.kernel.machine} box (use \`vagrant ssh\` in the cell's vagrant directory, or pick a QEMU cell of the same kernel)`);
  const debian = new Debian(debianMirror(m.mirror), m.suites);
  const dir = await mkdtemp(path.join(tmpdir(), 'kmatrix-shell-'));
  try {
    say(`${cell.id}: fetching the kernel and the driver source…`);
    const fetched = await fetchPhase(cell, { debian, kernelSettings: m.kernelSettings ?? {} });
    say(`${cell.id}: building the driver and the guest (${fetched.kernel.release}, builder ${fetched.kernel.builder.suite} ${fetched.kernel.builder.compiler})…`);
    const built = await buildPhase(cell, fetched, { debian, runDir: dir, dir });
    const plan = planGuest(cell, fetched, built, { timeouts: m.timeouts, dir });
    plan.env.mode = 'shell';
    const accel = await new QemuBackend((n) => say(n)).accelFor(plan);
    const initrd = await cellInitrd(dir, plan.base, { files: plan.files, env: cellEnvFile(plan.env) });
    const { file, args } = qemuCommand({ machine: plan.machine, kernel: plan.kernel, dtb: plan.dtb, sd: plan.sd, append: plan.append, accel, initrd });
    // The console multiplexed with QEMU's monitor: Ctrl-A X quits, Ctrl-A H lists the keys.
    const argv = args.map((a, i) => (a === 'stdio' && args[i - 1] === '-serial' ? 'mon:stdio' : a));
    say(`booting ${cell.kernel.id} on ${plan.machine.id} (${accel}); leave the shell with poweroff, or Ctrl-A X`);
    const vm = execa('setpriv', ['--pdeathsig', 'KILL', '--', file, ...argv], { stdin: 'inherit', stdout: 'pipe', stderr: 'inherit', reject: false, buffer: false });
    const kill = () => vm.kill('SIGKILL');
    process.once('exit', kill);
    let tail = '';
    vm.stdout!.on('data', (b: Buffer) => {
      process.stdout.write(b);
      tail = (tail + b.toString('latin1')).slice(-200);
      // SIGTERM: QEMU puts the terminal back as it found it
      if (!plan.machine.exitsOnPoweroff && POWERED_OFF.test(tail)) vm.kill('SIGTERM');
    });
    const r = await vm;
    process.off('exit', kill);
    say(`VM ended (${r.exitCode ?? r.signal})`);
    return 0;
  } catch (e) {
    if (e instanceof CellEnd) {
      say(`${cell.id}: ${e.status} at ${e.phase}: ${e.reason}${e.firstError ? `\n  ${e.firstError}` : ''}`);
      return 1;
    }
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
