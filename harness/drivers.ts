// Drivers: where a driver's source comes from (a Debian falcosecurity-scap-dkms
// tree, or a local configured tree), what it declares (versions), and building
// it for one kernel on the host inside the builder root of the kernel's suite.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cached } from './cache/cache.js';
import { builderRoot, extractDebs, inBuilder, kernelBuilderPackages, TRIPLETS, type Debian } from './images.js';
import { compilerAliases } from './kernels/compiler.js';
import type { KernelTree } from './kernels/index.js';
import { hostDebianArch } from './machines.js';
import { fetchGitSource } from './drivers/sources.js';
import type { Arch, ConsumerSpec, DriverId, SourceSpec, Versions } from './types.js';

export interface DriverTree {
  /** The driver dir (kmod sources at top, legacy probe in bpf/). */
  dir: string;
  version: string;
  versions: Versions;
  origin: string;
  /** A pdig source: pdig's checkout and the libs checkout it builds against. */
  pdig?: { tree: string; libs: string };
}

/** A cell that cannot run here, with its reason: a skip, never a failure. */
export class CellSkip extends Error {}

/** A source (package, source package, tree) the harness cannot have. */
export class SourceUnavailable extends CellSkip {
  constructor(message: string) {
    super(`source unavailable: ${message}`);
  }
}

/** Is an apt failure the archive not having the thing (a skip), rather than a fault (an error)? */
export function isUnavailable(e: unknown): boolean {
  return /\b404\b|Not Found|Unable to find a source package|Unable to locate package|not found in|has no installation candidate|Can't select/i.test(
    e instanceof Error ? e.message : String(e),
  );
}

/** Fetch a driver source; one that cannot be had raises SourceUnavailable (the cell is a skip). */
export async function fetchDriverSource(debian: Debian, src: SourceSpec): Promise<DriverTree> {
  if (src.dir) {
    if (!existsSync(path.join(src.dir, 'driver_config.h')))
      throw new SourceUnavailable(`local driver tree ${src.dir} has no driver_config.h (run libs' cmake configure step first)`);
    return { dir: src.dir, ...readDriverConfig(src.dir), origin: `dir:${src.dir}` };
  }
  if (src.git) return fetchGitSource(src);
  const deb = src.debian!;
  let files;
  try {
    files = await debian.dist(deb.suite, 'amd64').download([deb.package]);
  } catch (e) {
    if (!isUnavailable(e)) throw e;
    throw new SourceUnavailable(`${deb.package} from ${deb.suite} is not available: ${(e as Error).message}`);
  }
  const root = await cached('sources', files.map((f) => f.sha256), (dir) => extractDebs(files.map((f) => f.file), dir));
  const usrSrc = path.join(root, 'usr/src');
  const tree = readdirSync(usrSrc).find((d) => existsSync(path.join(usrSrc, d, 'driver_config.h')));
  if (!tree) throw new SourceUnavailable(`${deb.package} (${deb.suite}) has no configured driver tree under /usr/src`);
  const dir = path.join(usrSrc, tree);
  return { dir, ...readDriverConfig(dir), origin: `debian:${deb.suite}/${deb.package}=${files[0]!.version}` };
}

export function readDriverConfig(dir: string): { version: string; versions: Versions } {
  const text = readFileSync(path.join(dir, 'driver_config.h'), 'utf8');
  const num = (name: string) => new RegExp(`#define\\s+${name}\\s+(\\d+)`).exec(text)?.[1] ?? '0';
  const triple = (kind: 'API' | 'SCHEMA') =>
    ['MAJOR', 'MINOR', 'PATCH'].map((p) => num(`PPM_${kind}_CURRENT_VERSION_${p}`)).join('.');
  return {
    // sysdig-era trees (before API/schema versions) call it PROBE_VERSION
    version: /#define\s+(?:DRIVER|PROBE)_VERSION\s+"([^"]+)"/.exec(text)?.[1] ?? 'unknown',
    versions: { api: triple('API'), schema: triple('SCHEMA') },
  };
}

function parseVersion(v: string): number[] {
  return v.split('.').map(Number);
}

/** libscap's rule: same major, and minor.patch at least the consumer's minimum. */
export function consumerAccepts(required: Versions, driver: Versions): { ok: boolean; why?: string } {
  for (const kind of ['api', 'schema'] as const) {
    const [rM, rm, rp] = parseVersion(required[kind]);
    const [dM, dm, dp] = parseVersion(driver[kind]);
    if (rM !== dM || dm! < rm! || (dm === rm && dp! < rp!))
      return { ok: false, why: `driver ${kind} version ${driver[kind]} is not accepted by the consumer (needs ${required[kind]}, same major)` };
  }
  return { ok: true };
}

