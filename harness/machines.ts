// Machines: how a kernel is booted. Each definition carries the board's limits
// (RAM, CPUs, console, RTC, whether QEMU exits on poweroff) so no special case
// leaks elsewhere. Also the VM process itself: console streaming, per-phase
// watchdog, and the guarantee that no QEMU outlives the harness.
import { execa, type ResultPromise } from 'execa';
import { existsSync, createWriteStream } from 'node:fs';
import { arch as hostArch, release } from 'node:os';
import { createInterface } from 'node:readline';
import { readCachedJson, writeCachedJson } from './cache/cache.js';
import type { Arch } from './types.js';

export type Accel = 'kvm' | 'tcg';

export interface MachineDef {
  id: string;
  /** Which backend boots it: QEMU directly, or Vagrant (a box's own kernel). */
  backend: 'qemu' | 'vagrant';
  arches: Arch[];
  qemu: string;
  board: string[];
  cpu: { tcg: string; kvm: string };
  memoryMiB: number;
  cpus: number;
  console: string;
  /** Extra kernel arguments the board needs (early console). */
  append: string[];
  /** Device tree, relative to the kernel package's /usr/lib/linux-image-<abi>/. */
  dtb?: string;
  /** QEMU exits when the guest powers off; if not, the harness ends it after `done`. */
  exitsOnPoweroff: boolean;
  /** Without an RTC the guest boots in 1970; the harness passes the host clock. */
  hasRtc: boolean;
  /** QEMU enters an x86 kernel's ELF at its PVH entry, skipping the bzImage's decompressor (images/pvh.ts). */
  pvh?: boolean;
  description: string;
}

export const MACHINES: Record<string, MachineDef> = {
  q35: {
    id: 'q35',
    backend: 'qemu',
    arches: ['amd64'],
    qemu: 'qemu-system-x86_64',
    board: ['-M', 'q35'],
    cpu: { tcg: 'max', kvm: 'host' },
    memoryMiB: 1024,
    cpus: 1,
    console: 'ttyS0',
    append: [],
    exitsOnPoweroff: true,
    hasRtc: true,
    pvh: true,
    description: 'QEMU q35 (x86_64)',
  },
  virt: {
    id: 'virt',
    backend: 'qemu',
    arches: ['arm64'],
    qemu: 'qemu-system-aarch64',
    board: ['-M', 'virt'],
    // a real core (as in a Pi 4 or a cloud Graviton-class VM), not TCG's "max" with features no hardware has
    cpu: { tcg: 'cortex-a72', kvm: 'host' },
    memoryMiB: 1024,
    cpus: 1,
    console: 'ttyAMA0',
    append: [],
    exitsOnPoweroff: true,
    hasRtc: true,
    description: 'QEMU virt (aarch64)',
  },
  raspi3b: {
    id: 'raspi3b',
    backend: 'qemu',
    arches: ['arm64'],
    qemu: 'qemu-system-aarch64',
    board: ['-M', 'raspi3b'],
    cpu: { tcg: '', kvm: '' },
    memoryMiB: 1024,
    cpus: 4,
    console: 'ttyAMA0',
    append: ['earlycon=pl011,0x3f201000'],
    dtb: 'broadcom/bcm2837-rpi-3-b.dtb',
    exitsOnPoweroff: false,
    hasRtc: false,
    description: 'Raspberry Pi 3 Model B (arm64, emulated)',
  },
  raspi2b: {
    id: 'raspi2b',
    backend: 'qemu',
    arches: ['armhf'],
    qemu: 'qemu-system-arm',
    board: ['-M', 'raspi2b'],
    cpu: { tcg: '', kvm: '' },
    memoryMiB: 1024,
    cpus: 4,
    console: 'ttyAMA0',
    append: ['earlycon=pl011,0x3f201000'],
    dtb: 'bcm2836-rpi-2-b.dtb',
    exitsOnPoweroff: false,
    hasRtc: false,
    description: 'Raspberry Pi 2 Model B (armhf, emulated)',
  },
  // A Vagrant box (vagrant-libvirt): libvirt's QEMU boots the box's own kernel; see backends/vagrant.ts.
  vagrant: {
    id: 'vagrant',
    backend: 'vagrant',
    arches: ['amd64'],
    qemu: 'qemu-system-x86_64',
    board: [],
    cpu: { tcg: 'qemu64', kvm: 'host' },
    memoryMiB: 1024,
    cpus: 2,
    console: 'ttyS0',
    append: [],
    exitsOnPoweroff: true,
    hasRtc: true,
    description: 'Vagrant box (vagrant-libvirt)',
  },
};

export interface BootSpec {
  machine: MachineDef;
  accel: Accel;
  kernel: string;
  initrd: string;
  dtb?: string;
  /** An SD card image (boards with a card slot); the guest's writes are discarded. */
  sd?: string;
  append: string[];
}

