// `kmatrix plan`: the order a run takes (harness/early.ts) without running it —
// each cell with its rank and the rows and claims it is the first evidence of,
// the background builds with their expected seconds, and a simulation of when
// every platform row and claim gets its first cell on this cache (or an empty
// one, --cold), from produced.log's past costs or the stated defaults.
import { debianMirror } from '../apt.js';
import { cacheDir } from '../cache/cache.js';
import { expectedCost } from '../ci/shard.js';
import { cachedHeavyBuilds, earlyPlan, evidenceGroups, heavyBuilds, simulate, type EarlyPlan, type EvidenceGroup } from '../early.js';
import { DEFAULT_BUILD_SECONDS, estimateBuild, pastBuildCosts, type BuildEstimate } from '../eta.js';
import type { Matrix } from '../matrix.js';
import type { Cell, CellResult } from '../types.js';
import { formatSeconds } from '../ui.js';
import { loadRecommended } from '../verdicts.js';

/** The run's plan on this cache (`cold`: as on an empty one), its groups, and its builds' estimates. */
export function planRun(m: Matrix, cells: Cell[], cold = false): { plan: EarlyPlan; groups: EvidenceGroup[]; estimates: BuildEstimate[] } {
  const groups = evidenceGroups(m.platforms, m.recommended ? loadRecommended(m.recommended) : undefined, m.today);
  const plan = earlyPlan(cells, groups, cold ? new Set() : cachedHeavyBuilds(cells, cacheDir(), { mirror: debianMirror(m.mirror), suites: m.suites }));
  const past = pastBuildCosts(cacheDir());
  return { plan, groups, estimates: plan.builds.map((b) => estimateBuild(b.name, b.kind, past)) };
}

/**
 * A cell's seconds on a cold cache: its VM (the previous run's, else the
 * guess per driver) and, the first time a cell needs them, its kernel, its
 * driver's builder root and build, its consumer (a Debian closure, or
 * scap-open built here) and guest image. The heavy builds are the background slot's.
 */
export function coldCellSeconds(previous: CellResult[], past = pastBuildCosts(cacheDir()), inline?: ReadonlySet<string>, cold = true) {
  const vm = expectedCost(previous);
  const est = (k: keyof typeof DEFAULT_BUILD_SECONDS) => estimateBuild(k, k, past).seconds;
  return (c: Cell, start: number, shared: Map<string, number>): number => {
    let t = start;
    if (!cold) return t + vm(c.id, c.driver) + (inline ? heavyBuilds(c).filter((b) => inline.has(b.name)).reduce((a, b) => a + (shared.has(b.name) ? 0 : (shared.set(b.name, 0), estimateBuild(b.name, b.kind, past).seconds)), 0) : 0);
    // made by the first cell that needs it; the others wait until it is ready
    const once = (key: string, seconds: number) => {
      if (!shared.has(key)) shared.set(key, t + seconds);
      t = Math.max(t, shared.get(key)!);
    };
    const suite = (c.kernel.source as { suite?: string }).suite ?? c.kernel.source.kind;
    once(`kernel:${c.kernel.id}`, c.kernel.machine === 'vagrant' ? est('builder') : est('kernel'));
    if ((c.driver === 'kmod' || c.driver === 'ebpf') && c.kernel.machine !== 'vagrant') {
      once(`builder:${suite}`, est('builder'));
      once(`driver:${c.driver}:${c.source.id}:${c.control?.from.id ?? c.kernel.id}`, est(c.driver));
    }
    // without the background slot: the cell builds its heavy builds itself
    if (inline) for (const b of heavyBuilds(c).filter((x) => inline.has(x.name))) once(`heavy:${b.name}`, estimateBuild(b.name, b.kind, past).seconds);
    const k = c.consumer;
    if (k.libs && !heavyBuilds(c).length) once(`consumer:${k.id}:${c.kernel.arch}`, est(k.libs.git ? 'scap-open-git' : 'scap-open'));
    else if (k.debian) once(`consumer:${k.id}:${c.kernel.arch}`, 30);
    once(`guest:${k.id}:${c.kernel.arch}:${c.profile.id}`, 10);
    return t + vm(c.id, c.driver);
  };
}

