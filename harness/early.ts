// The order of a run's cells, for early answers: on an empty cache the whole
// matrix takes hours, so every platform row of matrix.yaml `platforms:` and
// every claim of recommended-drivers.yaml should get a first cell of evidence
// as soon as the builds allow. Cells whose builds are cheap go first, one per
// row or claim before a second (round-robin); the heavy builds (Falco and
// sysdig from git, pdig) run at once in a background slot, and their cells
// join the queue, at their rank, when their build is done. Pure: given the
// cells and which heavy builds are cached, the same order (unit-tested).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Debian } from './apt.js';
import { builderRootPath } from './builder.js';
import { FALCO_BUILD_DEPS } from './consumers/falco.js';
import { SYSDIG_BUILD_DEPS, SYSDIG_FULL_BUILD_DEPS } from './consumers/sysdig-git.js';
import { hostDebianArch } from './machines.js';
import { USERSPACE_SUITE, userspaceBuilderPackages } from './workload.js';
import type { Cell, ConsumerSpec, DriverId } from './types.js';
import { CLAIM_FEEDS, type PlatformMapping, type RecommendedTable, type Today } from './verdicts.js';

/** A platform row or a claim: the cells that feed it, and the driver it is about first (a row's recommended driver). */
export interface EvidenceGroup {
  id: string;
  feeds: (c: Cell) => boolean;
  prefers?: DriverId;
}

/** What a heavy build is: its kind (for its cost) and what tells it is in the cache. */
export interface HeavyBuild {
  /** e.g. `falco:falco-0.44.1`, `sysdig-git:sysdig-2aa88dc`, `pdig:pdig-fc679b8+sysdig-2aa88dc`. */
  name: string;
  kind: BuildKind;
  /** The inputs of its cache entry that identify it (harness/consumers, harness/drivers/pdig.ts). */
  matches: (inputs: Record<string, unknown>) => boolean;
  /** Its builder root (the entry's key names the root's path: another root, another build). */
  builder: { suite: string; packages: string[] };
}

/** The build kinds whose cost the ETA counts (produced.log's entries, told apart by their inputs: eta.ts). */
export type BuildKind = 'falco' | 'sysdig-git' | 'scap-open-git' | 'scap-open' | 'pdig' | 'kmod' | 'ebpf' | 'builder' | 'kernel';

const consumerHasEngine = (s: ConsumerSpec, d: DriverId) => s.engines.includes(d);

/**
 * The heavy builds a cell waits for, none where the cell ends before them (a
 * consumer without the cell's engine, a foreign arch: skips).
 */
export function heavyBuilds(cell: Cell, hostArch = hostDebianArch()): HeavyBuild[] {
  const out: HeavyBuild[] = [];
  const c = cell.consumer;
  if (cell.kernel.arch !== hostArch || !consumerHasEngine(c, cell.driver)) return out;
  if (cell.driver === 'pdig' && cell.source.git && cell.source.libs) {
    const origin = `git:${cell.source.git.url}@${cell.source.git.commit} + ${cell.source.libs.url}@${cell.source.libs.commit}`;
    out.push({ name: `pdig:${cell.source.id}`, kind: 'pdig', matches: (i) => i.pdig === origin, builder: { suite: USERSPACE_SUITE, packages: userspaceBuilderPackages(hostArch) } });
  }
  if (c.falco) {
    const f = c.falco;
    out.push({ name: `falco:${c.id}`, kind: 'falco', matches: (i) => i.falco === f.git.commit && i.libs === f.libs.commit && i.driver === f.driver.commit, builder: { suite: f.suite, packages: FALCO_BUILD_DEPS } });
  }
  if (c.git) {
    const pin = c.git;
    const minimal = !c.engines.includes('ebpf');
    out.push({
      name: `sysdig-git:${c.id}`,
      kind: 'sysdig-git',
      matches: (i) => i.sysdig === pin.commit && String(i.script).includes('MINIMAL_BUILD=ON') === minimal,
      builder: { suite: pin.suite, packages: minimal ? SYSDIG_BUILD_DEPS : SYSDIG_FULL_BUILD_DEPS },
    });
  }
  return out;
}

/**
 * The heavy builds found in the cache (their entries' .inputs.json), by name:
 * a finished build, or a failed one (both cached) — of the builder root this
 * matrix's suites and mirror make (`debian`), when given.
 */
