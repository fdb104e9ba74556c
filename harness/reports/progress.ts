// The report while the run goes: a consumer of run events that rewrites
// reports/<run>/index.html as cells finish — at most every `everyMs`, the
// last change never left unwritten — saying "run in progress, N of M cells".
// At the run's end it stops and waits for its last write, so the final page
// (writeReport, from the results writer) is the one left.
import path from 'node:path';
import { writeFileAtomic } from '../atomic.js';
import { expectedCost } from '../ci/shard.js';
import type { Sink } from '../plan.js';
import type { Verdicts } from '../results.js';
import type { CellResult, RunInfo } from '../types.js';
import { etaSeconds, type Progress } from '../ui.js';
import { renderReport } from './html.js';

export interface ProgressiveOptions {
  /** Judge the cells so far against the recommended-driver table (as the results writer does at the end). */
  verdicts?: (cells: CellResult[]) => Verdicts | undefined;
  /** The previous run's results: cell durations for the ETA, as the live summary has it. */
  previous?: CellResult[];
  /** A resumed run's cells that had finished before (`kmatrix run --resume`). */
  resumed?: CellResult[];
  /** Least time between two writes, default 10 s. */
  everyMs?: number;
}

export function progressiveReport(reportsDir: string, opts: ProgressiveOptions = {}): Sink {
  const every = opts.everyMs ?? 10_000;
  const cost = expectedCost(opts.previous);
  const p: Progress = { total: 0, counts: { pass: 0, fail: 0, skip: 0, error: 0, flaky: 0 }, running: new Map(), startedAt: Date.now(), expectedDone: 0, expectedLeft: 0 };
  let run: RunInfo | undefined;
  let cells: CellResult[] = [...(opts.resumed ?? [])];
  let done = cells.length;
  let lastWrite = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let ended = false;

  const write = (): Promise<void> => {
    timer = undefined;
    if (!run || ended) return writing;
    lastWrite = Date.now();
    const eta = etaSeconds(p, Date.now());
    const html = renderReport(
      { run, cells, verdicts: opts.verdicts?.(cells) },
      { progress: { done, total: p.total, ...(eta !== undefined && done < p.total ? { etaSeconds: eta } : {}) } },
    );
    const file = path.join(reportsDir, run.id, 'index.html');
    // one write at a time, in order: a slow one is never overtaken by an older page
    writing = writing.then(() => writeFileAtomic(file, html)).catch(() => undefined);
    return writing;
  };
  const schedule = (): Promise<void> | undefined => {
    if (timer || ended) return undefined;
    const wait = lastWrite + every - Date.now();
    if (wait <= 0) return write();
    timer = setTimeout(write, wait);
    return undefined;
  };

  return async (e) => {
    if (e.type === 'run-start') {
      run = e.run;
      p.total = e.cells.length;
      p.startedAt = Date.now();
      p.expectedLeft = e.cells.filter((id) => !cells.some((c) => c.id === id)).reduce((a, id) => a + cost(id), 0);
      await write();
    } else if (e.type === 'cell-end') {
      cells = [...cells, e.result];
      done++;
      p.expectedDone += cost(e.result.id);
      p.expectedLeft = Math.max(0, p.expectedLeft - cost(e.result.id));
      await schedule();
    } else if (e.type === 'run-end') {
      ended = true;
      if (timer) clearTimeout(timer);
      await writing;
    }
  };
}
