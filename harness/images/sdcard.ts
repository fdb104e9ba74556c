// SD card images the way a Raspberry Pi boots them: an MBR with a FAT32 boot
// partition (firmware, kernel, device trees, config.txt, cmdline.txt) and an
// ext4 root partition, built from Debian packages without root privileges,
// loop devices or mounts — sfdisk writes the table, mkfs.vfat and mke2fs write
// their filesystems at the partitions' offsets inside the image file, mtools
// copies files in and out of the FAT. QEMU's raspi boards want the image size
// to be a power of two, so the root partition stretches to the padded end.
//
// Host tools: fdisk (sfdisk), dosfstools (mkfs.vfat), mtools (mmd, mcopy),
// e2fsprogs (mke2fs).
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, open, readdir, lstat, writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { extractDebs } from '../builder.js';
import { cached } from '../cache/cache.js';
import { UserError } from '../errors.js';
import type { KernelTree } from '../types.js';

const SECTOR = 512;
const MiB = 1024 * 1024;
/** First partition at 1 MiB, as fdisk and the Pi images do. */
const FIRST_PARTITION_MiB = 1;
/** FAT32 needs at least 65525 clusters: with 512-byte clusters that is a bit over 32 MiB. */
export const MIN_BOOT_MiB = 33;
export const DEFAULT_BOOT_MiB = 128;
/** Debian's Raspberry Pi images label their partitions this way (an initramfs can then take root=LABEL=RASPIROOT). */
export const BOOT_LABEL = 'RASPIFIRM';
export const ROOT_LABEL = 'RASPIROOT';
/** MBR partition types of FAT filesystems (FAT12, FAT16, FAT32 CHS/LBA, FAT16 LBA, EFI system). */
const FAT_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef]);
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' };
/** sfdisk, mkfs.vfat and mke2fs live in /usr/sbin, which a non-root user's PATH often lacks. */
const SBIN_PATH = [process.env.PATH ?? '/usr/bin:/bin', '/usr/sbin', '/sbin'].join(':');

/** Which Debian package provides each host tool, for the "not installed" message. */
const TOOL_PACKAGES: Record<string, string> = {
  sfdisk: 'fdisk',
  'mkfs.vfat': 'dosfstools',
  mke2fs: 'e2fsprogs',
  mmd: 'mtools',
  mcopy: 'mtools',
};

interface ToolResult {
  exitCode?: number;
  all: string;
  message: string;
}

async function run(tool: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<ToolResult> {
  const r = await execa(tool, args, { reject: false, all: true, env: { PATH: SBIN_PATH, ...opts.env }, ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }) });
  if (r.failed && r.exitCode === undefined && /ENOENT/.test(r.message ?? ''))
    throw new UserError(`${tool} is not installed; it comes with the Debian package ${TOOL_PACKAGES[tool] ?? tool} (scripts/setup.sh installs it).`);
  return { exitCode: r.exitCode, all: r.all ?? '', message: r.message ?? '' };
}

function failure(what: string, r: ToolResult): Error {
  const out = r.all.trim().split('\n').filter((l) => l.trim()).slice(-3).join(' | ');
  return new Error(`${what} failed (exit ${r.exitCode ?? '?'}): ${out || r.message}`);
}

export interface Extent {
  /** Byte offset in the image. */
  start: number;
  /** Length in bytes. */
  size: number;
}

export interface SdLayout {
  /** Image size: a power of two. */
  bytes: number;
  boot: Extent;
  root: Extent;
}

/** The smallest power of two ≥ n (n ≥ 1). */
export function nextPowerOfTwo(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`nextPowerOfTwo: ${n} is not a positive integer`);
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Where the partitions go: boot at 1 MiB with `bootSizeMiB`, root right after
 * with at least `rootSizeMiB`, the image padded to a power of two and the root
 * partition taking the padding (so no part of the card is unaccounted for).
 */
