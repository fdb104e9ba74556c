import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import {
  makeSdImage,
  nextPowerOfTwo,
  parseMbr,
  piBootFilesFromDebian,
  piConfigTxt,
  readBootFiles,
  readPartitionTable,
  sdLayout,
  sfdiskScript,
} from '../../harness/images/sdcard.js';

const MiB = 1024 * 1024;
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
const hasTools = ['sfdisk', 'mkfs.vfat', 'mke2fs', 'mcopy', 'mmd', 'debugfs'].every((t) => {
  try {
    execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore', env });
    return true;
  } catch {
    return false;
  }
});

function write(file: string, data: string | Buffer): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
  return file;
}

describe('sdcard: layout and partition table', () => {
  it('pads to a power of two and gives the padding to the root partition', () => {
    assert.equal(nextPowerOfTwo(1), 1);
    assert.equal(nextPowerOfTwo(129 * MiB), 256 * MiB);
    assert.equal(nextPowerOfTwo(256 * MiB), 256 * MiB);
    const l = sdLayout(128, 20);
    assert.deepEqual(l, { bytes: 256 * MiB, boot: { start: MiB, size: 128 * MiB }, root: { start: 129 * MiB, size: 127 * MiB } });
    assert.throws(() => sdLayout(16, 20), /FAT32 needs .* at least 33 MiB/);
  });

  it('writes a DOS label with a bootable FAT32-LBA partition and a Linux one', () => {
    const s = sfdiskScript(sdLayout(64, 8));
    assert.match(s, /^label: dos$/m);
    assert.match(s, /^start=2048, size=131072, type=c, bootable$/m);
    assert.match(s, /^start=133120, size=129024, type=83$/m);
  });

  it('parses MBR entries and rejects sectors without a table or with GPT', () => {
    const b = Buffer.alloc(512);
    b[510] = 0x55;
    b[511] = 0xaa;
    b[446] = 0x80;
    b[446 + 4] = 0x0c;
    b.writeUInt32LE(2048, 446 + 8);
    b.writeUInt32LE(4096, 446 + 12);
    b[446 + 32 + 4] = 0x83; // slot 3: the number follows the slot
    b.writeUInt32LE(8192, 446 + 32 + 8);
    b.writeUInt32LE(100, 446 + 32 + 12);
    assert.deepEqual(parseMbr(b), [
      { number: 1, type: 0x0c, bootable: true, start: MiB, size: 2 * MiB },
      { number: 3, type: 0x83, bootable: false, start: 4 * MiB, size: 51200 },
    ]);
    assert.throws(() => parseMbr(Buffer.alloc(512)), /no MBR/);
    b[446 + 4] = 0xee;
    assert.throws(() => parseMbr(b), /GPT/);
  });
});

