// build: the driver on the host, in the builder root of the kernel's suite;
// the consumer (modern eBPF is built into it); a Pi's SD card where the kernel boots from one.
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { prepareConsumer } from '../consumers/index.js';
import { buildDriver } from '../drivers/build.js';
import { pdigAssets } from '../drivers/pdig.js';
import { BuildFailure, CellSkip, errorLine } from '../errors.js';
import { profilePackages } from '../guest.js';
import { piSdCard, type PiSdCard } from '../images/sdcard.js';
import { consoleNeeds, guestModules, requestedModules, unpackedModules, type GuestModules } from '../kernels/modules.js';
import { hostDebianArch, MACHINES } from '../machines.js';
import { CellEnd, type Built, type CellContext, type CellFacts, type Fetched } from '../plan.js';
import type { Cell, ConsumerAssets, DriverId } from '../types.js';
import { guestProgram, USERSPACE_SUITE } from '../workload.js';
import { printsParameters } from '../battery.js';
import { consumerToolchain, driverToolchain, rootPackages } from '../toolchain.js';

export async function buildPhase(cell: Cell, fetched: Fetched, ctx: Pick<CellContext, 'debian' | 'runDir' | 'dir'>): Promise<Built> {
  const facts: CellFacts = {};
  let artifact: string | undefined, consumer: ConsumerAssets, cachedBuild = false;
  let pdig: Awaited<ReturnType<typeof pdigAssets>> | undefined;
  let battery: string | undefined;
  // the build's log goes with the cell; a failed build ends it at this phase
  const keepBuild = async (b: { ok: boolean; log: string; firstError?: string }, failure: string, status: 'fail' | 'skip' = 'fail') => {
    const log = path.join(ctx.dir, 'build.log');
    await copyFile(b.log, log);
    facts.logs = { build: path.relative(ctx.runDir, log) };
    if (!b.ok) throw new CellEnd(status, 'build', failure, b.firstError, facts);
  };
  try {
    // a box's driver is built in the box, after it boots (backends/vagrant.ts)
    if ((cell.driver === 'kmod' || cell.driver === 'ebpf') && !fetched.kernel.box) {
      // a negative control's module is built for its other kernel (the normal, cached build of that kernel); none built, no control
      const from = fetched.from;
      const b = await buildDriver(ctx.debian, cell.driver, fetched.tree, from ?? fetched.kernel);
      const k = from ?? fetched.kernel;
      if (b.root) facts.toolchain = driverToolchain(rootPackages(b.root), cell.driver, k.builder.suite, k.builder, k.arch !== hostDebianArch() ? k.arch : undefined);
      if (from) await keepBuild(b, `no control: the kernel module did not build for ${cell.control?.from.id ?? from.release} (${from.release}): ${b.firstError ?? 'build failed'}`, 'skip');
      else await keepBuild(b, `the ${cell.driver === 'kmod' ? 'kernel module' : 'eBPF probe'} did not build`);
      artifact = b.artifact;
      cachedBuild = b.cached;
    }
    if (cell.driver === 'pdig') {
      pdig = await pdigAssets(ctx.debian, fetched.tree, fetched.kernel, cell.profile, cell.source.compareKmod);
      if (pdig.build.root) facts.toolchain = driverToolchain(rootPackages(pdig.build.root), 'pdig', USERSPACE_SUITE);
      await keepBuild(pdig.build, 'pdig did not build');
      cachedBuild = pdig.build.cached;
    }
    consumer = await prepareConsumer(ctx.debian, cell.consumer, cell.kernel.arch, profilePackages(cell.profile));
    // modern eBPF is built into its consumer: that build's toolchain is the driver's
    if (cell.driver === 'modern-ebpf' && consumer.builder) facts.toolchain = consumerToolchain(rootPackages(consumer.builder.root), consumer.builder.suite, consumer.builder.cross);
    if (printsParameters(cell.consumer.kind)) battery = await guestProgram(ctx.debian, cell.kernel.arch, 'battery');
  } catch (e) {
    throw buildEnd(e, cell.driver, facts);
  }
  // A Pi SD card (built from Debian packages): kernel and DTB come from its boot partition.
  let card: PiSdCard | undefined;
  let sdModules: string[] | undefined;
  if (cell.kernel.sdcard) {
    const machine = MACHINES[cell.kernel.machine]!;
    try {
      card = await piSdCard(ctx.debian, cell.kernel.sdcard.firmware, fetched.kernel, path.basename(machine.dtb!));
      // Debian ships them .ko.xz since 6.x: init.sh inserts plain .ko files
      sdModules = await unpackedModules(fetched.kernel.sdModules, path.join(ctx.dir, 'sd-modules'));
    } catch (e) {
      throw new CellEnd('error', 'build', `SD card image failed: ${errorLine(e)}`, undefined, facts);
    }
  }
  const modules = await kernelModulesForGuest(cell, fetched, facts);
  facts.consumer = { id: cell.consumer.id, kind: cell.consumer.kind, version: consumer.version };
  return { artifact, consumer, card, ...(modules?.load.length ? { guestModules: modules } : {}), ...(sdModules ? { sdModules } : {}), cached: cachedBuild, facts, battery, ...(pdig ? { driverFiles: pdig.files, notes: pdig.notes } : {}) };
}

