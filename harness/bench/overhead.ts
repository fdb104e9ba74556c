// driverOverhead for the bench: in one VM per driver, the workload's syscall
// loop (workload.ts) runs while the driver captures (the marker seen), then
// again once the consumer has stopped and the driver is unloaded — the same
// kernel and guest without a driver. The ratio is the driver's cost.
// The loops are guest hooks (init.sh `hook capturing|unloaded`), sent along
// with the loop binary; the console reports `KMATRIX v1 loop mode=… ns=…`.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Debian, debianMirror } from '../apt.js';
import { filterCells, type Matrix } from '../matrix.js';
import { runCells } from '../run.js';
import { SYSCALL_LOOP_IN_GUEST, syscallLoop } from '../workload.js';

/** Shorter than the workload's default: under TCG an eBPF driver makes 100 000 pairs take about a minute. */
const BENCH_LOOP_COUNT = 30_000;

export interface DriverOverhead {
  loop: string;
  /** Loop seconds with the driver capturing, per driver; `none`: the same guests after unloading (median). */
  seconds: Record<string, number>;
  ratio: Record<string, number>;
}

const hookScript = (mode: string) => `
/${SYSCALL_LOOP_IN_GUEST} ${BENCH_LOOP_COUNT} /tmp/kmatrix-loop > /tmp/loop.out 2>&1
say loop mode=${mode} count=${BENCH_LOOP_COUNT} ns=$(head -n 1 /tmp/loop.out)
`;

export async function measureDriverOverhead(m: Matrix, reportsDir: string, cells: Record<string, string>): Promise<DriverOverhead> {
  const debian = new Debian(debianMirror(m.mirror), m.suites);
  const loop = await syscallLoop(debian, 'amd64');
  const dir = await mkdtemp(path.join(tmpdir(), 'kmatrix-hooks-'));
  await writeFile(path.join(dir, 'capturing'), `: > /tmp/kmatrix-loop\n${hookScript('driver')}`);
  await writeFile(path.join(dir, 'unloaded'), hookScript('none'));
  const { run, results } = await runCells(
    {
      matrix: m,
      cells: filterCells(m.cells, Object.values(cells)),
      reportsDir,
      jobs: 1,
      attempts: 1,
      guestFiles: { [SYSCALL_LOOP_IN_GUEST]: loop, 'kmatrix/hooks/capturing': path.join(dir, 'capturing'), 'kmatrix/hooks/unloaded': path.join(dir, 'unloaded') },
    },
    [],
  );
  const seconds: Record<string, number> = {};
  const none: number[] = [];
  for (const [driver, id] of Object.entries(cells)) {
    const r = results.find((x) => x.id === id);
    if (!r?.logs.console || r.status !== 'pass') continue;
    const text = await readFile(path.join(reportsDir, run.id, r.logs.console), 'utf8');
    const ns = (mode: string) => Number(new RegExp(`KMATRIX v1 loop mode=${mode} count=\\d+ ns=(\\d+)`).exec(text)?.[1] ?? NaN);
    if (Number.isFinite(ns('driver'))) seconds[driver] = ns('driver') / 1e9;
    if (Number.isFinite(ns('none'))) none.push(ns('none') / 1e9);
  }
  if (!none.length) throw new Error('no loop ran without a driver (no cell passed)');
  none.sort((a, b) => a - b);
  const base = none[Math.floor(none.length / 2)]!;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    loop: `${BENCH_LOOP_COUNT} openat/close pairs (images/guest/syscall-loop.c), in the guest`,
    seconds: { none: round(base), ...Object.fromEntries(Object.entries(seconds).map(([d, s]) => [d, round(s)])) },
    ratio: Object.fromEntries(Object.entries(seconds).map(([d, s]) => [d, round(s / base)])),
  };
}
