// `npm run bench`: measures this machine, side by side in one run, and writes
// reports/bench.json (keys stable across runs) and a short table:
//   cellOverheadRatio  warm cell wall / bare boot of the same kernel to an empty init (per driver)
//   warmDownloads, warmBuilds  counted on a second (warm) run of the bench cells
//   speedupJ2          the same 8 cells at -j1 and at -j2
//   driverOverhead     a fixed syscall loop in the guest per driver / with no driver
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Debian, debianMirror } from '../apt.js';
import { QemuBackend } from '../backends/qemu.js';
import { cacheStats } from '../cache/cache.js';
import { guestImage } from '../images/guest.js';
import { fetchKernel } from '../kernels/index.js';
import { filterCells, loadMatrix, type Matrix } from '../matrix.js';
import { MACHINES } from '../machines.js';
import { GuestReader } from '../guest.js';
import { runCells } from '../run.js';
import type { CellResult, RunEvent } from '../types.js';
import { measureDriverOverhead, type DriverOverhead } from './overhead.js';

export const OVERHEAD_CELLS: Record<string, string> = {
  kmod: 'debian-6.1-amd64/kmod@0.23.2/host',
  ebpf: 'debian-6.1-amd64/ebpf@0.23.2/host',
  'modern-ebpf': 'debian-6.1-amd64/modern-ebpf@0.20.0/host',
};
export const SPEEDUP_CELLS = [
  ...Object.values(OVERHEAD_CELLS),
  'debian-6.12-amd64/kmod@0.23.2/host',
  'debian-6.12-amd64/ebpf@0.23.2/host',
  'debian-6.12-amd64/modern-ebpf@0.20.0/host',
  'debian-5.10-amd64/kmod@0.23.2/host',
  'debian-6.1-amd64/kmod@0.1.1dev/host',
];

export interface BenchResult {
  at: string;
  host: string;
  commit?: string;
  bareBootSeconds: number;
  cellSeconds: Record<string, number>;
  cellOverheadRatio: Record<string, number>;
  warmDownloads: number;
  warmBuilds: number;
  warmAptRuns: number;
  j1Seconds: number;
  j2Seconds: number;
  speedupJ2: number;
  driverOverhead: DriverOverhead | { missing: string };
  /** Per bench cell with the battery: its seconds, the soak's, and their share of the cell's wall time. */
  batteryShare?: Record<string, { battery: number; soak: number; cell: number; share: number }>;
  statuses: Record<string, string>;
}