/**
 * The kernel's own modules the guest loads (a box boots its own system):
 * its console driver where the kernel has it as a module, and those
 * KMATRIX_GUEST_MODULES names. A name the user asked for that the kernel
 * has neither built in nor as a module ends the cell: the guest cannot be
 * what was asked.
 */
async function kernelModulesForGuest(cell: Cell, fetched: Fetched, facts: CellFacts): Promise<GuestModules | undefined> {
  if (fetched.kernel.box) return undefined;
  const asked = requestedModules();
  const k = fetched.kernel;
  let m: GuestModules | undefined;
  try {
    m = await guestModules(k, [...consoleNeeds(MACHINES[cell.kernel.machine]!.console), ...asked]);
  } catch (e) {
    throw new CellEnd('error', 'build', `guest modules: the kernel's modules could not be read: ${errorLine(e)}`, undefined, facts);
  }
  if (asked.length && !m) throw new CellEnd('error', 'build', `guest modules: KMATRIX_GUEST_MODULES asks for ${asked.join(', ')}, but kernel ${cell.kernel.id} (${k.release}) has no modules to read (no modules dir, no image package)`, undefined, facts);
  // without modules.builtin nothing can be said built in: only a name the user asked for must be found
  const lacking = (m?.missing ?? []).filter((n) => m!.builtinKnown || asked.includes(n));
  if (lacking.length)
    throw new CellEnd('error', 'build', `guest modules: kernel ${cell.kernel.id} (${k.release}) has no module ${lacking.join(', ')}: neither in its modules.builtin nor among its packages' modules${asked.length ? ` (KMATRIX_GUEST_MODULES=${asked.join(',')})` : ''}`, undefined, facts);
  return m;
}

/**
 * How a build step's exception ends the cell. Only a build that ran to its
 * end and failed is the code's failure — and a driver failure only where the
 * built thing holds the driver (modern eBPF lives in its consumer). Anything
 * else (a tool that never ran, was killed, an apt or mmdebstrap fault) is
 * infrastructure: `error`, retried.
 */
export function buildEnd(e: unknown, driver: DriverId, facts: CellFacts = {}): CellEnd {
  if (e instanceof CellEnd) return e;
  if (e instanceof CellSkip) return new CellEnd('skip', 'build', e.message, undefined, facts);
  if (e instanceof BuildFailure && driver === 'modern-ebpf') {
    // the toolchain that failed to build the probe (bookworm's libbpf 1.1 cannot) is the cell's
    const toolchain = e.builder ? consumerToolchain(rootPackages(e.builder.root), e.builder.suite, e.builder.cross) : undefined;
    return new CellEnd('fail', 'build', 'the consumer with the modern eBPF probe did not build', e.firstError ?? errorLine(e), { ...facts, ...(toolchain ? { toolchain } : {}) });
  }
  if (e instanceof BuildFailure) return new CellEnd('error', 'build', `the consumer did not build: ${errorLine(e)}`, e.firstError, facts);
  return new CellEnd('error', 'build', `build infrastructure failed: ${errorLine(e)}`, undefined, facts);
}
