// build: the driver on the host, in the builder root of the kernel's suite;
// the consumer (modern eBPF is built into it); a Pi's SD card where the kernel boots from one.
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { prepareConsumer, type ConsumerAssets } from '../consumers.js';
import { buildDriver, CellSkip } from '../drivers.js';
import { pdigAssets } from '../drivers/pdig.js';
import { errorLine } from '../errors.js';
import { profilePackages } from '../guest.js';
import { MACHINES } from '../machines.js';
import { piSdCard, type PiSdCard } from '../sdcard.js';
import type { Cell } from '../types.js';
import { CellEnd, type CellContext, type CellFacts } from './cell.js';
import type { Fetched } from './fetch.js';

export interface Built {
  /** The driver artifact on the host (kmod: scap.ko, ebpf: probe.o); none for drivers built into the consumer. */
  artifact?: string;
  consumer: ConsumerAssets;
  card?: PiSdCard;
  /** More files for the guest a driver brings (pdig: pdig, the syscall loop, a kmod to compare with). */
  driverFiles?: Record<string, string>;
  /** Why some of those are missing (e.g. no kernel module to compare pdig with). */
  notes?: string[];
  /** Every build this phase needed was found in the cache. */
  cached: boolean;
  facts: CellFacts;
}

export async function buildPhase(cell: Cell, fetched: Fetched, ctx: Pick<CellContext, 'debian' | 'runDir' | 'dir'>): Promise<Built> {
  const facts: CellFacts = {};
  let artifact: string | undefined, consumer: ConsumerAssets, cachedBuild = false;
  let pdig: Awaited<ReturnType<typeof pdigAssets>> | undefined;
  // the build's log goes with the cell; a failed build ends it at this phase
  const keepBuild = async (b: { ok: boolean; log: string; firstError?: string }, failure: string) => {
    const log = path.join(ctx.dir, 'build.log');
    await copyFile(b.log, log);
    facts.logs = { build: path.relative(ctx.runDir, log) };
    if (!b.ok) throw new CellEnd('fail', 'build', failure, b.firstError, facts);
  };
  try {
    // a box's driver is built in the box, after it boots (backends/vagrant.ts)
    if ((cell.driver === 'kmod' || cell.driver === 'ebpf') && !fetched.kernel.box) {
      const b = await buildDriver(ctx.debian, cell.driver, fetched.tree, fetched.kernel);
      await keepBuild(b, `the ${cell.driver === 'kmod' ? 'kernel module' : 'eBPF probe'} did not build`);
      artifact = b.artifact;
      cachedBuild = b.cached;
    }
    if (cell.driver === 'pdig') {
      pdig = await pdigAssets(ctx.debian, fetched.tree, fetched.kernel, cell.profile, cell.source.compareKmod);
      await keepBuild(pdig.build, 'pdig did not build');
      cachedBuild = pdig.build.cached;
    }
    consumer = await prepareConsumer(ctx.debian, cell.consumer, cell.kernel.arch, profilePackages(cell.profile));
  } catch (e) {
    if (e instanceof CellEnd) throw e;
    if (e instanceof CellSkip) throw new CellEnd('skip', 'build', e.message, undefined, facts);
    // modern eBPF lives in the consumer: its build failing is the driver failing to build
    if (cell.driver === 'modern-ebpf') throw new CellEnd('fail', 'build', 'the consumer with the modern eBPF probe did not build', errorLine(e), facts);
    throw new CellEnd('error', 'build', `build infrastructure failed: ${errorLine(e)}`, undefined, facts);
  }
  // A Pi SD card (built from Debian packages): kernel and DTB come from its boot partition.
  let card: PiSdCard | undefined;
  if (cell.kernel.sdcard) {
    const machine = MACHINES[cell.kernel.machine]!;
    try {
      card = await piSdCard(ctx.debian, cell.kernel.sdcard.firmware, fetched.kernel, path.basename(machine.dtb!));
    } catch (e) {
      throw new CellEnd('error', 'build', `SD card image failed: ${errorLine(e)}`, undefined, facts);
    }
  }
  facts.consumer = { id: cell.consumer.id, version: consumer.version };
  return { artifact, consumer, card, cached: cachedBuild, facts, ...(pdig ? { driverFiles: pdig.files, notes: pdig.notes } : {}) };
}
