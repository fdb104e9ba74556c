// The local Vagrant box (`kmatrix images build-box`): a libvirt box built from
// Debian packages — a bookworm root (mmdebstrap, unshare mode) with the suite's
// 6.1 kernel and its headers, build tools, openssh-server and a `vagrant` user
// holding Vagrant's insecure public key as Debian's vagrant package ships it —
// as an ext4 disk (mke2fs -d, nothing mounted) in qcow2, with metadata.json and
// a Vagrantfile, packed as a .box and added under the harness's VAGRANT_HOME
// with a version (through a local catalog file, so it is pinned like any box).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cached, cacheDir } from '../cache/cache.js';
import { UserError } from '../errors.js';
import type { Debian } from '../apt.js';

/** The box the default matrix names for the backend's own test. */
export const LOCAL_BOX = { name: 'kmatrix/debian12-6.1', suite: 'bookworm', flavour: 'amd64' } as const;

/** Changes to the recipe below change the box (part of its cache key). */
const RECIPE = 'box-v1';
const DISK_GIB = 8;

export interface LocalBox {
  name: string;
  version: string;
  /** `uname -r` of the box's kernel. */
  release: string;
  /** The .box file and its sha256. */
  file: string;
  sha256: string;
}

export function vagrantHome(): string {
  return path.join(cacheDir(), 'vagrant', 'home');
}

/** Environment of every vagrant command the harness runs. */
export function vagrantEnv(): Record<string, string> {
  return { VAGRANT_HOME: vagrantHome(), VAGRANT_CHECKPOINT_DISABLE: '1', VAGRANT_NO_COLOR: '1', VAGRANT_DEFAULT_PROVIDER: 'libvirt' };
}

/** metadata.json of a libvirt box. */
export function boxMetadata(virtualSizeGiB: number): { provider: 'libvirt'; format: 'qcow2'; virtual_size: number } {
  return { provider: 'libvirt', format: 'qcow2', virtual_size: virtualSizeGiB };
}

/**
 * The Vagrantfile inside the box: the box boots its own kernel and initramfs
 * (shipped next to the disk, which has no boot loader) with root on the disk.
 */
export function boxVagrantfile(cmdline: string): string {
  return [
    'Vagrant.configure("2") do |config|',
    '  config.vm.provider :libvirt do |libvirt|',
    '    libvirt.kernel = File.join(__dir__, "vmlinuz")',
    '    libvirt.initrd = File.join(__dir__, "initrd.img")',
    `    libvirt.cmd_line = ${JSON.stringify(cmdline)}`,
    '  end',
    'end',
    '',
  ].join('\n');
}

/** A box catalog (Vagrant's box metadata format) naming one version of one local .box. */
export function boxCatalog(name: string, version: string, file: string, sha256: string): object {
  return { name, versions: [{ version, providers: [{ name: 'libvirt', url: `file://${file}`, checksum_type: 'sha256', checksum: sha256 }] }] };
}

/** Vagrant versions are numeric: 6.1.0-50-amd64 → 6.1.50. */
export function boxVersion(release: string): string {
  const m = /^(\d+)\.(\d+)\.\d+-(\d+)/.exec(release);
  return m ? `${m[1]}.${m[2]}.${m[3]}` : '0.0.0';
}

/** Vagrant's insecure public key, as Debian's vagrant package installs it. */
export async function insecureKey(): Promise<string> {
  const r = await execa('dpkg', ['-L', 'vagrant'], { reject: false });
  const file = r.stdout.split('\n').find((f) => /\/keys\/vagrant\.pub$/.test(f));
  if (r.exitCode !== 0 || !file || !existsSync(file))
    throw new UserError("Vagrant's insecure key was not found: the vagrant package is not installed. Run scripts/setup.sh (as root), which installs vagrant and vagrant-libvirt.");
  return readFile(file, 'utf8');
}

/** The customize hook run by mmdebstrap on the finished root ($1). */
export function boxHook(key: string): string {
  return [
    'set -e',
    'r=$1',
    'chroot "$r" useradd -m -s /bin/bash -G sudo vagrant',
    `echo 'vagrant ALL=(ALL) NOPASSWD:ALL' > "$r/etc/sudoers.d/vagrant"; chmod 440 "$r/etc/sudoers.d/vagrant"`,
    'mkdir -p "$r/home/vagrant/.ssh"',
    `printf '%s\\n' '${key.trim()}' > "$r/home/vagrant/.ssh/authorized_keys"`,
    'chmod 700 "$r/home/vagrant/.ssh"; chmod 600 "$r/home/vagrant/.ssh/authorized_keys"',
    'chroot "$r" chown -R vagrant:vagrant /home/vagrant/.ssh',
    // DHCP on the first NIC (net.ifnames=0: eth0) from systemd-networkd
    `printf '[Match]\\nName=eth*\\n[Network]\\nDHCP=ipv4\\n' > "$r/etc/systemd/network/50-dhcp.network"`,
    'chroot "$r" systemctl enable systemd-networkd',
    'echo kmatrix-box > "$r/etc/hostname"',
    `printf '127.0.0.1 localhost\\n127.0.1.1 kmatrix-box\\n' > "$r/etc/hosts"`,
    `echo '/dev/vda / ext4 defaults 0 1' > "$r/etc/fstab"`,
    `echo 'UseDNS no' > "$r/etc/ssh/sshd_config.d/kmatrix.conf"`,
    // nothing that wakes up under emulation for no purpose
    'chroot "$r" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer systemd-timesyncd.service || true',
    ': > "$r/etc/machine-id"',
    '',
  ].join('\n');
}

