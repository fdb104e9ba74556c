// The results writer: consumes run events and keeps the results contract of
// the README (Results) — results.jsonl (a line per finished cell, as it ends),
// results.json at the end, and reports/latest pointing at the newest run.
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { UserError } from './errors.js';
import type { Sink } from './plan.js';
import type { Matrix } from './matrix.js';
import type { CellResult, RunInfo } from './types.js';
import { claimVerdicts, loadRecommended, platformVerdicts, type ClaimContext, type ClaimVerdict, type PlatformVerdict } from './verdicts.js';

export interface Verdicts {
  source: string;
  platforms: PlatformVerdict[];
  claims: ClaimVerdict[];
  /** Today's Falco and its sources, when the matrix has them ("then and now"). */
  today?: { falco: string; sources: string[] };
}

export interface ResultsFile {
  run: RunInfo;
  cells: CellResult[];
  verdicts?: Verdicts;
}

export interface WriterOptions {
  /** Judge the finished cells against the recommended-driver table. */
  verdicts?: (cells: CellResult[]) => Verdicts | undefined;
  onEnd?: (file: ResultsFile, runDir: string) => Promise<void>;
}

/** Verdicts of a matrix's platforms and the table it names (none if it names no table); `ctx`: the bench's figures, if any. */
export function matrixVerdicts(m: Pick<Matrix, 'recommended' | 'platforms' | 'today'>, ctx: ClaimContext = {}): WriterOptions['verdicts'] {
  if (!m.recommended) return undefined;
  const table = loadRecommended(m.recommended);
  const today = m.today ? { today: { falco: m.today.falco, sources: m.today.sources } } : {};
  return (cells) => ({ source: table.source, platforms: platformVerdicts(table, m.platforms, cells, m.today), claims: claimVerdicts(table, cells, ctx, m.today), ...today });
}

/** The driver overhead of the last `npm run bench` (reports/bench.json), when it measured one. */
export function benchOverhead(reportsDir: string): ClaimContext {
  try {
    const b = JSON.parse(readFileSync(path.join(reportsDir, 'bench.json'), 'utf8')) as { at: string; driverOverhead?: { ratio?: Record<string, number> } };
    return b.driverOverhead?.ratio ? { overhead: { at: b.at, ratio: b.driverOverhead.ratio } } : {};
  } catch {
    return {};
  }
}

export function resultsWriter(reportsDir: string, opts: WriterOptions = {}): Sink {
  let runDir = '';
  return async (e) => {
    if (e.type === 'run-start') {
      runDir = path.join(reportsDir, e.run.id);
      await mkdir(runDir, { recursive: true });
      // what the run was asked to do, so that `--resume` knows which cells are missing
      await writeFileAtomic(path.join(runDir, 'run.json'), JSON.stringify({ run: e.run, cells: e.cells }, null, 2) + '\n');
      if (!e.resume) await writeFile(path.join(runDir, 'results.jsonl'), '');
    } else if (e.type === 'cell-end') {
      await appendFile(path.join(runDir, 'results.jsonl'), JSON.stringify(e.result) + '\n');
    } else if (e.type === 'run-end') {
      const file: ResultsFile = { run: e.run, cells: e.results, verdicts: opts.verdicts?.(e.results) };
      await writeFileAtomic(path.join(runDir, 'results.json'), JSON.stringify(file, null, 2) + '\n');
      await pointLatest(reportsDir, e.run.id);
      await opts.onEnd?.(file, runDir);
    }
  };
}

async function pointLatest(reportsDir: string, runId: string): Promise<void> {
  const tmp = path.join(reportsDir, `.latest-${process.pid}`);
  await rm(tmp, { force: true });
  await symlink(runId, tmp);
  await rename(tmp, path.join(reportsDir, 'latest'));
}

export function readResults(file: string): ResultsFile {
  if (!existsSync(file)) throw new UserError(`No results at ${file}. Run \`kmatrix run\` first, or pass the run directory (reports/<run-id>).`);
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
    if (!data.run || !Array.isArray(data.cells)) throw new Error('missing "run" or "cells"');
    return data;
  } catch (e) {
    throw new UserError(`${file} is not a kmatrix results file: ${(e as Error).message}.`);
  }
}

/** The finished cells in a results.jsonl: one per id (the last line wins); a torn last line (a killed run) is ignored. */
export function readResultLines(file: string): CellResult[] {
  if (!existsSync(file)) return [];
  const byId = new Map<string, CellResult>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as CellResult;
      if (r && typeof r.id === 'string') byId.set(r.id, r);
    } catch {
      /* torn line */
    }
  }
  return [...byId.values()];
}

export interface ResumeState {
  run: RunInfo;
  /** Every cell the run was asked for. */
  cells: string[];
  /** Its cells that finished. */
  previous: CellResult[];
}

/**
 * A run to resume: what it was asked for (run.json) and what finished
 * (results.jsonl, rewritten clean so that new lines append to whole ones).
 */
export async function resumeState(reportsDir: string, runId: string): Promise<ResumeState> {
  const runDir = path.join(reportsDir, runId);
  const runFile = path.join(runDir, 'run.json');
  if (!existsSync(runFile))
    throw new UserError(`Cannot resume run ${runId}: ${runFile} does not exist. Give the id of a run under ${reportsDir} (a directory name such as 20250101-120000Z).`);
  let asked: { run: RunInfo; cells: string[] };
  try {
    asked = JSON.parse(readFileSync(runFile, 'utf8')) as { run: RunInfo; cells: string[] };
    if (!asked.run?.id || !Array.isArray(asked.cells)) throw new Error('missing "run" or "cells"');
  } catch (e) {
    throw new UserError(`Cannot resume run ${runId}: ${runFile} is not a kmatrix run file (${(e as Error).message}).`);
  }
  const jsonl = path.join(runDir, 'results.jsonl');
  const previous = readResultLines(jsonl).filter((r) => asked.cells.includes(r.id));
  await writeFileAtomic(jsonl, previous.map((r) => JSON.stringify(r) + '\n').join(''));
  return { run: asked.run, cells: asked.cells, previous };
}
