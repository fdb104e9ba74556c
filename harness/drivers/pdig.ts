// pdig, the ptrace-based userspace driver: built with cmake and gcc against
// the libs tree of its source (FALCO_LIBS_DIR, with the configured
// driver_config.h), statically linked so the guest needs nothing for it.
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cached } from '../cache/cache.js';
import type { Debian } from '../apt.js';
import { builderRoot, firstCompilerError, inBuilder } from '../builder.js';
import { copyCheckout } from '../git.js';
import { ARTIFACT_IN_GUEST } from '../guest.js';
import type { DriverTree, KernelTree, ProfileSpec, SourceSpec } from '../types.js';
import { buildDriver, type DriverBuild } from './build.js';
import { fetchDriverSource } from './index.js';
import { SYSCALL_LOOP_IN_GUEST, syscallLoop, USERSPACE_SUITE, userspaceBuilderPackages } from '../workload.js';

/** Where the guest finds pdig. */
export const PDIG_IN_GUEST = 'kmatrix/pdig';

/**
 * The build, in the builder root: libs' userspace includes <linux/openat2.h>'s
 * struct open_how only implicitly, which Debian's kernel headers no longer
 * provide that way (bookworm): include it. Static, so the guest needs no libstdc++.
 */
export const PDIG_BUILD = [
  'set -e',
  'cmake -S /src/pdig -B /work/build -DCMAKE_BUILD_TYPE=Release -DFALCO_LIBS_DIR=/src/libs "-DCMAKE_C_FLAGS=-include linux/openat2.h" "-DCMAKE_CXX_FLAGS=-include linux/openat2.h" -DCMAKE_EXE_LINKER_FLAGS=-static',
  'make -C /work/build -j2 pdig',
  'cp /work/build/pdig /work/pdig',
].join('\n');

/** Build pdig for amd64, cached by the two trees and the builder. */
export async function buildPdig(debian: Debian, tree: DriverTree): Promise<DriverBuild> {
  const { pdig } = tree;
  if (!pdig) throw new Error(`${tree.origin} is not a pdig source`);
  const root = await builderRoot(debian, USERSPACE_SUITE, userspaceBuilderPackages('amd64'));
  let fresh = false;
  const out = await cached('builds', { pdig: tree.origin, script: PDIG_BUILD, root }, async (dir) => {
    fresh = true;
    // FALCO_LIBS_DIR: the libs checkout with its configured driver tree over its driver/
    const libs = path.join(dir, 'libs');
    await copyCheckout(pdig.libs, libs);
    await cp(tree.dir, path.join(libs, 'driver'), { recursive: true });
    await mkdir(path.join(dir, 'work'));
    const x = await inBuilder(
      root,
      [
        { host: pdig.tree, guest: '/src/pdig' },
        { host: libs, guest: '/src/libs' },
        { host: path.join(dir, 'work'), guest: '/work', writable: true },
      ],
      ['sh', '-c', PDIG_BUILD],
      { cwd: '/work' },
    );
    await writeFile(path.join(dir, 'build.log'), `$ sh -c '${PDIG_BUILD}'   # builder: ${USERSPACE_SUITE}\n${x.all ?? ''}\nexit ${x.exitCode}\n`);
    await writeFile(path.join(dir, 'result.json'), JSON.stringify({ ok: x.exitCode === 0 && existsSync(path.join(dir, 'work', 'pdig')) }));
  });
  const ok = (JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as { ok: boolean }).ok;
  const log = path.join(out, 'build.log');
  return {
    ok,
    artifact: ok ? path.join(out, 'work', 'pdig') : undefined,
    log,
    cached: !fresh,
    firstError: ok ? undefined : firstCompilerError(readFileSync(log, 'utf8')) ?? 'build failed',
    root,
  };
}

/**
 * Everything a pdig cell sends to the guest: pdig itself, the timed syscall
 * loop, and — where the profile can load modules — the kernel module of the
 * same libs tree, so that pdig's cost is measured next to kmod's on the same
 * kernel. Only pdig's own build decides the cell; the others are best effort.
 */
export async function pdigAssets(
  debian: Debian,
  tree: DriverTree,
  kernel: KernelTree,
  profile: ProfileSpec,
  compare?: SourceSpec,
): Promise<{ build: DriverBuild; files: Record<string, string>; notes: string[] }> {
  const build = await buildPdig(debian, tree);
  if (!build.ok) return { build, files: {}, notes: [] };
  const files: Record<string, string> = { [PDIG_IN_GUEST]: build.artifact!, [SYSCALL_LOOP_IN_GUEST]: await syscallLoop(debian, kernel.arch) };
  const notes: string[] = [];
  if (!profile.capabilities && !profile.cmdline?.length) {
    // the module read by the same consumer: the source's own libs tree, or the one it names (e.g. Debian's patched tree of that commit)
    const other = compare ? await fetchDriverSource(debian, compare).catch((e: unknown) => (notes.push(`kmod: ${compare.id}: ${(e as Error).message}`), undefined)) : tree;
    const kmod = other ? await buildDriver(debian, 'kmod', other, kernel) : undefined;
    if (kmod?.ok) files[ARTIFACT_IN_GUEST.kmod!] = kmod.artifact!;
    else if (kmod) notes.push(`kmod: the kernel module of ${compare?.id ?? 'the libs tree'} did not build here: ${kmod.firstError}`);
  } else notes.push(`kmod: the ${profile.id} profile cannot load kernel modules`);
  return { build, files, notes };
}
