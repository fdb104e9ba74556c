// Building a driver for one kernel: the kernel module or the legacy eBPF probe
// from its tree, on the host, inside the builder root of the kernel's suite
// (the compiler that built the kernel), cached by tree, kernel and builder.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { builderRoot, firstCompilerError, inBuilder, kernelBuilderPackages, TRIPLETS } from '../builder.js';
import { cached } from '../cache/cache.js';
import { InfraError } from '../errors.js';
import { compilerAliases } from '../kernels/compiler.js';
import { hostDebianArch } from '../machines.js';
import type { DriverTree, KernelTree } from '../types.js';

export interface DriverBuild {
  ok: boolean;
  artifact?: string;
  log: string;
  cached: boolean;
  firstError?: string;
  /** The builder root it was built in (its packages tell the toolchain). */
  root?: string;
}

/** clang targets for the kernel's asm headers: armhf kernels are ARMv7 (plain arm-linux-gnueabihf means no SMP). */
const CLANG_TARGETS: Record<string, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', armhf: 'armv7a-linux-gnueabihf' };

/** How a driver is built from its tree, in the builder root of the kernel's suite. */
export function buildRecipe(driver: 'kmod' | 'ebpf', kernel: Pick<KernelTree, 'headers' | 'arch' | 'version'>, module = 'scap'): { cwd: string; cmd: string[]; artifact: string } {
  const kdir = `/kernel/${kernel.headers}`;
  if (driver === 'kmod') {
    // Debian's headers set ARCH themselves; only the cross gcc prefix is needed for a foreign arch.
    const cross = kernel.arch !== hostDebianArch() ? [`CROSS_COMPILE=${TRIPLETS[kernel.arch]}-`] : [];
    return { cwd: '/build', cmd: ['make', '-j2', '-C', kdir, 'M=/build', `KERNELDIR=${kdir}`, ...cross, 'modules'], artifact: `${module}.ko` };
  }
  // The probe's configure tests run with an empty environment but CLANG: every flag goes inside it.
  const major = Number(kernel.version.split('.')[0]);
  const clang = [
    'clang',
    ...(kernel.arch !== hostDebianArch() ? [`--target=${CLANG_TARGETS[kernel.arch]}`] : []), // the kernel's asm headers
    ...(major >= 7 ? ['-fms-extensions'] : []),
    ...(major >= 7 && kernel.arch === 'amd64' ? ['-DCC_USING_FENTRY'] : []),
  ].join(' ');
  return { cwd: '/build/bpf', cmd: ['make', `KERNELDIR=${kdir}`, `CLANG=${clang}`], artifact: 'bpf/probe.o' };
}

/** The module a tree's Makefile builds (`obj-m += <name>.o`): scap since libs, sysdig-probe or falco before. */
export function moduleName(dir: string): string {
  const mk = path.join(dir, 'Makefile');
  return (existsSync(mk) && /^obj-m\s*\+?=\s*(\S+)\.o\s*$/m.exec(readFileSync(mk, 'utf8'))?.[1]) || 'scap';
}

/** A driver tree's content, so that an edited local tree is rebuilt (and an unchanged one is not). */
export function treeHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of (readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const file = path.join(dir, f);
    if (statSync(file).isFile()) h.update(f).update('\0').update(readFileSync(file));
  }
  return h.digest('hex').slice(0, 16);
}

/** A failed build's first error: the compiler's, or — make having succeeded — the artifact it did not build. */
function buildError(log: string, artifact: string, work: string): string {
  return /\nexit 0\n*$/.test(log) ? noArtifact(artifact, work) : firstCompilerError(log) ?? 'build failed';
}

/** Why make exited 0 without the artifact. */
export function noArtifact(artifact: string, work: string): string {
  const mk = path.join(work, path.dirname(artifact), 'Makefile');
  const oldAlways = artifact.endsWith('probe.o') && existsSync(mk) && /^always\s*\+=/m.test(readFileSync(mk, 'utf8'));
  return `make exited 0 but built no ${artifact}${oldAlways ? " (the probe's Makefile names it with kbuild's old `always +=`, which this kernel's kbuild no longer builds)" : ''}`;
}