/** The battery's and the soak's share of each cell that ran them (from the -j1 run's walls). */
export function batteryShares(results: CellResult[], walls: Map<string, number>): NonNullable<BenchResult['batteryShare']> {
  const out: NonNullable<BenchResult['batteryShare']> = {};
  for (const r of results) {
    const battery = r.evidence?.battery?.seconds, soak = r.evidence?.soak?.seconds ?? 0, cell = walls.get(r.id);
    if (battery === undefined || !cell) continue;
    out[r.id] = { battery: round(battery, 1), soak, cell: round(cell, 1), share: round((battery + soak) / cell) };
  }
  return out;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** Run cells, timing each from its first phase to its end. */
async function timedRun(m: Matrix, ids: string[], jobs: number, reportsDir: string) {
  const began = new Map<string, number>();
  const walls = new Map<string, number>();
  const t0 = Date.now();
  const { results } = await runCells({ matrix: m, cells: filterCells(m.cells, ids), reportsDir, jobs, attempts: 1 }, [
    (e: RunEvent) => {
      if (e.type === 'phase-start' && !began.has(e.cell)) began.set(e.cell, Date.now());
      if (e.type === 'cell-end') walls.set(e.result.id, (Date.now() - began.get(e.result.id)!) / 1000);
      if (e.type === 'cell-end') process.stderr.write(`  ${e.result.status.padEnd(5)} ${e.result.id} ${walls.get(e.result.id)!.toFixed(1)}s ${e.result.reason ?? ''}\n`);
    },
  ]);
  return { seconds: (Date.now() - t0) / 1000, walls, results };
}

/** A bare boot: the kernel and a busybox-only initramfs whose init reports and powers off at once. */
export async function bareBoot(m: Matrix, kernelId: string, dir: string): Promise<number> {
  const debian = new Debian(debianMirror(m.mirror), m.suites);
  const spec = m.kernels[kernelId]!;
  const kernel = await fetchKernel(spec, { debian, settings: m.kernelSettings ?? {} });
  // the empty init's guest: busybox alone, from the suite whose compiler builds for this kernel
  const base = await guestImage(debian, kernel.builder.suite, spec.arch, []);
  const backend = new QemuBackend();
  const plan = {
    machine: MACHINES[spec.machine]!,
    kernel: kernel.image,
    append: [],
    base,
    files: {},
    env: { driver: 'kmod' as const, consumer: 'sysdig' as const, nonce: 'bare', engineArgs: '', runAs: '', captureTimeout: 1, mode: 'probe' as const },
    nonce: 'bare',
    probeLog: path.join(dir, 'kvm-probe.log'),
  };
  await mkdir(dir, { recursive: true });
  const reader = new GuestReader();
  const t0 = Date.now();
  const vm = await backend.start(plan, { consoleLog: path.join(dir, 'bare-boot.log'), firstTimeout: 120, onLine: (l) => {
    if (reader.feed(l)?.verb === 'done' && !plan.machine.exitsOnPoweroff) vm.stop();
  } });
  await vm.done;
  if (!reader.report.boot) throw new Error(`bare boot of ${kernelId} did not reach init (see ${dir}/bare-boot.log)`);
  return (Date.now() - t0) / 1000;
}

export async function bench(opts: { matrixFile: string; reportsDir: string; commit?: string; skip?: string[] }): Promise<BenchResult> {
  const m = loadMatrix(opts.matrixFile);
  const runs = path.join(opts.reportsDir, 'bench-runs');
  const say = (s: string) => process.stderr.write(`bench: ${s}\n`);
  say('warming the cache (the bench cells once, -j2, not timed)');
  await timedRun(m, SPEEDUP_CELLS, 2, runs);

  say('bare boot of debian-6.1-amd64 to an empty init (best of 3)');
  const bare = Math.min(...[await bareBoot(m, 'debian-6.1-amd64', runs), await bareBoot(m, 'debian-6.1-amd64', runs), await bareBoot(m, 'debian-6.1-amd64', runs)]);

  say('warm cells one at a time (-j1): the 8 bench cells, counting downloads and builds');
  const before = { downloads: cacheStats.downloads, builds: Object.values(cacheStats.produced).reduce((a, b) => a + b, 0), apt: cacheStats.aptRuns };
  const j1 = await timedRun(m, SPEEDUP_CELLS, 1, runs);
  const warmDownloads = cacheStats.downloads - before.downloads;
  const warmBuilds = Object.values(cacheStats.produced).reduce((a, b) => a + b, 0) - before.builds;
  const warmAptRuns = cacheStats.aptRuns - before.apt;

  say('the same 8 cells at -j2');
  const j2 = await timedRun(m, SPEEDUP_CELLS, 2, runs);

  const cellSeconds: Record<string, number> = {};
  const ratio: Record<string, number> = {};
  for (const [driver, id] of Object.entries(OVERHEAD_CELLS)) {
    const w = j1.walls.get(id);
    if (w === undefined) continue;
    cellSeconds[driver] = round(w, 1);
    ratio[driver] = round(w / bare);
  }
  let overhead: BenchResult['driverOverhead'];
  try {
    say('driver overhead: a fixed syscall loop in the guest, no driver and per driver');
    overhead = await measureDriverOverhead(m, runs, OVERHEAD_CELLS);
  } catch (e) {
    overhead = { missing: (e as Error).message };
  }
  return {
    at: new Date().toISOString(),
    host: `${(await import('node:os')).hostname()} (${(await import('node:os')).cpus().length} cores)`,
    commit: opts.commit,
    bareBootSeconds: round(bare, 1),
    cellSeconds,
    cellOverheadRatio: ratio,
    warmDownloads,
    warmBuilds,
    warmAptRuns,
    j1Seconds: round(j1.seconds, 1),
    j2Seconds: round(j2.seconds, 1),
    speedupJ2: round(j1.seconds / j2.seconds),
    driverOverhead: overhead,
    batteryShare: batteryShares(j1.results, j1.walls),
    statuses: Object.fromEntries(j1.results.map((r: CellResult) => [r.id, r.status])),
  };
}

export function benchTable(b: BenchResult): string {
  const rows: [string, string, string][] = [
    ['bare boot (debian-6.1-amd64, empty init)', `${b.bareBootSeconds} s`, ''],
    ...Object.entries(b.cellOverheadRatio).map(([d, r]): [string, string, string] => [`cellOverheadRatio ${d}`, String(r), `${b.cellSeconds[d]} s; target ≤ 1.3`]),
    ['warmDownloads', String(b.warmDownloads), 'target 0'],
    ['warmBuilds', String(b.warmBuilds), 'target 0'],
    ['warm apt runs (package resolution)', String(b.warmAptRuns), 'target 0'],
    ['speedupJ2', String(b.speedupJ2), `-j1 ${b.j1Seconds} s, -j2 ${b.j2Seconds} s; target ≥ 1.7`],
    ...('missing' in b.driverOverhead
      ? [['driverOverhead', 'not measured', b.driverOverhead.missing] as [string, string, string]]
      : Object.entries(b.driverOverhead.ratio).map(([d, r]): [string, string, string] => [`driverOverhead ${d}`, String(r), `${b.driverOverhead && 'seconds' in b.driverOverhead ? b.driverOverhead.seconds[d] : ''} s loop`])),
    ...Object.entries(b.batteryShare ?? {}).map(([id, s]): [string, string, string] => [`battery+soak share ${id}`, String(s.share), `battery ${s.battery} s + soak ${s.soak} s of ${s.cell} s`]),
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return ['| measure | value | note |', '|---|---|---|', ...rows.map(([a, v, n]) => `| ${a.padEnd(w)} | ${v} | ${n} |`)].join('\n') + '\n';
}

export async function writeBench(b: BenchResult, reportsDir: string): Promise<void> {
  await mkdir(reportsDir, { recursive: true });
  await writeFile(path.join(reportsDir, 'bench.json'), JSON.stringify(b, null, 2) + '\n');
  await writeFile(path.join(reportsDir, 'bench.md'), benchTable(b));
}