export function sdLayout(bootSizeMiB: number, rootSizeMiB: number): SdLayout {
  if (!Number.isInteger(bootSizeMiB) || bootSizeMiB < MIN_BOOT_MiB)
    throw new UserError(`SD boot partition: ${bootSizeMiB} MiB; FAT32 needs a whole number of at least ${MIN_BOOT_MiB} MiB.`);
  if (!Number.isInteger(rootSizeMiB) || rootSizeMiB < 1) throw new UserError(`SD root partition: ${rootSizeMiB} MiB is not a positive whole number.`);
  const boot = { start: FIRST_PARTITION_MiB * MiB, size: bootSizeMiB * MiB };
  const rootStart = boot.start + boot.size;
  const bytes = nextPowerOfTwo(rootStart + rootSizeMiB * MiB);
  return { bytes, boot, root: { start: rootStart, size: bytes - rootStart } };
}

/** The sfdisk script of a layout: DOS label, bootable FAT32 (LBA, type c) boot partition, Linux (83) root partition. */
export function sfdiskScript(layout: SdLayout, labelId = 0x6b6d6174 /* "kmat" */): string {
  const s = (n: number) => n / SECTOR;
  return [
    'label: dos',
    `label-id: 0x${labelId.toString(16).padStart(8, '0')}`,
    'unit: sectors',
    '',
    `start=${s(layout.boot.start)}, size=${s(layout.boot.size)}, type=c, bootable`,
    `start=${s(layout.root.start)}, size=${s(layout.root.size)}, type=83`,
    '',
  ].join('\n');
}

export interface MbrPartition {
  /** 1-based, as in mmcblk0p<number>. */
  number: number;
  /** MBR partition type byte (0x0c FAT32 LBA, 0x83 Linux, …). */
  type: number;
  bootable: boolean;
  start: number;
  size: number;
}

/** The primary partitions of an MBR (first sector of a disk); empty slots are left out. */
export function parseMbr(sector0: Uint8Array): MbrPartition[] {
  const b = Buffer.from(sector0.buffer, sector0.byteOffset, sector0.byteLength);
  if (b.length < SECTOR || b[510] !== 0x55 || b[511] !== 0xaa) throw new Error('no MBR partition table (missing 55 AA signature in sector 0)');
  const out: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    const type = b[e + 4]!;
    const sectors = b.readUInt32LE(e + 12);
    if (type === 0 || sectors === 0) continue;
    if (type === 0xee) throw new Error('GPT disk (protective MBR): only MBR-partitioned SD images are supported');
    out.push({ number: i + 1, type, bootable: b[e] === 0x80, start: b.readUInt32LE(e + 8) * SECTOR, size: sectors * SECTOR });
  }
  return out;
}

/** The partition table of an image file. */
export async function readPartitionTable(image: string): Promise<MbrPartition[]> {
  const fh = await open(image, 'r');
  try {
    const buf = Buffer.alloc(SECTOR);
    const { bytesRead } = await fh.read(buf, 0, SECTOR, 0);
    if (bytesRead < SECTOR) throw new Error(`${image}: shorter than one sector, not a disk image`);
    try {
      return parseMbr(buf);
    } catch (e) {
      throw new Error(`${image}: ${(e as Error).message}`);
    }
  } finally {
    await fh.close();
  }
}

/** The FAT partition a Pi boots from: the first primary partition with a FAT type. */
export async function bootPartition(image: string): Promise<MbrPartition> {
  const parts = await readPartitionTable(image);
  const fat = parts.find((p) => FAT_TYPES.has(p.type));
  if (!fat) throw new Error(`${image}: no FAT boot partition (partition types: ${parts.map((p) => `0x${p.type.toString(16)}`).join(', ') || 'none'})`);
  return fat;
}