export function cachedHeavyBuilds(cells: Cell[], root: string, debian?: Pick<Debian, 'mirror' | 'suites'>): Set<string> {
  const inputs: Record<string, unknown>[] = [];
  for (const kind of ['consumers', 'builds']) {
    const dir = path.join(root, kind);
    for (const e of existsSync(dir) ? readdirSync(dir) : []) {
      const file = path.join(dir, e, '.inputs.json');
      if (!existsSync(path.join(dir, e, '.done')) || !existsSync(file)) continue;
      try {
        const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) inputs.push(v as Record<string, unknown>);
      } catch {
        // a torn file is no entry
      }
    }
  }
  const out = new Set<string>();
  for (const b of cells.flatMap((c) => heavyBuilds(c))) {
    const builder = debian && builderRootPath(debian, b.builder.suite, b.builder.packages, root);
    if (!out.has(b.name) && inputs.some((i) => b.matches(i) && (!builder || i.root === builder))) out.add(b.name);
  }
  return out;
}

/**
 * How cheap a cell is on an empty cache, 0 first: a Debian package's sysdig
 * and the kmod of a Debian source; then the legacy probe, a driver from git
 * or a kernel from elsewhere; then a consumer built here (scap-open) or a
 * machine that is slow to reach (a Vagrant box, an SD card).
 */
export function coldTier(cell: Cell): number {
  const c = cell.consumer;
  if (c.libs || c.falco || c.git || cell.kernel.machine === 'vagrant' || cell.kernel.sdcard) return 2;
  if (cell.driver === 'kmod' && cell.source.debian && cell.kernel.source.kind === 'debian') return 0;
  return 1;
}

/** The platform rows (the document's era, then today's sources) and the claims, in the order the report reads them. */
export function evidenceGroups(mappings: PlatformMapping[], table?: RecommendedTable, today?: Today): EvidenceGroup[] {
  const isToday = (c: Cell) => today?.sources.includes(c.source.id) ?? false;
  // a row is judged on its own kernels, else on its stand-ins: both feed it
  const row = (m: PlatformMapping, now: boolean) => (c: Cell) => !c.control && c.profile.id === m.profile && [...m.kernels, ...(m.standIns ?? [])].includes(c.kernel.id) && isToday(c) === now;
  const recommended = (p: string) => table?.platforms.find((r) => r.platform === p)?.recommended;
  const rows = mappings.map((m): EvidenceGroup => ({ id: `platform:${m.platform}`, feeds: row(m, false), ...(recommended(m.platform) ? { prefers: recommended(m.platform)! } : {}) }));
  const claims = (table?.claims ?? [])
    .filter((c) => CLAIM_FEEDS[c.id])
    .map((cl): EvidenceGroup => ({
      id: `claim:${cl.id}`,
      feeds: (c) => !isToday(c) && CLAIM_FEEDS[cl.id]!({ driver: c.driver, profile: c.profile.id, consumerKind: c.consumer.kind, control: Boolean(c.control) }),
    }));
  const now = today ? mappings.map((m): EvidenceGroup => ({ id: `today:${m.platform}`, feeds: row(m, true) })) : [];
  return [...rows, ...claims, ...now];
}

export interface EarlyPlan {
  /** Every cell, in the order they should run if nothing waited (their rank). */
  order: Cell[];
  /** The heavy builds not cached, in the order the background slot builds them, each with the cells that wait for it. */
  builds: { name: string; kind: BuildKind; cells: Cell[] }[];
  /** The group each cell is the first evidence of, if any (for the dry listing). */
  firstOf: Map<string, string[]>;
}

/**
 * The order. A round: each group (in order) that has had fewer cells than the
 * round's number gets its best cell not yet placed — the cheapest (coldTier;
 * a cell waiting for an uncached heavy build is dearest), of the group's
 * driver, on a kernel the group has had least, first in the matrix — and a
 * placed cell counts for every group it feeds. Cells no group reads follow,
 * cheapest first. The background slot builds in the order of the first cell
 * waiting for each build.
 */