export function planLines(m: Matrix, cells: Cell[], opts: { jobs: number; cold: boolean; previous: CellResult[] }): string[] {
  const { plan, groups, estimates } = planRun(m, cells, opts.cold);
  const seconds = new Map(estimates.map((e) => [e.name, e.seconds]));
  const sim = simulate(plan, opts.jobs, coldCellSeconds(opts.previous, undefined, undefined, opts.cold), (n) => seconds.get(n) ?? 0);
  const gated = new Map(plan.builds.flatMap((b) => b.cells.map((c) => [c.id, b.name] as const)));
  const lines = [
    `${plan.order.length} cell(s), -j ${opts.jobs}, ${opts.cold ? 'as on an empty cache' : `on the cache ${cacheDir()} (its heavy builds looked up; kernels, builder roots and driver builds taken as cached: --cold counts them)`}; times simulated from ${estimates.some((e) => e.estimated) ? 'produced.log where it has a cost, else the default estimates' : 'produced.log'}`,
    `background slot: ${plan.builds.length ? estimates.map((e) => `${e.name} ~${formatSeconds(e.seconds)}${e.estimated ? ' (estimated)' : ''}`).join(' → ') : 'nothing to build'}`,
    '',
  ];
  plan.order.forEach((c, i) => {
    const t = sim.get(c.id)!;
    const first = plan.firstOf.get(c.id);
    lines.push(`${String(i + 1).padStart(4)}  ${formatSeconds(t.end).padStart(7)}  ${c.id}${gated.has(c.id) ? `  [after ${gated.get(c.id)}]` : ''}${first ? `  first for ${first.join(', ')}` : ''}`);
  });
  lines.push('', 'first evidence (simulated end of the first cell feeding it):');
  const firstEnd = (g: EvidenceGroup) => Math.min(...plan.order.filter(g.feeds).map((c) => sim.get(c.id)!.end));
  const fed = groups.filter((g) => plan.order.some(g.feeds));
  for (const g of fed) lines.push(`  ${formatSeconds(firstEnd(g)).padStart(7)}  ${g.id}`);
  const rows = fed.filter((g) => g.id.startsWith('platform:'));
  const claims = fed.filter((g) => g.id.startsWith('claim:'));
  const all = Math.max(0, ...[...sim.values()].map((t) => t.end));
  lines.push(
    '',
    `every platform row has a first cell after ${formatSeconds(Math.max(0, ...rows.map(firstEnd)))}; every claim after ${formatSeconds(Math.max(0, ...claims.map(firstEnd)))}; the whole selection after ${formatSeconds(all)}`,
  );
  // a warm cache: only the VMs count; the early order must not end later than the matrix's
  const vm = expectedCost(opts.previous);
  const warmEnd = (order: Cell[]) => Math.max(0, ...[...simulate({ order, builds: [], firstOf: new Map() }, opts.jobs, (c, start) => start + vm(c.id, c.driver), () => 0).values()].map((t) => t.end));
  const warmPlan = earlyPlan(cells, groups, new Set(cells.flatMap((c) => heavyBuilds(c).map((b) => b.name))));
  lines.push(`warm cache (VMs only): the early order ends after ${formatSeconds(warmEnd(warmPlan.order))}, the matrix's order after ${formatSeconds(warmEnd(cells))}`);
  // the matrix's order on the same cache, each heavy build made by the first cell that needs it (no background slot)
  const before = simulate({ order: cells, builds: [], firstOf: new Map() }, opts.jobs, coldCellSeconds(opts.previous, undefined, new Set(plan.builds.map((b) => b.name)), opts.cold), () => 0);
  const beforeFirst = (g: EvidenceGroup) => Math.min(...cells.filter(g.feeds).map((c) => before.get(c.id)!.end));
  lines.push(`the matrix's order, for comparison: every platform row after ${formatSeconds(Math.max(0, ...rows.map(beforeFirst)))}; every claim after ${formatSeconds(Math.max(0, ...claims.map(beforeFirst)))}; the whole selection after ${formatSeconds(Math.max(0, ...[...before.values()].map((t) => t.end)))}`);
  const unfed = groups.filter((g) => !plan.order.some(g.feeds));
  if (unfed.length) lines.push(`no cell of the selection feeds: ${unfed.map((g) => g.id).join(', ')}`);
  return lines;
}