/** A name on the FAT partition: relative, '/'-separated, no '.' or '..' components. */
function checkFatName(name: string): string[] {
  const parts = name.split('/');
  if (!name || name.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..'))
    throw new UserError(`boot file name "${name}": must be a relative path like "config.txt" or "overlays/x.dtbo"`);
  return parts;
}

/** Bytes of the regular files under a directory (symlinks counted as nothing). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) total += await treeBytes(p);
    else if (ent.isFile()) total += (await lstat(p)).size;
  }
  return total;
}

/** A root partition size that fits `bytes` of files with ext4's metadata and some room. */
export function rootSizeFor(bytes: number): number {
  return Math.ceil((bytes * 1.25) / MiB) + 16;
}

export interface SdImageOptions {
  /** Name on the FAT partition (may include subdirectories, e.g. 'overlays/x.dtbo') → host file. */
  bootFiles: Record<string, string>;
  /** Directory that becomes the ext4 root partition (mke2fs -d; owners and modes are copied as they are). */
  rootDir: string;
  /** The image file to write (replaced if it exists). */
  out: string;
  /** Boot partition size; default 128 MiB, at least 33 (FAT32). */
  bootSizeMiB?: number;
  /** Minimum root partition size; default: the root directory's size plus a quarter plus 16 MiB. */
  rootSizeMiB?: number;
}

/**
 * Build a Pi-style SD image: MBR, FAT32 boot partition holding `bootFiles`,
 * ext4 root partition made from `rootDir`, size padded to a power of two.
 * The file is sparse; nothing is mounted and nothing needs root.
 */
export async function makeSdImage(opts: SdImageOptions): Promise<{ file: string; bytes: number; layout: SdLayout }> {
  const names = Object.keys(opts.bootFiles);
  const seen = new Map<string, string>();
  for (const name of names) {
    checkFatName(name);
    const key = name.toLowerCase(); // FAT names are case-insensitive
    if (seen.has(key)) throw new UserError(`boot files "${seen.get(key)}" and "${name}" are the same name on FAT`);
    seen.set(key, name);
    if (!existsSync(opts.bootFiles[name]!)) throw new UserError(`boot file ${name}: ${opts.bootFiles[name]} does not exist`);
  }
  if (!existsSync(opts.rootDir)) throw new UserError(`SD root directory ${opts.rootDir} does not exist`);

  const layout = sdLayout(opts.bootSizeMiB ?? DEFAULT_BOOT_MiB, opts.rootSizeMiB ?? rootSizeFor(await treeBytes(opts.rootDir)));
  const img = opts.out;
  await mkdir(path.dirname(img), { recursive: true });
  await rm(img, { force: true });
  const fh = await open(img, 'w');
  await fh.truncate(layout.bytes); // sparse: only what the tools write takes space
  await fh.close();

  let r = await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', img], { input: sfdiskScript(layout) });
  if (r.exitCode !== 0) throw failure(`sfdisk ${img}`, r);

  // Root first: mke2fs is given the partition's byte offset and size, and must not discard (punch) anything else.
  r = await run('mke2fs', ['-F', '-q', '-t', 'ext4', '-L', ROOT_LABEL, '-d', opts.rootDir, '-E', `offset=${layout.root.start},nodiscard`, img, `${layout.root.size / 1024}k`], {
    env: { LC_ALL: 'C' },
  });
  if (r.exitCode !== 0) {
    const full = /could not allocate|no space|file system full/i.test(r.all) ? ` (the root directory does not fit in ${layout.root.size / MiB} MiB: raise rootSizeMiB)` : '';
    throw failure(`mke2fs of ${opts.rootDir} into ${img}${full}`, r);
  }

  // -h: hidden sectors = the partition's start, as a FAT inside a partition records it.
  const startSector = layout.boot.start / SECTOR;
  r = await run('mkfs.vfat', ['-F', '32', '-n', BOOT_LABEL, '--invariant', '-h', String(startSector), `--offset=${startSector}`, img, String(layout.boot.size / 1024)]);
  if (r.exitCode !== 0) throw failure(`mkfs.vfat in ${img}`, r);

  const fat = `${img}@@${layout.boot.start}`;
  const dirs = [...new Set(names.flatMap((n) => n.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))))].sort();
  for (const d of dirs) {
    r = await run('mmd', ['-i', fat, `::/${d}`], { env: MTOOLS_ENV });
    if (r.exitCode !== 0) throw failure(`mmd ${d} on the boot partition of ${img}`, r);
  }
  for (const name of names.sort()) {
    r = await run('mcopy', ['-i', fat, opts.bootFiles[name]!, `::/${name}`], { env: MTOOLS_ENV });
    if (r.exitCode !== 0) {
      const full = /disk full|no free/i.test(r.all) ? ` (the boot partition of ${layout.boot.size / MiB} MiB is full: raise bootSizeMiB)` : '';
      throw failure(`mcopy ${opts.bootFiles[name]} to ${name} on the boot partition of ${img}${full}`, r);
    }
  }
  return { file: img, bytes: layout.bytes, layout };
}

