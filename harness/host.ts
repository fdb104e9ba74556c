// Host checks (`kmatrix doctor`, and before every run): the system tools the
// harness drives, each with the Debian package that provides it.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { UserError } from './errors.js';
import { MACHINES } from './machines.js';

export interface Tool {
  command: string;
  package: string;
  why: string;
  /** Needed only for cells of this machine (e.g. the Vagrant backend's tools). */
  machine?: string;
  /** Needed only for kernels of this source kind (kernels/index.ts KINDS). */
  kind?: string;
}

export const TOOLS: Tool[] = [
  { command: 'apt-get', package: 'apt', why: 'isolated package downloads' },
  { command: 'dpkg-deb', package: 'dpkg', why: 'extracting packages' },
  { command: 'mmdebstrap', package: 'mmdebstrap', why: 'builder roots per Debian suite' },
  { command: 'bwrap', package: 'bubblewrap', why: 'sandboxed driver builds' },
  { command: 'cpio', package: 'cpio', why: 'guest initramfs' },
  { command: 'readelf', package: 'binutils', why: 'trimming guests to the libraries they load' },
  { command: 'setpriv', package: 'util-linux', why: 'tying VMs to the harness lifetime' },
  { command: 'sfdisk', package: 'fdisk', why: 'Pi SD card images' },
  { command: 'mkfs.vfat', package: 'dosfstools', why: 'Pi SD card images' },
  { command: 'mcopy', package: 'mtools', why: 'Pi SD card boot partitions' },
  { command: 'mke2fs', package: 'e2fsprogs', why: 'Pi SD card root partitions' },
  { command: 'rpm2cpio', package: 'rpm2cpio', why: 'kernels from yum repositories (and imported .rpm files)', kind: 'yum' },
  { command: 'zstd', package: 'zstd', why: "yum repositories' zstd metadata", kind: 'yum' },
  { command: 'git', package: 'git', why: 'driver sources from git (pdig, Falco 0.26.0)' },
  { command: 'qemu-system-x86_64', package: 'qemu-system-x86', why: 'x86_64 machines' },
  { command: 'qemu-system-aarch64', package: 'qemu-system-arm', why: 'arm64 machines' },
  { command: 'vagrant', package: 'vagrant', why: 'Vagrant boxes', machine: 'vagrant' },
  { command: 'libvirtd', package: 'libvirt-daemon', why: 'the Vagrant backend (started by the harness)', machine: 'vagrant' },
  { command: 'virsh', package: 'libvirt-clients', why: 'the Vagrant backend (cleanup)', machine: 'vagrant' },
  { command: 'qemu-img', package: 'qemu-utils', why: 'the local Vagrant box', machine: 'vagrant' },
  { command: 'dnsmasq', package: 'dnsmasq-base', why: "libvirt's network for boxes", machine: 'vagrant' },
  { command: 'iptables', package: 'iptables', why: "libvirt's network for boxes (inside the harness's namespace)", machine: 'vagrant' },
  { command: 'ip', package: 'iproute2', why: 'the network namespace of the Vagrant backend', machine: 'vagrant' },
];

async function has(command: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${command}`], { reject: false });
  return r.exitCode === 0;
}

export interface ToolCheck extends Tool {
  ok: boolean;
}

export async function checkTools(tools = TOOLS): Promise<ToolCheck[]> {
  return Promise.all(tools.map(async (t) => ({ ...t, ok: await has(t.command) })));
}

export function installCommand(missing: Tool[]): string {
  return `apt-get install -y --no-install-recommends ${[...new Set(missing.map((t) => t.package))].join(' ')}`;
}

/** Fail with one paragraph naming the fix when a tool needed for these machines (and kernel source kinds) is missing. */
export async function requireTools(machines: string[], kinds: string[] = []): Promise<void> {
  const qemus = new Set(machines.map((m) => MACHINES[m]!.qemu));
  const needed = TOOLS.filter((t) => (!t.command.startsWith('qemu-system-') || qemus.has(t.command)) && (!t.machine || machines.includes(t.machine)) && (!t.kind || kinds.includes(t.kind)));
  const missing = (await checkTools(needed)).filter((t) => !t.ok);
  if (missing.length)
    throw new UserError(
      `Missing host tools: ${missing.map((t) => `${t.command} (${t.why})`).join(', ')}. ` +
        `Install them as root with: ${installCommand(missing)} — or run scripts/setup.sh, which installs everything kmatrix needs.`,
    );
  if (!existsSync('/usr/share/keyrings/debian-archive-keyring.gpg'))
    throw new UserError('The Debian archive keyring is missing (/usr/share/keyrings/debian-archive-keyring.gpg). Install it with: apt-get install -y debian-archive-keyring');
}
