// How many cells run at once. A cell's build and its VM run in the same slot,
// so `-j N` bounds builds and boots together: N slots keep N cores busy.
// `-j auto`: one slot per core, fewer if memory cannot hold that many guests
// (each slot: the guest's RAM, QEMU's own, and a build's).
import { availableParallelism, freemem } from 'node:os';
import { MACHINES } from './machines.js';
import type { Cell } from './types.js';

const QEMU_AND_BUILD_MiB = 768;

export function autoJobs(cells: Pick<Cell, 'kernel'>[], cores = availableParallelism(), freeMiB = freemem() / 2 ** 20): number {
  const guestMiB = Math.max(256, ...cells.map((c) => MACHINES[c.kernel.machine]?.memoryMiB ?? 1024));
  const byMemory = Math.floor(freeMiB / (guestMiB + QEMU_AND_BUILD_MiB));
  return Math.max(1, Math.min(cores, byMemory, cells.length || 1));
}