/**
 * Copy files from an image's FAT boot partition (found from its MBR) into
 * `outDir`, keeping their relative names; returns name → extracted path.
 */
export async function readBootFiles(image: string, names: string[], outDir: string): Promise<Record<string, string>> {
  const part = await bootPartition(image);
  const fat = `${image}@@${part.start}`;
  const out: Record<string, string> = {};
  for (const name of names) {
    checkFatName(name);
    const dest = path.join(outDir, ...name.split('/'));
    await mkdir(path.dirname(dest), { recursive: true });
    const r = await run('mcopy', ['-n', '-i', fat, `::/${name}`, dest], { env: MTOOLS_ENV });
    if (r.exitCode !== 0) {
      if (/not found/i.test(r.all))
        throw new Error(`${image}: no file "${name}" on the boot partition (FAT, partition ${part.number} at byte ${part.start})`);
      throw failure(`mcopy ${name} from the boot partition of ${image}`, r);
    }
    out[name] = dest;
  }
  return out;
}

export interface PiBootOptions {
  /** Root of the extracted `raspi-firmware` package (has usr/lib/raspi-firmware/). */
  firmwareDir: string;
  /** Root of the extracted `linux-image-<abi>` package (has boot/vmlinuz-<abi> and usr/lib/linux-image-<abi>/). */
  kernelDir: string;
  /** Kernel ABI (e.g. 6.1.0-50-arm64); default: the only boot/vmlinuz-* in kernelDir. */
  abi?: string;
  /** Where config.txt and cmdline.txt are written. */
  outDir: string;
  /** arm64 (kernel8.img, arm_64bit=1; default) or armhf (kernel7.img). */
  arch?: 'arm64' | 'armhf';
  /** Kernel command line (cmdline.txt). */
  cmdline?: string;
  /** An initramfs to put on the card as initrd.img (config.txt: `initramfs initrd.img followkernel`). */
  initramfs?: string;
}

/** QEMU's raspi boards have the PL011 as ttyAMA0; root by device name (the kernel alone cannot resolve LABEL=). */
export const DEFAULT_PI_CMDLINE = 'console=ttyAMA0,115200 root=/dev/mmcblk0p2 rw rootwait';

/** config.txt as Debian's raspi-firmware kernel hook writes it, with the kernel under the Pi's own name. */
export function piConfigTxt(o: { arch?: 'arm64' | 'armhf'; kernel: string; initramfs?: string }): string {
  return [
    '# Written by kmatrix (harness/sdcard.ts) after Debian raspi-firmware\'s kernel hook.',
    ...((o.arch ?? 'arm64') === 'arm64' ? ['arm_64bit=1'] : []),
    'enable_uart=1',
    'upstream_kernel=1',
    `kernel=${o.kernel}`,
    ...(o.initramfs ? [`initramfs ${o.initramfs} followkernel`] : []),
    '',
  ].join('\n');
}

/**
 * The boot partition a Pi would have, from Debian packages: the GPU firmware
 * (bootcode.bin, start*.elf, fixup*.dat), the kernel as kernel8.img (arm64) or
 * kernel7.img (armhf), the Broadcom device trees at the top (the firmware picks
 * its board's), config.txt and cmdline.txt. Returns name on FAT → host file.
 */