/** What a kernel tree is now (its entry and headers Makefile): a build compares it before and after. */
export function treeIdentity(kernel: Pick<KernelTree, 'root' | 'headers'>): string {
  try {
    const mk = statSync(path.join(kernel.root, kernel.headers, 'Makefile'));
    return `${statSync(kernel.root).ino}:${mk.ino}:${mk.size}:${mk.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * A build that failed while its kernel tree was removed or replaced under it
 * (another process pruning or re-extracting it) says nothing about the
 * driver: infrastructure, never a cached failure.
 */
export function assertTreeUnchanged(before: string, kernel: Pick<KernelTree, 'root' | 'headers'>, what: string): void {
  const after = treeIdentity(kernel);
  if (after !== before)
    throw new InfraError(`${what}: the kernel tree ${kernel.root} ${after === 'missing' ? 'disappeared' : 'was replaced'} during the build (another process removed or rebuilt it); nothing kept`);
}

/** Build a driver (kernel module or legacy probe) for one kernel, cached by source tree + kernel packages + builder. */
export async function buildDriver(debian: Debian, driver: 'kmod' | 'ebpf', tree: DriverTree, kernel: KernelTree): Promise<DriverBuild> {
  const root = await builderRoot(debian, kernel.builder.suite, kernelBuilderPackages(kernel, hostDebianArch()));
  const r = buildRecipe(driver, kernel, moduleName(tree.dir));
  const cross = kernel.arch !== hostDebianArch() ? TRIPLETS[kernel.arch] : undefined;
  const aliases = compilerAliases(kernel.builder, kernel.arch, hostDebianArch());
  const key = { driver, r, cross, tree: tree.origin, treeHash: treeHash(tree.dir), kernel: kernel.packages.map((p) => p.sha256), root, ...(aliases ? { aliases } : {}) };
  let fresh = false;
  const out = await cached('builds', key, async (dir) => {
    fresh = true;
    const work = path.join(dir, 'src');
    await mkdir(work, { recursive: true });
    await cp(tree.dir, work, { recursive: true });
    const before = treeIdentity(kernel);
    const x = await inBuilder(root, [{ host: kernel.root, guest: '/kernel' }, { host: work, guest: '/build', writable: true }], r.cmd, { cwd: r.cwd, crossBinutils: cross, aliases });
    if (x.exitCode !== 0) assertTreeUnchanged(before, kernel, `${driver} build for ${kernel.release}`);
    let log = `$ (cd ${r.cwd} && ${r.cmd.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')})   # builder: ${kernel.builder.suite} ${kernel.builder.compiler}; kernel built by ${kernel.compiler}\n${x.all ?? ''}\nexit ${x.exitCode}\n`;
    // A failed probe sanity check hides the compiler's words in its own log.
    const sanity = path.join(work, 'bpf/configure/0__SANITY/build.log');
    if (x.exitCode !== 0 && existsSync(sanity)) log += `\n--- bpf/configure/0__SANITY/build.log\n${readFileSync(sanity, 'utf8')}`;
    await writeFile(path.join(dir, 'build.log'), log);
    await writeFile(path.join(dir, 'result.json'), JSON.stringify({ ok: x.exitCode === 0 && existsSync(path.join(work, r.artifact)), treeChecked: true }));
  }, (dir) => {
    // a failure kept before the tree check existed may be a tree removed under the build: built once more
    const kept = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')) as { ok: boolean; treeChecked?: boolean };
    return kept.ok || kept.treeChecked === true;
  });
  const result = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as { ok: boolean };
  const log = path.join(out, 'build.log');
  return {
    ok: result.ok,
    artifact: result.ok ? path.join(out, 'src', r.artifact) : undefined,
    log,
    cached: !fresh,
    firstError: result.ok ? undefined : buildError(readFileSync(log, 'utf8'), r.artifact, path.join(out, 'src')),
    root,
  };
}
