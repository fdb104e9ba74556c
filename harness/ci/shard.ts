// Sharding: split a run's cells over N CI jobs, deterministically (every job
// computes the same split from the same inputs) and balanced by expected cost
// (the previous run's durations; a guess per driver for a cell never seen).
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import type { CellResult, DriverId } from '../types.js';

export interface ShardSpec {
  index: number; // 1-based
  total: number;
}

export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const total = Number(m?.[2]);
  if (!m || total < 1 || index < 1 || index > total)
    throw new UserError(`--shard ${text}: expected i/N with 1 ≤ i ≤ N (e.g. --shard 2/4 for the second of four shards).`);
  return { index, total };
}

/** Seconds a cell of a driver takes warm under TCG when no previous run says (measured here). */
const GUESS: Record<DriverId, number> = { kmod: 20, ebpf: 35, 'modern-ebpf': 45, pdig: 5 };

/** Expected seconds per cell id: the previous run's phase durations, else the guess for its driver. */
export function expectedCost(previous: CellResult[] = []): (id: string, driver?: DriverId) => number {
  const known = new Map(previous.map((r) => [r.id, Object.values(r.durations).reduce((a, b) => a + (b ?? 0), 0)]));
  return (id, driver) => known.get(id) ?? GUESS[driver ?? (id.split('/')[1]?.split('@')[0] as DriverId)] ?? 30;
}

/**
 * Longest-processing-time first: cells by cost (then id) descending, each to
 * the least-loaded shard (the lowest index on a tie). Returns the cells of
 * shard `spec.index`, in their original order.
 */
export function shardCells<T extends { id: string }>(cells: T[], spec: ShardSpec, cost: (id: string) => number): T[] {
  return splitCells(cells, spec.total, cost)[spec.index - 1]!;
}

export function splitCells<T extends { id: string }>(cells: T[], total: number, cost: (id: string) => number): T[][] {
  const ids = new Set<string>();
  for (const c of cells) {
    if (ids.has(c.id)) throw new UserError(`Cell ${c.id} appears twice: cannot shard.`);
    ids.add(c.id);
  }
  const order = [...cells].sort((a, b) => cost(b.id) - cost(a.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const load = Array.from({ length: total }, () => 0);
  const owner = new Map<string, number>();
  for (const c of order) {
    let best = 0;
    for (let i = 1; i < total; i++) if (load[i]! < load[best]!) best = i;
    load[best]! += cost(c.id);
    owner.set(c.id, best);
  }
  return load.map((_, i) => cells.filter((c) => owner.get(c.id) === i));
}

/** What a shard was cut from: the count and a hash of the selection's ids (every shard of a run must agree). */
export function selectionOf(cells: { id: string }[]): { cells: number; hash: string } {
  return { cells: cells.length, hash: createHash('sha256').update(cells.map((c) => c.id).sort().join('\n')).digest('hex').slice(0, 16) };
}