/** Why a cell cannot run at all (a skip, with its reason), or undefined. */
export function notApplicable(driver: DriverId, tree: DriverTree, consumer: ConsumerSpec, arch: Arch = 'amd64'): string | undefined {
  if (driver === 'pdig') {
    if (arch !== 'amd64') return `pdig is x86_64 only (its ptrace code is written for amd64's registers and syscall numbers): no ${arch} build`;
    if (!tree.pdig) return 'this driver source has no pdig tree (a pdig source is git: pdig at a commit, with libs: the libs tree it builds against)';
  } else if (tree.pdig) return `this source is pdig's: its libs tree is there for pdig, not for ${driver} cells`;
  if (driver === 'ebpf' && !existsSync(path.join(tree.dir, 'bpf', 'probe.c')))
    return 'this driver source has no legacy eBPF probe (removed upstream in libs 0.24.0 / driver 10.0.0)';
  if (!consumer.engines.includes(driver))
    return `consumer ${consumer.id} has no ${driver} engine${driver === 'modern-ebpf' ? " (Debian's libscap builds never include modern_bpf)" : ''}`;
  const compat = consumerAccepts(consumer.requires, tree.versions);
  if (!compat.ok) return `consumer ${consumer.id}: ${compat.why}`;
  return undefined;
}

export interface DriverBuild {
  ok: boolean;
  artifact?: string;
  log: string;
  cached: boolean;
  firstError?: string;
}

/**
 * The compiler's first real error line: not warnings, not make's own "Error 1"
 * echoes, and not the output of libs' configure probes (expected to fail on
 * some kernels) — unless the probes' sanity check is what broke the build.
 */
export function firstCompilerError(log: string): string | undefined {
  const sanity = /Build output for HAS_0__SANITY:\s*\n(.*)/.exec(log)?.[1];
  if (sanity && /build system is broken/i.test(log)) {
    // the probe's own log (appended by buildDriver) has the compiler's lines unjoined
    const own = log.split('\n--- bpf/configure/0__SANITY/build.log\n')[1]?.split('\n').find((l) => /\berror:/.test(l));
    if (own) return `configure sanity check failed: ${own.trim().slice(0, 240)}`;
    const why = /\S[^:]*: (?:\S+ )?(?:error:|unrecognised|unrecognized|not found|No such file)[^\n]*?(?=make\[|$)/.exec(sanity)?.[0];
    return `configure sanity check failed: ${(why ?? sanity).trim().slice(0, 240)}`;
  }
  // the probes' own output, and the probe Makefile's harmless `expr: syntax error` (a COS version check)
  const lines = log.split('\n').filter((l) => !/\[configure-(kmod|bpf)\]/.test(l) && !/^expr: /.test(l));
  const missingTool = /\S+: \d+: \S+: not found/.exec(lines.join('\n'))?.[0];
  return (
    lines.find((l) => /\berror:/.test(l) && !/^make(\[\d+\])?: \*\*\*/.test(l)) ??
    lines.find((l) => /^ERROR: modpost: /.test(l)) ?? // e.g. a symbol the kernel does not export
    missingTool ??
    lines.find((l) => /^make(\[\d+\])?: \*\*\*/.test(l)) ??
    lines.find((l) => /error/i.test(l))
  )?.trim();
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
    const x = await inBuilder(root, [{ host: kernel.root, guest: '/kernel' }, { host: work, guest: '/build', writable: true }], r.cmd, { cwd: r.cwd, crossBinutils: cross, aliases });
    // a build killed from outside (an interrupted run) says nothing about the driver: never cache it as a failure
    if (x.signal) throw new Error(`the build was killed (${x.signal})`);
    let log = `$ (cd ${r.cwd} && ${r.cmd.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')})   # builder: ${kernel.builder.suite} ${kernel.builder.compiler}; kernel built by ${kernel.compiler}\n${x.all ?? ''}\nexit ${x.exitCode}\n`;
    // A failed probe sanity check hides the compiler's words in its own log.
    const sanity = path.join(work, 'bpf/configure/0__SANITY/build.log');
    if (x.exitCode !== 0 && existsSync(sanity)) log += `\n--- bpf/configure/0__SANITY/build.log\n${readFileSync(sanity, 'utf8')}`;
    await writeFile(path.join(dir, 'build.log'), log);
    await writeFile(path.join(dir, 'result.json'), JSON.stringify({ ok: x.exitCode === 0 && existsSync(path.join(work, r.artifact)) }));
  });
  const result = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as { ok: boolean };
  const log = path.join(out, 'build.log');
  return {
    ok: result.ok,
    artifact: result.ok ? path.join(out, 'src', r.artifact) : undefined,
    log,
    cached: !fresh,
    firstError: result.ok ? undefined : buildError(readFileSync(log, 'utf8'), r.artifact, path.join(out, 'src')),
  };
}