export async function piBootFilesFromDebian(o: PiBootOptions): Promise<Record<string, string>> {
  const arch = o.arch ?? 'arm64';
  const fwDir = path.join(o.firmwareDir, 'usr/lib/raspi-firmware');
  if (!existsSync(path.join(fwDir, 'bootcode.bin'))) throw new UserError(`${o.firmwareDir} is not an extracted raspi-firmware package (no usr/lib/raspi-firmware/bootcode.bin)`);
  const files: Record<string, string> = {};
  for (const f of readdirSync(fwDir).sort()) if (/^(bootcode\.bin|start.*\.elf|fixup.*\.dat)$/.test(f)) files[f] = path.join(fwDir, f);

  const bootDir = path.join(o.kernelDir, 'boot');
  const images = existsSync(bootDir) ? readdirSync(bootDir).filter((f) => /^vmlinuz-/.test(f)) : [];
  const abi = o.abi ?? (images.length === 1 ? images[0]!.slice('vmlinuz-'.length) : undefined);
  if (!abi) throw new UserError(`${o.kernelDir}: ${images.length ? `several kernels (${images.join(', ')}): name the abi` : 'no boot/vmlinuz-*: not an extracted linux-image package'}`);
  const vmlinuz = path.join(bootDir, `vmlinuz-${abi}`);
  if (!existsSync(vmlinuz)) throw new UserError(`${o.kernelDir}: no boot/vmlinuz-${abi}`);
  const kernel = arch === 'arm64' ? 'kernel8.img' : 'kernel7.img';
  files[kernel] = vmlinuz;

  // arm64 packages keep them under broadcom/, armhf ones at the top (as the raspi-firmware hook knows).
  const libDir = path.join(o.kernelDir, 'usr/lib', `linux-image-${abi}`);
  const dtbDir = [path.join(libDir, 'broadcom'), libDir].find((d) => existsSync(d) && readdirSync(d).some((f) => /^bcm.*\.dtb$/.test(f)));
  if (!dtbDir) throw new UserError(`${o.kernelDir}: no Broadcom device trees (bcm*.dtb) under usr/lib/linux-image-${abi}/`);
  for (const f of readdirSync(dtbDir).sort()) if (/^bcm.*\.dtb$/.test(f)) files[f] = path.join(dtbDir, f);

  if (o.initramfs) files['initrd.img'] = o.initramfs;
  await mkdir(o.outDir, { recursive: true });
  files['config.txt'] = path.join(o.outDir, 'config.txt');
  files['cmdline.txt'] = path.join(o.outDir, 'cmdline.txt');
  await writeFile(files['config.txt'], piConfigTxt({ arch, kernel, initramfs: o.initramfs ? 'initrd.img' : undefined }));
  await writeFile(files['cmdline.txt'], (o.cmdline ?? DEFAULT_PI_CMDLINE) + '\n');
  return files;
}

export interface PiSdCard {
  /** The card image (power-of-two size), attached to the board with -sd. */
  image: string;
  /** Kernel and device tree as read back from the card's boot partition. */
  kernel: string;
  dtb: string;
}

/** A file the card's root partition carries, so the guest can tell it mounted this card. */
export const SD_ROOT_MARK = 'kmatrix-sdcard';

/**
 * A Pi-style SD card from Debian packages — raspi-firmware, the kernel and its
 * device trees — cached by content, with the kernel and the board's DTB read
 * back from its FAT partition (as the Pi's firmware would load them).
 */
export async function piSdCard(debian: Debian, firmware: { suite: string; package: string }, kernel: KernelTree, dtbName: string): Promise<PiSdCard> {
  const arch = kernel.arch === 'armhf' ? 'armhf' : 'arm64';
  const fw = await debian.dist(firmware.suite, kernel.arch).download([firmware.package]);
  const dir = await cached('sdcards', [kernel.packages.map((p) => p.sha256), fw.map((p) => p.sha256)], async (out) => {
    const firmwareDir = path.join(out, 'firmware');
    await extractDebs(fw.map((p) => p.file), firmwareDir);
    const bootFiles = await piBootFilesFromDebian({ firmwareDir, kernelDir: kernel.root, abi: kernel.release, outDir: path.join(out, 'boot-extra'), arch });
    const rootDir = path.join(out, 'root');
    await mkdir(rootDir, { recursive: true });
    await writeFile(path.join(rootDir, SD_ROOT_MARK), `root partition of a kmatrix Pi SD card for ${kernel.release}\n`);
    await makeSdImage({ bootFiles, rootDir, out: path.join(out, 'sdcard.img') });
    await rm(firmwareDir, { recursive: true, force: true });
    await readBootFiles(path.join(out, 'sdcard.img'), [arch === 'arm64' ? 'kernel8.img' : 'kernel7.img', dtbName], path.join(out, 'from-card'));
  });
  const fromCard = path.join(dir, 'from-card');
  return { image: path.join(dir, 'sdcard.img'), kernel: path.join(fromCard, arch === 'arm64' ? 'kernel8.img' : 'kernel7.img'), dtb: path.join(fromCard, dtbName) };
}
