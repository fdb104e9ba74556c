// The guest's own programs, built static once per arch in a builder root and
// cached: the syscall workload (images/guest/syscall-loop.c: a fixed loop of
// openat/close on one file, timed; a driver's cost against the loop untraced,
// in pdig cells and the bench) and the battery (images/guest/battery.c: a
// fixed script of system calls whose events the consumer must report right).
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from './cache/cache.js';
import type { Debian } from './apt.js';
import { builderRoot, debianTriplet, inBuilder, rootArches, TRIPLETS } from './builder.js';
import { hostDebianArch } from './machines.js';
import type { Arch } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
/** Where the guest finds it: `/kmatrix/syscall-loop COUNT FILE` prints the elapsed ns. */
export const SYSCALL_LOOP_IN_GUEST = 'kmatrix/syscall-loop';
/** Where the guest finds it: `/kmatrix/kmbattery NONCE [PORT]` (the process name the consumers filter on). */
export const BATTERY_IN_GUEST = 'kmatrix/kmbattery';
/** The soak's default length: short, as TCG runs the guest ~10× slower than hardware. */
export const DEFAULT_SOAK_SECONDS = 5;
/** The share of the driver's events it may drop (Falco's `Driver Drops` of events + drops) before a cell fails: any drop is a warning. */
export const DEFAULT_MAX_DROP_RATIO = 0.01;
/** The loop's default length: 100 000 openat/close pairs. */
export const DEFAULT_LOOP_COUNT = 100_000;
/** The suite whose gcc builds the userspace helpers (static: the guest's suite does not matter). */
export const USERSPACE_SUITE = 'bookworm';

/**
 * A builder root for userspace programs (C/C++, cmake, static libelf/zlib), of
 * the host arch, with the cross gcc and libc of each other arch it serves
 * (rootArches): one root for the guest programs of every arch and pdig.
 */
export function userspaceBuilderPackages(arch: Arch): string[] {
  const host = hostDebianArch();
  const cross = rootArches(host, arch).filter((a) => a !== host).flatMap((a) => [`gcc-${debianTriplet(a)}`, `libc6-dev-${a}-cross`]);
  return ['build-essential', 'cmake', 'libelf-dev', 'zlib1g-dev', ...cross];
}

/** The C source of a guest program. */
export const guestSource = (name: 'syscall-loop' | 'battery') => path.join(projectRoot, 'images', 'guest', `${name}.c`);

/** A static binary for `arch` from images/guest/<name>.c (host path), cached by its source and compiler. */
export async function guestProgram(debian: Debian, arch: Arch, name: 'syscall-loop' | 'battery'): Promise<string> {
  const root = await builderRoot(debian, USERSPACE_SUITE, userspaceBuilderPackages(arch));
  const file = guestSource(name);
  const source = readFileSync(file, 'utf8');
  const gcc = arch === hostDebianArch() ? 'gcc' : `${TRIPLETS[arch]}-gcc`;
  const cmd = [gcc, '-O2', '-static', '-o', `/out/${name}`, `/out/${name}.c`];
  const dir = await cached('workloads', { source, cmd, root }, async (out) => {
    await copyFile(file, path.join(out, `${name}.c`));
    const r = await inBuilder(root, [{ host: out, guest: '/out', writable: true }], cmd, { cwd: '/out' });
    await writeFile(path.join(out, 'build.log'), `${r.all ?? ''}\nexit ${r.exitCode}\n`);
    if (r.exitCode !== 0 || !existsSync(path.join(out, name))) throw new Error(`${name} build failed: ${(r.all ?? '').split('\n').find((l) => /error/.test(l)) ?? `exit ${r.exitCode}`}`);
  });
  return path.join(dir, name);
}

/** The static syscall-loop binary for `arch` (host path). */
export const syscallLoop = (debian: Debian, arch: Arch) => guestProgram(debian, arch, 'syscall-loop');

/** One timed run of the loop, as the guest reported it. */
export interface LoopTiming {
  count: number;
  ns: number;
}

/** The loop's stdout → elapsed ns (undefined when it printed no number). */
export function parseLoopOutput(stdout: string): number | undefined {
  const m = /^\s*(\d+)\s*$/m.exec(stdout);
  return m ? Number(m[1]) : undefined;
}

/** How many times slower than untraced (2 decimals), when both ran. */
export function slowdown(untraced: LoopTiming | undefined, traced: LoopTiming | undefined): number | undefined {
  if (!untraced || !traced || untraced.ns <= 0 || untraced.count !== traced.count) return undefined;
  return Math.round((traced.ns / untraced.ns) * 100) / 100;
}
