// An x86 kernel as QEMU's PVH entry boots it: the ELF (vmlinux) inside the
// bzImage, decompressed once on the host and cached. Under TCG the bzImage's
// own decompressor costs seconds a boot (xz: about half of a Debian 6.1
// boot); QEMU loads the ELF's segments itself and enters the kernel at its
// PVH note (XEN_ELFNOTE_PHYS32_ENTRY, CONFIG_PVH, Linux 4.11 on). What runs
// after that early entry is the same kernel, without KASLR (the ELF runs where
// it is linked). A kernel without the note, or whose payload is in a format
// not handled here, boots its bzImage as before.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { cached } from '../cache/cache.js';

/** The payload formats of Debian's, Ubuntu's and the EL kernels (extract-vmlinux's magics), with the tool that decompresses each. */
const PAYLOADS: { magic: Buffer; tool: string }[] = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz -dc' },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd -dcq' },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), tool: 'gzip -dc' },
];

/** The kernel's PVH-bootable ELF, or undefined when the bzImage has none to give (it is booted instead). */
export async function pvhImage(bzImage: string): Promise<string | undefined> {
  const bz = await readFile(bzImage);
  const dir = await cached('pvh', { image: createHash('sha256').update(bz).digest('hex'), v: 1 }, async (out) => {
    // an entry without vmlinux says "boot the bzImage", once, not at every cell
    const vmlinux = path.join(out, 'vmlinux');
    if (!(await payloadElf(bzImage, bz, vmlinux)) || !hasPvhEntry(await readFile(vmlinux))) await rm(vmlinux, { force: true });
  });
  const vmlinux = path.join(dir, 'vmlinux');
  return existsSync(vmlinux) ? vmlinux : undefined;
}

/** Write the ELF a bzImage carries to `to`: its payload decompressed from the first magic that yields one. */
async function payloadElf(bzImage: string, bz: Buffer, to: string): Promise<boolean> {
  for (const { magic, tool } of PAYLOADS) {
    for (let at = bz.indexOf(magic); at >= 0; at = bz.indexOf(magic, at + 1)) {
      // tail, not execa's input: a 10 MB input buffer takes execa half a minute.
      // The bzImage's data after the payload makes the tool complain (exit ≠ 0) after it wrote it all: the ELF header decides.
      await execa('sh', ['-c', `tail -c +"$2" "$1" | ${tool} > "$3"`, 'sh', bzImage, String(at + 1), to], { reject: false });
      if (await isElf(to)) return true;
    }
  }
  return false;
}

async function isElf(file: string): Promise<boolean> {
  const f = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    await f.read(head, 0, 4, 0);
    return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await f.close();
  }
}

/** Does this x86-64 ELF have a Xen PHYS32_ENTRY note (type 18), the PVH entry point? */
export function hasPvhEntry(elf: Buffer): boolean {
  // ELFCLASS64, little-endian, EM_X86_64
  if (elf.length < 64 || elf[4] !== 2 || elf[5] !== 1 || elf.readUInt16LE(18) !== 62) return false;
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > elf.length || elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    const start = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(elf.length, start + Number(elf.readBigUInt64LE(ph + 32)));
    for (let n = start; n + 12 <= end; ) {
      const namesz = elf.readUInt32LE(n);
      const descsz = elf.readUInt32LE(n + 4);
      const type = elf.readUInt32LE(n + 8);
      const name = elf.subarray(n + 12, n + 12 + namesz).toString('latin1');
      if (name === 'Xen\0' && type === 18) return true;
      n += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

const align4 = (n: number) => (n + 3) & ~3;
