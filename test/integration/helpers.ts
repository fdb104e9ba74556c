// Shared by the integration suites: run cells of a matrix for real and index the results.
import { execa } from 'execa';
import path from 'node:path';
import { filterCells, loadMatrix, type Matrix } from '../../harness/matrix.js';
import { matrixVerdicts, resultsWriter } from '../../harness/results.js';
import type { Sink } from '../../harness/plan.js';
import { runCells, type RunOptions } from '../../harness/run.js';
import type { CellResult, RunEvent } from '../../harness/types.js';

/** The runs' directory; a lane of the test runner (scripts/test.mjs --lanes) has its own, so that `latest` is its own run. */
export const REPORTS = path.resolve('reports/test-runs', process.env.KMATRIX_TEST_LANE ? `lane-${process.env.KMATRIX_TEST_LANE}` : '');

/** Runs of this process still going (their hook may have timed out: mocha stops waiting, the run does not). */
const running = new Map<AbortController, Promise<unknown>>();

export async function runMatrix(patterns: string[], matrix: Matrix = loadMatrix('matrix.yaml'), attempts = 2, sinks: Sink[] = [], extra: Pick<RunOptions, 'firstRunFiles'> = {}) {
  const events: RunEvent[] = [];
  const stop = new AbortController();
  const run = runCells({ matrix, cells: filterCells(matrix.cells, patterns), reportsDir: REPORTS, jobs: 2, attempts, signal: stop.signal, ...extra }, [
    (e) => void events.push(e),
    ...sinks,
    resultsWriter(REPORTS, { verdicts: matrixVerdicts(matrix) }),
  ]);
  running.set(stop, run.catch(() => undefined));
  try {
    const out = await run;
    return { ...out, events, byId: new Map(out.results.map((r) => [r.id, r])) };
  } finally {
    running.delete(stop);
  }
}

/**
 * For a suite's `after`: interrupt the runs a timed-out hook or test left
 * going (as SIGINT would: their VMs and builds are ended) and wait for them,
 * so that nothing of theirs outlives the suite.
 */
export async function endRuns(): Promise<void> {
  const left = [...running];
  for (const [stop] of left) stop.abort('the suite ended');
  await Promise.all(left.map(([, done]) => done));
}

export function describeCell(c: CellResult | undefined): string {
  return c ? `${c.status}${c.phase ? ` at ${c.phase}` : ''}: ${c.reason ?? ''} ${c.firstError ?? ''}` : 'no such cell';
}

/** QEMU processes this test process started and that are still running (other runs on the machine are not ours). */
export async function qemuProcesses(): Promise<string[]> {
  const r = await execa('pgrep', ['-a', '-P', String(process.pid)], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes('qemu-system'));
}
