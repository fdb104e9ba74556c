// The results writer: consumes run events and keeps the results contract of
// the README (Results) — results.jsonl (a line per finished cell, as it ends),
// results.json at the end, and reports/latest pointing at the newest run.
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from './errors.js';
import type { Sink } from './run.js';
import type { Matrix } from './matrix.js';
import type { CellResult, RunInfo } from './types.js';
import { claimVerdicts, loadRecommended, platformVerdicts, type ClaimVerdict, type PlatformVerdict } from './verdicts.js';

export interface Verdicts {
  source: string;
  platforms: PlatformVerdict[];
  claims: ClaimVerdict[];
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

/** Verdicts of a matrix's platforms and the table it names (none if it names no table). */
export function matrixVerdicts(m: Pick<Matrix, 'recommended' | 'platforms'>): WriterOptions['verdicts'] {
  if (!m.recommended) return undefined;
  const table = loadRecommended(m.recommended);
  return (cells) => ({ source: table.source, platforms: platformVerdicts(table, m.platforms, cells), claims: claimVerdicts(table, cells) });
}

export function resultsWriter(reportsDir: string, opts: WriterOptions = {}): Sink {
  let runDir = '';
  return async (e) => {
    if (e.type === 'run-start') {
      runDir = path.join(reportsDir, e.run.id);
      await mkdir(runDir, { recursive: true });
      await writeFile(path.join(runDir, 'results.jsonl'), '');
    } else if (e.type === 'cell-end') {
      await appendFile(path.join(runDir, 'results.jsonl'), JSON.stringify(e.result) + '\n');
    } else if (e.type === 'run-end') {
      const file: ResultsFile = { run: e.run, cells: e.results, verdicts: opts.verdicts?.(e.results) };
      await writeFile(path.join(runDir, 'results.json'), JSON.stringify(file, null, 2) + '\n');
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