describe('sdcard: Pi boot files from Debian packages', () => {
  it('maps firmware, kernel8.img, Broadcom device trees, config.txt and cmdline.txt', async () => {
    const t = tempDir('kmatrix-pi-');
    try {
      for (const f of ['bootcode.bin', 'start.elf', 'start4.elf', 'fixup.dat', 'fixup4.dat'])
        write(path.join(t, 'fw/usr/lib/raspi-firmware', f), f);
      write(path.join(t, 'fw/lib/firmware/brcm/brcmfmac43430-sdio.bin'), 'wifi');
      write(path.join(t, 'k/boot/vmlinuz-6.1.0-50-arm64'), 'kernel');
      write(path.join(t, 'k/boot/config-6.1.0-50-arm64'), 'CONFIG_X=y');
      for (const f of ['bcm2837-rpi-3-b.dtb', 'bcm2711-rpi-4-b.dtb'])
        write(path.join(t, 'k/usr/lib/linux-image-6.1.0-50-arm64/broadcom', f), f);
      write(path.join(t, 'k/usr/lib/linux-image-6.1.0-50-arm64/freescale/imx8mq-evk.dtb'), 'x');
      const files = await piBootFilesFromDebian({ firmwareDir: path.join(t, 'fw'), kernelDir: path.join(t, 'k'), outDir: path.join(t, 'out'), cmdline: 'console=ttyAMA0 root=/dev/mmcblk0p2' });
      assert.deepEqual(Object.keys(files).sort(), [
        'bcm2711-rpi-4-b.dtb', 'bcm2837-rpi-3-b.dtb', 'bootcode.bin', 'cmdline.txt', 'config.txt',
        'fixup.dat', 'fixup4.dat', 'kernel8.img', 'start.elf', 'start4.elf',
      ]);
      assert.equal(files['kernel8.img'], path.join(t, 'k/boot/vmlinuz-6.1.0-50-arm64'));
      const config = readFileSync(files['config.txt']!, 'utf8');
      assert.match(config, /^arm_64bit=1$/m);
      assert.match(config, /^kernel=kernel8\.img$/m);
      assert.doesNotMatch(config, /initramfs/);
      assert.equal(readFileSync(files['cmdline.txt']!, 'utf8'), 'console=ttyAMA0 root=/dev/mmcblk0p2\n');
      await assert.rejects(piBootFilesFromDebian({ firmwareDir: path.join(t, 'k'), kernelDir: path.join(t, 'k'), outDir: path.join(t, 'out') }), /not an extracted raspi-firmware/);
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('armhf: kernel7.img, no arm_64bit; an initramfs goes after the kernel', () => {
    const c = piConfigTxt({ arch: 'armhf', kernel: 'kernel7.img', initramfs: 'initrd.img' });
    assert.doesNotMatch(c, /arm_64bit/);
    assert.match(c, /^kernel=kernel7\.img$/m);
    assert.match(c, /^initramfs initrd\.img followkernel$/m);
  });
});

describe('sdcard: image build and read-back (mtools, no mounting)', function () {
  this.timeout(15_000);
  let t = '';
  let image = '';
  const kernel = Buffer.alloc(3 * MiB + 17);
  for (let i = 0; i < kernel.length; i++) kernel[i] = (i * 131 + (i >> 12)) & 0xff;
  const dtb = Buffer.from('\xd0\x0d\xfe\xed fake device tree', 'latin1');

  before(async function () {
    if (!hasTools) this.skip();
    t = tempDir('kmatrix-sd-');
    write(path.join(t, 'root/init'), '#!/bin/sh\necho hi\n');
    write(path.join(t, 'root/etc/hostname'), 'pi\n');
    const boot = {
      'kernel8.img': write(path.join(t, 'in/vmlinuz'), kernel),
      'bcm2837-rpi-3-b.dtb': write(path.join(t, 'in/rpi3.dtb'), dtb),
      'config.txt': write(path.join(t, 'in/config.txt'), 'arm_64bit=1\nkernel=kernel8.img\n'),
      'overlays/test.dtbo': write(path.join(t, 'in/test.dtbo'), 'overlay'),
    };
    ({ file: image } = await makeSdImage({ bootFiles: boot, rootDir: path.join(t, 'root'), out: path.join(t, 'out/sd.img'), bootSizeMiB: 40 }));
  });
  after(() => t && rmSync(t, { recursive: true, force: true }));

  it('is a power of two in size', () => {
    const { size } = statSync(image);
    assert.equal(size & (size - 1), 0, `${size} is not a power of two`);
    assert.equal(size, 64 * MiB);
  });

  it('has the FAT32 boot partition and the Linux root partition (as sfdisk reads them too)', async () => {
    const parts = await readPartitionTable(image);
    assert.deepEqual(parts.map((p) => [p.number, p.type, p.bootable, p.start]), [[1, 0x0c, true, MiB], [2, 0x83, false, 41 * MiB]]);
    assert.equal(parts[1]!.start + parts[1]!.size, 64 * MiB, 'root reaches the end of the card');
    const json = JSON.parse(execFileSync('sfdisk', ['--json', image], { encoding: 'utf8', env }));
    assert.deepEqual(json.partitiontable.partitions.map((p: { type: string }) => p.type), ['c', '83']);
  });

  it('reads back the exact bytes of the boot files, subdirectories included', async () => {
    const got = await readBootFiles(image, ['kernel8.img', 'bcm2837-rpi-3-b.dtb', 'overlays/test.dtbo'], path.join(t, 'back'));
    assert.equal(got['kernel8.img'], path.join(t, 'back/kernel8.img'));
    assert.ok(readFileSync(got['kernel8.img']!).equals(kernel));
    assert.ok(readFileSync(got['bcm2837-rpi-3-b.dtb']!).equals(dtb));
    assert.equal(readFileSync(got['overlays/test.dtbo']!, 'utf8'), 'overlay');
  });

  it('holds the root directory in an ext4 root partition', () => {
    const parts = execFileSync('sfdisk', ['--json', image], { encoding: 'utf8', env });
    const start = JSON.parse(parts).partitiontable.partitions[1].start * 512;
    const out = execFileSync('debugfs', ['-R', 'cat /etc/hostname', `${image}?offset=${start}`], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(out, 'pi\n');
  });

  it('names the image and the file when a boot file is missing', async () => {
    await assert.rejects(readBootFiles(image, ['kernel8.img', 'bcm2710-rpi-3-b.dtb'], path.join(t, 'back2')), (e: Error) => {
      assert.ok(e.message.includes(image), e.message);
      assert.match(e.message, /no file "bcm2710-rpi-3-b\.dtb" on the boot partition/);
      return true;
    });
  });
});