/** The QEMU command line for a boot: direct kernel boot, serial console on stdio, no network, no disks. */
export function qemuCommand(b: BootSpec): { file: string; args: string[] } {
  const m = b.machine;
  const cpu = m.cpu[b.accel];
  const args = [
    ...m.board,
    '-accel', b.accel,
    ...(cpu ? ['-cpu', cpu] : []),
    '-smp', String(m.cpus),
    '-m', String(m.memoryMiB),
    '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none',
    '-serial', 'stdio',
    '-nic', 'none',
    '-no-reboot',
    '-kernel', b.kernel,
    '-initrd', b.initrd,
    ...(b.dtb ? ['-dtb', b.dtb] : []),
    ...(b.sd ? ['-drive', `if=sd,format=raw,file=${b.sd},snapshot=on`] : []),
    '-append', [`console=${m.console}`, ...m.append, 'panic=-1', 'oops=panic', 'quiet', 'rdinit=/init', ...b.append].join(' '),
  ];
  return { file: m.qemu, args };
}

// Every live VM, so that any way out of the harness (normal exit, an
// interrupted run, uncaught error) ends them; `setpriv --pdeathsig KILL`
// covers the harness itself killed with SIGKILL (and pid files in the run
// directory, see leftovers.ts). Signals are the CLI's (interrupt.ts).
const live = new Set<ResultPromise>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', stopAllVms);
}

export function stopAllVms(): void {
  live.forEach((p) => p.kill('SIGKILL'));
}

export function liveVmCount(): number {
  return live.size;
}

export interface VmExit {
  timedOut: boolean;
  /** The harness ended it after the guest said `done` (boards where QEMU does not exit). */
  endedByHarness: boolean;
  exitCode?: number;
  /** QEMU ended by someone else (a signal we did not send) or crashed (non-zero exit): infrastructure. */
  killed?: string;
  /** QEMU's own last words on stderr (why it refused an image, a device, an option). */
  said?: string;
  seconds: number;
}

export interface VmHandle {
  pid?: number;
  /** Allow this many seconds (from now) until the next `expect` or the end. */
  expect(seconds: number): void;
  /** End the VM now (result received on a board that does not power off). */
  stop(): void;
  done: Promise<VmExit>;
}

/** Start a VM; every console line goes to `consoleLog` and to `onLine`. */
export function startVm(b: BootSpec, consoleLog: string, onLine: (line: string) => void, firstTimeout: number): VmHandle {
  hookExit();
  const { file, args } = qemuCommand(b);
  const started = Date.now();
  const proc = execa('setpriv', ['--pdeathsig', 'KILL', '--', file, ...args], {
    stdin: 'ignore',
    reject: false,
    buffer: false,
    stderr: 'pipe',
  });
  live.add(proc);
  const log = createWriteStream(consoleLog);
  log.write(`# ${file} ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  let timedOut = false;
  let endedByHarness = false;
  let timer: NodeJS.Timeout | undefined;
  const expect = (seconds: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      log.write(`\n# kmatrix: timeout after ${seconds}s, killing QEMU\n`);
      proc.kill('SIGKILL');
    }, seconds * 1000);
  };
  expect(firstTimeout);
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    log.write(line + '\n');
    onLine(line);
  });
  let said: string | undefined;
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    log.write(`# qemu: ${line}\n`);
    if (line.trim()) said = line.trim();
  });
  const done = proc.then((r) => {
    clearTimeout(timer);
    live.delete(proc);
    return new Promise<VmExit>((resolve) =>
      log.end(() =>
        resolve({
          timedOut,
          endedByHarness,
          exitCode: r.exitCode,
          killed: timedOut || endedByHarness ? undefined : r.signal ? `signal ${r.signal}` : r.exitCode ? `exit code ${r.exitCode}` : undefined,
          said,
          seconds: (Date.now() - started) / 1000,
        }),
      ),
    );
  });
  return {
    pid: proc.pid,
    expect,
    stop: () => {
      endedByHarness = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
    },
    done,
  };
}

/** Host arch in Debian's words. */
export function hostDebianArch(): Arch {
  return hostArch() === 'arm64' ? 'arm64' : 'amd64';
}

/**
 * Acceleration for a machine: KVM only where the host matches the guest arch,
 * /dev/kvm exists and a probe boot proves it works (nested KVM here sits at
 * "Booting from ROM"); else TCG. The probe's answer is cached per host kernel.
 */
export async function resolveAccel(machine: MachineDef, probe: () => Promise<boolean>): Promise<{ accel: Accel; why: string }> {
  const forced = process.env.KMATRIX_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return { accel: forced, why: 'KMATRIX_ACCEL' };
  if (!machine.arches.includes(hostDebianArch()) || machine.cpu.kvm === '') return { accel: 'tcg', why: 'foreign architecture' };
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', why: 'no /dev/kvm' };
  const key = `accel-${release()}.json`;
  const known = await readCachedJson<{ kvm: boolean }>(key);
  if (known) return known.kvm ? { accel: 'kvm', why: 'probe (cached)' } : { accel: 'tcg', why: 'KVM probe failed (cached)' };
  const ok = await probe().catch(() => false);
  await writeCachedJson(key, { kvm: ok, at: new Date().toISOString() });
  return ok ? { accel: 'kvm', why: 'probe' } : { accel: 'tcg', why: 'KVM probe boot failed' };
}