export function earlyPlan(cells: Cell[], groups: EvidenceGroup[], cached: ReadonlySet<string>, hostArch = hostDebianArch()): EarlyPlan {
  const index = new Map(cells.map((c, i) => [c.id, i]));
  const waits = new Map(cells.map((c) => [c.id, heavyBuilds(c, hostArch).filter((b) => !cached.has(b.name))]));
  const tier = (c: Cell) => (waits.get(c.id)!.length ? 3 : coldTier(c));
  const members = groups.map((g) => cells.filter(g.feeds));
  const count = groups.map(() => 0);
  const kernels = groups.map(() => new Map<string, number>());
  const placed = new Set<string>();
  const order: Cell[] = [];
  const firstOf = new Map<string, string[]>();
  const place = (c: Cell) => {
    placed.add(c.id);
    order.push(c);
    groups.forEach((g, i) => {
      if (!g.feeds(c)) return;
      if (count[i] === 0) firstOf.set(c.id, [...(firstOf.get(c.id) ?? []), g.id]);
      count[i]!++;
      kernels[i]!.set(c.kernel.id, (kernels[i]!.get(c.kernel.id) ?? 0) + 1);
    });
  };
  for (let round = 1; ; round++) {
    let any = false;
    groups.forEach((g, i) => {
      if (count[i]! >= round) return;
      const left = members[i]!.filter((c) => !placed.has(c.id));
      if (!left.length) return;
      const key = (c: Cell) => [tier(c), g.prefers && c.driver !== g.prefers ? 1 : 0, kernels[i]!.get(c.kernel.id) ?? 0, index.get(c.id)!];
      place(left.reduce((best, c) => (less(key(c), key(best)) ? c : best)));
      any = true;
    });
    if (!any) break;
  }
  const rest = cells.filter((c) => !placed.has(c.id)).sort((a, b) => tier(a) - tier(b) || index.get(a.id)! - index.get(b.id)!);
  rest.forEach(place);
  const builds = new Map<string, { name: string; kind: BuildKind; cells: Cell[] }>();
  for (const c of order)
    for (const b of waits.get(c.id)!) {
      const e = builds.get(b.name) ?? { name: b.name, kind: b.kind, cells: [] };
      e.cells.push(c);
      builds.set(b.name, e);
    }
  return { order, builds: [...builds.values()], firstOf };
}

function less(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** Groups a printed plan names for what it covers: those with cells in the selection. */
export function coveredGroups(cells: Cell[], groups: EvidenceGroup[]): EvidenceGroup[] {
  return groups.filter((g) => cells.some(g.feeds));
}

/** When each cell would start and end, simulated: `jobs` slots take the first ready cell in rank order; the background slot builds one after the other. */
/**
 * `cellEnd(cell, start, shared)` says when a cell started at `start` ends;
 * `shared` holds when each shared thing (a kernel, a builder root) a cell
 * started before it is ready: a cell needing it waits for it, as for a cache lock.
 */
export function simulate(plan: EarlyPlan, jobs: number, cellEnd: (c: Cell, start: number, shared: Map<string, number>) => number, buildSeconds: (name: string) => number): Map<string, { start: number; end: number }> {
  let t = 0;
  const buildEnd = new Map<string, number>();
  for (const b of plan.builds) buildEnd.set(b.name, (t += buildSeconds(b.name)));
  const gate = new Map<string, number>();
  for (const b of plan.builds) for (const c of b.cells) gate.set(c.id, Math.max(gate.get(c.id) ?? 0, buildEnd.get(b.name)!));
  const slots = Array.from({ length: Math.max(1, jobs) }, () => 0);
  const left = [...plan.order];
  const shared = new Map<string, number>();
  const out = new Map<string, { start: number; end: number }>();
  while (left.length) {
    const s = slots.indexOf(Math.min(...slots));
    const free = slots[s]!;
    let i = left.findIndex((c) => (gate.get(c.id) ?? 0) <= free);
    // nothing ready: the slot waits for the first gate to open
    if (i < 0) i = left.reduce((best, c, j) => ((gate.get(c.id) ?? 0) < (gate.get(left[best]!.id) ?? 0) ? j : best), 0);
    const c = left.splice(i, 1)[0]!;
    const start = Math.max(free, gate.get(c.id) ?? 0);
    const end = cellEnd(c, start, shared);
    out.set(c.id, { start, end });
    slots[s] = end;
  }
  return out;
}
