// images/pvh.ts: the bzImage's ELF for QEMU's PVH entry — found behind each
// payload format, kept only with its PVH note, and never a guess.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, setCacheDir } from '../../harness/cache/cache.js';
import { hasPvhEntry, pvhImage } from '../../harness/images/pvh.js';
import { tempDir } from '../tmp.js';

/** An ELF64 x86-64 header and one PT_NOTE segment holding these notes (name, type). */
function elf(notes: [string, number][], machine = 62): Buffer {
  const note = Buffer.concat(
    notes.map(([name, type]) => {
      const n = Buffer.from(name + '\0');
      const b = Buffer.alloc(12 + ((n.length + 3) & ~3) + 4);
      b.writeUInt32LE(n.length, 0);
      b.writeUInt32LE(4, 4);
      b.writeUInt32LE(type, 8);
      n.copy(b, 12);
      return b;
    }),
  );
  const h = Buffer.alloc(64 + 56);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(h);
  h.writeUInt16LE(2, 16); // ET_EXEC
  h.writeUInt16LE(machine, 18);
  h.writeBigUInt64LE(64n, 32); // e_phoff
  h.writeUInt16LE(56, 54);
  h.writeUInt16LE(1, 56);
  h.writeUInt32LE(4, 64); // PT_NOTE
  h.writeBigUInt64LE(BigInt(h.length), 64 + 8); // p_offset
  h.writeBigUInt64LE(BigInt(note.length), 64 + 32); // p_filesz
  return Buffer.concat([h, note]);
}

/** A bzImage-like file: a setup stub, the compressed ELF, trailing data. */
async function bzImage(dir: string, name: string, payload: Buffer, tool: string[]): Promise<string> {
  const packed = Buffer.from((await execa(tool[0]!, tool.slice(1), { input: payload, encoding: 'buffer', stripFinalNewline: false })).stdout);
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat([Buffer.alloc(4096, 0x90), packed, Buffer.from('trailing data the decompressor complains about')]));
  return file;
}

describe('images/pvh: the kernel ELF QEMU enters at its PVH entry', function () {
  this.timeout(20_000);
  const PVH = elf([['Xen', 6], ['Xen', 18]]);
  let saved: string;
  before(() => {
    saved = cacheDir();
    setCacheDir(tempDir('km-pvh-cache-'));
  });
  after(() => setCacheDir(saved));

  it('hasPvhEntry: only an x86-64 ELF with a Xen note of type 18 (PHYS32_ENTRY)', () => {
    assert.equal(hasPvhEntry(PVH), true);
    assert.equal(hasPvhEntry(elf([['Xen', 6], ['Xen', 5]])), false, 'Xen notes, no PVH entry');
    assert.equal(hasPvhEntry(elf([['GNU', 18]])), false, 'type 18 of another owner');
    assert.equal(hasPvhEntry(elf([['Xen', 18]], 183)), false, 'an aarch64 ELF');
    assert.equal(hasPvhEntry(Buffer.from('not an elf at all, not even close to 64 bytes long................')), false);
  });

  for (const tool of [['xz', '-c'], ['zstd', '-cq'], ['gzip', '-c']])
    it(`a ${tool[0]} payload: its ELF, byte for byte, cached`, async () => {
      const dir = tempDir('km-pvh-');
      const vmlinux = await pvhImage(await bzImage(dir, `vmlinuz-${tool[0]}`, PVH, tool));
      assert.ok(vmlinux && existsSync(vmlinux));
      assert.deepEqual(readFileSync(vmlinux), PVH);
      assert.equal(await pvhImage(path.join(dir, `vmlinuz-${tool[0]}`)), vmlinux, 'the second call finds it');
    });

  it('no PVH note, or no payload to find: undefined (the bzImage boots), and that answer is cached too', async () => {
    const dir = tempDir('km-pvh-');
    const noNote = await bzImage(dir, 'vmlinuz-old', elf([['Xen', 6]]), ['xz', '-c']);
    assert.equal(await pvhImage(noNote), undefined);
    assert.equal(await pvhImage(noNote), undefined);
    const junk = path.join(dir, 'vmlinuz-junk');
    writeFileSync(junk, Buffer.alloc(8192, 0x5a));
    assert.equal(await pvhImage(junk), undefined);
  });
});
