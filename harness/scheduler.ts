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

/** A cell (or any job) in the queue: its place is its index; with a gate, it joins the queue when the gate settles. */
export interface Ranked<T> {
  item: T;
  gate?: Promise<unknown>;
}

/**
 * Run the items, at most `slots` at once, always the first ready one in
 * their order: an item with a gate (a cell waiting for its heavy build) is
 * ready once the gate settles (done or failed: the cell then says why), and
 * goes before the ready items behind it. Results in the items' order.
 */
export function runRanked<T, R>(items: Ranked<T>[], slots: number, run: (item: T) => Promise<R>): Promise<R[]> {
  return new Promise((resolve, reject) => {
    const results = new Array<R>(items.length);
    const ready: number[] = [];
    let running = 0;
    let done = 0;
    if (!items.length) return resolve(results);
    const pump = () => {
      while (running < Math.max(1, slots) && ready.length) {
        ready.sort((a, b) => a - b);
        const i = ready.shift()!;
        running++;
        run(items[i]!.item).then(
          (r) => {
            results[i] = r;
            running--;
            if (++done === items.length) resolve(results);
            else pump();
          },
          reject,
        );
      }
    };
    items.forEach((it, i) => {
      if (!it.gate) ready.push(i);
      else {
        const join = () => {
          ready.push(i);
          pump();
        };
        it.gate.then(join, join);
      }
    });
    pump();
  });
}

/**
 * The background slot: the heavy builds one after the other, each started
 * through its waiting cells in order (`prebuild` says whether that cell got
 * as far as the build: a driver that did not build for its kernel ends a
 * cell before its consumer is built, so the next cell is tried). Returns,
 * per build, a promise settled when it is done.
 */
export function backgroundBuilds<C>(
  builds: { name: string; cells: C[] }[],
  prebuild: (cell: C) => Promise<boolean>,
  stop?: AbortSignal,
  told: { start?: (name: string) => unknown; end?: (name: string, seconds: number) => unknown } = {},
): Map<string, Promise<void>> {
  const done = new Map<string, Promise<void>>();
  let chain = Promise.resolve();
  for (const b of builds) {
    chain = chain.then(async () => {
      const at = Date.now();
      await told.start?.(b.name);
      for (const c of b.cells) {
        if (stop?.aborted) break;
        if (await prebuild(c).catch(() => true)) break;
      }
      await told.end?.(b.name, Math.round((Date.now() - at) / 1000));
    });
    done.set(b.name, chain);
  }
  return done;
}
