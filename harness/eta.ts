// How long the builds still to come will take: each heavy build's past cost,
// from what the cache produced (<cache>/produced.log, one line per entry:
// `<path> <pid> <time> [<seconds>s]`; older lines without the seconds: the
// entry's directory, made when its production started, to its .done), told
// apart by kind from the entry's inputs; on a first run, a stated estimate
// per kind (DEFAULT_BUILD_SECONDS, said "estimated"). And the run's ETA with them.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BuildKind } from './early.js';

/** Seconds per build kind when the cache has never produced one (measured on this 2-core machine, November–December 2026). */
export const DEFAULT_BUILD_SECONDS: Record<BuildKind, number> = {
  falco: 2700, // 38 min, plus its trixie builder root
  'sysdig-git': 1300, // MINIMAL_BUILD 15 min, plus its bullseye builder root
  'scap-open-git': 700,
  'scap-open': 1000, // a libs source package, plus its builder root
  pdig: 450, // pdig itself is ~1 min: its builder root and its consumer's checkout
  kmod: 60,
  ebpf: 90,
  builder: 400,
  kernel: 30,
};

/** The kind of a cache entry from its cache kind and inputs, or undefined (what the ETA does not count). */
export function buildKindOf(cacheKind: string, inputs: Record<string, unknown>): BuildKind | undefined {
  if (cacheKind === 'consumers') return 'falco' in inputs ? 'falco' : 'sysdig' in inputs ? 'sysdig-git' : 'dsc' in inputs ? 'scap-open' : 'libs' in inputs ? 'scap-open-git' : undefined;
  if (cacheKind === 'builds') return 'pdig' in inputs ? 'pdig' : inputs.driver === 'kmod' ? 'kmod' : inputs.driver === 'ebpf' ? 'ebpf' : undefined;
  if (cacheKind === 'builders') return 'builder';
  if (cacheKind === 'kernels') return 'kernel';
  return undefined;
}

/** Past costs per build kind, in seconds, from <root>/produced.log (lines it cannot read are left out). */
export function pastBuildCosts(root: string): Partial<Record<BuildKind, number[]>> {
  const log = path.join(root, 'produced.log');
  const out: Partial<Record<BuildKind, number[]>> = {};
  if (!existsSync(log)) return out;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const [rel, , , secs] = line.split(' ');
    const cacheKind = rel?.split('/')[0];
    if (!rel || !cacheKind || !['consumers', 'builds', 'builders', 'kernels'].includes(cacheKind)) continue;
    const dir = path.join(root, rel);
    let inputs: Record<string, unknown>;
    try {
      const v = JSON.parse(readFileSync(path.join(dir, '.inputs.json'), 'utf8')) as unknown;
      inputs = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      continue; // pruned since
    }
    const kind = buildKindOf(cacheKind, inputs);
    if (!kind) continue;
    const seconds = secs && /^\d+(\.\d+)?s$/.test(secs) ? Number(secs.slice(0, -1)) : entrySeconds(dir);
    if (seconds !== undefined) (out[kind] ??= []).push(seconds);
  }
  return out;
}

/** From the entry's directory's birth (its production's start: the temporary directory renamed into place) to its .done. */
function entrySeconds(dir: string): number | undefined {
  try {
    const born = statSync(dir).birthtimeMs;
    const done = statSync(path.join(dir, '.done')).mtimeMs;
    return born > 0 && done >= born ? Math.round((done - born) / 1000) : undefined;
  } catch {
    return undefined;
  }
}

export interface BuildEstimate {
  name: string;
  kind: BuildKind;
  seconds: number;
  /** No past cost of this kind: the default table's. */
  estimated: boolean;
}

/** A build's expected seconds: the median of its kind's past costs, else the default (estimated). */
export function estimateBuild(name: string, kind: BuildKind, past: Partial<Record<BuildKind, number[]>>): BuildEstimate {
  const costs = [...(past[kind] ?? [])].sort((a, b) => a - b);
  if (!costs.length) return { name, kind, seconds: DEFAULT_BUILD_SECONDS[kind], estimated: true };
  return { name, kind, seconds: costs[Math.floor(costs.length / 2)]!, estimated: false };
}

export interface Eta {
  seconds: number;
  /** Builds not yet done that the ETA counts. */
  buildsLeft: number;
  /** Some of it is the default table's guess, not a past cost. */
  estimated: boolean;
}

/**
 * The ETA: the cells' (their expected seconds left, scaled by how fast the
 * done ones went, or over `jobs` slots before any is done), or the heavy
 * builds left (one after the other in the background slot, the running one
 * less its elapsed time) followed by their cells, whichever ends later.
 */
export function runEta(p: { cellsLeft: number; cellsDone: number; elapsed: number; jobs: number; builds: BuildEstimate[]; runningFor?: number; gatedLeft: number }): Eta {
  const cells = p.cellsLeft <= 0 ? 0 : p.cellsDone > 0 ? (p.cellsLeft * p.elapsed) / p.cellsDone : p.cellsLeft / Math.max(1, p.jobs);
  const buildSeconds = p.builds.reduce((a, b) => a + b.seconds, 0) - Math.min(p.runningFor ?? 0, p.builds[0]?.seconds ?? 0);
  const afterBuilds = p.builds.length ? buildSeconds + p.gatedLeft / Math.max(1, p.jobs) : 0;
  return { seconds: Math.max(cells, afterBuilds), buildsLeft: p.builds.length, estimated: p.builds.some((b) => b.estimated) };
}