/** Packages of the box beyond the kernel: what vagrant needs (ssh, sudo) and what builds a module in it. */
export const BOX_PACKAGES = ['systemd-sysv', 'udev', 'openssh-server', 'sudo', 'kmod', 'initramfs-tools', 'build-essential', 'util-linux'];

/** Build (or take from the cache) the local box and make sure vagrant knows it. */
export async function buildLocalBox(debian: Debian, log: (line: string) => void = () => {}): Promise<LocalBox> {
  const dist = debian.dist(LOCAL_BOX.suite, 'amd64');
  const meta = await dist.depends(`linux-image-${LOCAL_BOX.flavour}`);
  const release = meta.find((d) => d.startsWith('linux-image-') && d !== `linux-image-${LOCAL_BOX.flavour}`)?.replace(/^linux-image-/, '').replace(/-unsigned$/, '');
  if (!release) throw new Error(`linux-image-${LOCAL_BOX.flavour} in ${LOCAL_BOX.suite} names no kernel image`);
  const key = await insecureKey();
  const packages = [...BOX_PACKAGES, `linux-image-${release}`, `linux-headers-${release}`];
  const cmdline = 'root=/dev/vda rw console=ttyS0 net.ifnames=0';
  const name = LOCAL_BOX.name;
  const version = boxVersion(release);
  const dir = await cached('boxes', { RECIPE, suite: LOCAL_BOX.suite, mirror: debian.mirror, packages, key, cmdline, DISK_GIB }, async (out) => {
    const work = path.join(out, 'work');
    await mkdir(work);
    await writeFile(path.join(work, 'hook.sh'), boxHook(key));
    log(`mmdebstrap ${LOCAL_BOX.suite} with ${packages.join(' ')}`);
    const tar = path.join(work, 'root.tar');
    const r = await execa(
      'mmdebstrap',
      ['--mode=unshare', '--variant=apt', '--quiet', `--include=${packages.join(',')}`, `--customize-hook=sh ${path.join(work, 'hook.sh')} "$1"`, LOCAL_BOX.suite, tar, debian.mirror],
      { reject: false, all: true, stdin: 'ignore' },
    );
    if (r.exitCode !== 0) throw new Error(`mmdebstrap (box) failed: ${(r.all ?? '').split('\n').filter((l) => /^E:/.test(l)).join(' ') || (r.all ?? '').slice(-400)}`);
    log('ext4 disk (mke2fs -d) → qcow2');
    const root = path.join(work, 'root');
    await mkdir(root);
    await execa('tar', ['-x', '-p', '--numeric-owner', '-C', root, '-f', tar]);
    await rm(tar);
    const raw = path.join(work, 'disk.raw');
    await execa('mke2fs', ['-q', '-t', 'ext4', '-L', 'root', '-d', root, raw, `${DISK_GIB}G`]);
    const box = path.join(work, 'box');
    await mkdir(box);
    await execa('qemu-img', ['convert', '-O', 'qcow2', raw, path.join(box, 'box.img')]);
    await rm(raw);
    await execa('cp', [path.join(root, 'boot', `vmlinuz-${release}`), path.join(box, 'vmlinuz')]);
    await execa('cp', [path.join(root, 'boot', `initrd.img-${release}`), path.join(box, 'initrd.img')]);
    await rm(root, { recursive: true, force: true });
    await writeFile(path.join(box, 'metadata.json'), JSON.stringify(boxMetadata(DISK_GIB)) + '\n');
    await writeFile(path.join(box, 'Vagrantfile'), boxVagrantfile(cmdline));
    const file = path.join(out, 'kmatrix-debian12.box');
    await execa('tar', ['-c', '-f', file, '-C', box, 'metadata.json', 'Vagrantfile', 'box.img', 'vmlinuz', 'initrd.img']);
    await rm(work, { recursive: true, force: true });
    await writeFile(path.join(out, 'box.json'), JSON.stringify({ name, version, release, sha256: await sha256(file) }, null, 2));
  });
  const info = JSON.parse(readFileSync(path.join(dir, 'box.json'), 'utf8')) as Omit<LocalBox, 'file'>;
  const box: LocalBox = { ...info, file: path.join(dir, 'kmatrix-debian12.box') };
  await addBox(box);
  return box;
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Is this box version known to vagrant under the harness's VAGRANT_HOME? */
export function boxAdded(name: string, version: string): boolean {
  return existsSync(path.join(vagrantHome(), 'boxes', name.replace(/\//g, '-VAGRANTSLASH-'), version, 'libvirt'));
}

/** `vagrant box add` of a local box through a catalog file (name and version pinned, checksum checked). */
async function addBox(box: LocalBox): Promise<void> {
  if (boxAdded(box.name, box.version)) return;
  const catalog = path.join(path.dirname(box.file), 'catalog.json');
  await writeFile(catalog + '.tmp', JSON.stringify(boxCatalog(box.name, box.version, box.file, box.sha256), null, 2));
  await rename(catalog + '.tmp', catalog);
  await mkdir(vagrantHome(), { recursive: true });
  const r = await execa('vagrant', ['box', 'add', '--provider', 'libvirt', '--box-version', box.version, catalog], { env: vagrantEnv(), reject: false, all: true, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`vagrant box add ${box.name} ${box.version} failed: ${lastMeaningful(r.all ?? '')}`);
}

/** The last line of vagrant's output that says something (not progress bars). */
export function lastMeaningful(out: string): string {
  const lines = out.replace(/\r/g, '\n').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split('\n').map((l) => l.trim()).filter((l) => l && !/^Progress:/.test(l));
  return lines.find((l) => /^Error: /.test(l)) ?? lines.find((l) => /error|failed|could not|couldn't|not found|unable/i.test(l)) ?? lines.pop() ?? '';
}
