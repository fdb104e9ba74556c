// The guest image: busybox and a consumer's dependency closure, of a suite
// and arch, from Debian packages through the isolated apt, trimmed to what its
// programs load, packed as an uncompressed initramfs and cached by content.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, symlink, lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { extractDebs } from '../builder.js';
import { cached } from '../cache/cache.js';
import type { Arch, GuestImage } from '../types.js';
import { trimGuest } from './trim.js';

/** How guests are trimmed (guest-trim.ts); part of their cache key. */
const GUEST_TRIM = 'trim-v1';

/**
 * The guest's base initramfs: busybox and the dependency closure of
 * `packages`, of a suite and arch, trimmed to what its programs (and
 * `programs`, host files the cell adds) load.
 */
export async function guestImage(debian: Debian, suite: string, arch: Arch, packages: string[], programs: string[] = []): Promise<GuestImage> {
  const dist = debian.dist(suite, arch);
  const pkgs = await dist.closure([...packages, 'busybox-static']);
  const dir = await cached('guests', [...pkgs.map((p) => p.sha256).sort(), GUEST_TRIM, ...programs], async (out) => {
    const root = path.join(out, 'root');
    await extractDebs(pkgs.map((p) => p.file), root);
    await mergeUsr(root);
    for (const junk of ['usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info', 'usr/share/lintian'])
      await rm(path.join(root, junk), { recursive: true, force: true });
    await trimGuest(root, ['usr/share/sysdig'], programs);
    await writeCpio(root, path.join(out, 'base.cpio'));
    await rm(root, { recursive: true, force: true });
  });
  return { cpio: path.join(dir, 'base.cpio'), packages: pkgs.map(({ name, version }) => ({ name, version })) };
}

/** Make /bin, /sbin, /lib* links into /usr, as a merged-/usr system has them (the dynamic loader path needs it). */
async function mergeUsr(root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    const top = path.join(root, d);
    const usr = path.join(root, 'usr', d);
    const st = await lstat(top).catch(() => undefined);
    if (st?.isSymbolicLink()) continue;
    if (st?.isDirectory()) {
      await mkdir(usr, { recursive: true });
      await cp(top, usr, { recursive: true, force: true, verbatimSymlinks: true });
      await rm(top, { recursive: true, force: true });
    }
    if (existsSync(usr)) await symlink(`usr/${d}`, top);
  }
}

/** Pack a directory as an uncompressed newc cpio archive (no decompression cost under TCG). */
export async function writeCpio(dir: string, out: string): Promise<void> {
  await execa('sh', ['-c', 'cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 > "$2"', 'sh', dir, out]);
}
