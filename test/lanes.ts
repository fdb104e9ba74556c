// The test runner's lanes (scripts/test.mjs --lanes N): the test files split
// into N mocha processes that run side by side. The integration suites wait
// on downloads, builds and single-threaded QEMU guests in turn, so one
// process leaves a core idle much of the time; two keep both busy. Each file
// stays whole in one lane, in the order it had; the lanes are balanced by
// each file's duration in the last run (durations.json), else a guess.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FailedHook, Counts } from './mocha-summary.js';

/** What a lane writes for the runner that started it (--summary FILE). */
export interface LaneSummary {
  counts: Counts;
  failedHooks: FailedHook[];
  exitCode: number;
  /** Seconds per test file (fileKey), as this run measured them. */
  seconds: Record<string, number>;
}

/** How durations name a test file: its directory and name (`integration/check.test.js`, not the unit file of that name). */
export function fileKey(file: string): string {
  return file.split(path.sep).slice(-2).join('/');
}

/** A file never timed yet: an integration suite of a few minutes, a unit file of seconds. */
export function guessSeconds(file: string): number {
  return fileKey(file).startsWith('integration/') ? 300 : 5;
}

/**
 * Split `files` into `n` lanes, longest first onto the least loaded lane;
 * each lane keeps the files' given order (the unit files before the
 * integration files, alphabetical within each).
 */
export function splitLanes(files: string[], n: number, seconds: (file: string) => number): string[][] {
  const load = Array.from({ length: n }, () => 0);
  const laneOf = new Map<string, number>();
  for (const f of [...files].sort((a, b) => seconds(b) - seconds(a) || files.indexOf(a) - files.indexOf(b))) {
    const i = load.indexOf(Math.min(...load));
    laneOf.set(f, i);
    load[i]! += seconds(f);
  }
  return load.map((_, i) => files.filter((f) => laneOf.get(f) === i)).filter((l) => l.length);
}

/** Past durations by fileKey: the last run's (reports' durations.json) over the committed ones (test/durations.json). */
export function pastSeconds(...files: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of files) if (existsSync(f)) Object.assign(out, JSON.parse(readFileSync(f, 'utf8')) as Record<string, number>);
  return out;
}

interface MochawesomeStats {
  suites: number;
  tests: number;
  passes: number;
  pending: number;
  failures: number;
  testsRegistered: number;
  skipped: number;
  other: number;
  start: string;
  end: string;
  duration: number;
  [k: string]: unknown;
}

export interface MochawesomeReport {
  stats: MochawesomeStats;
  results: unknown[];
  meta?: unknown;
}

/** One mochawesome report of the lanes' reports: counts added, suites side by side, the wall time from the first start to the last end. */
export function mergeReports(reports: MochawesomeReport[]): MochawesomeReport {
  const [first] = reports;
  if (!first) throw new Error('no lane wrote a report');
  const sum = (k: keyof MochawesomeStats) => reports.reduce((n, r) => n + Number(r.stats[k] ?? 0), 0);
  const start = reports.map((r) => r.stats.start).sort()[0]!;
  const end = reports.map((r) => r.stats.end).sort().at(-1)!;
  const tests = sum('tests');
  const registered = sum('testsRegistered');
  const stats: MochawesomeStats = {
    ...first.stats,
    suites: sum('suites'),
    tests,
    passes: sum('passes'),
    pending: sum('pending'),
    failures: sum('failures'),
    testsRegistered: registered,
    skipped: sum('skipped'),
    other: sum('other'),
    hasSkipped: sum('skipped') > 0,
    hasOther: sum('other') > 0,
    passPercent: registered ? (sum('passes') / (registered - sum('pending') || 1)) * 100 : 0,
    pendingPercent: registered ? (sum('pending') / registered) * 100 : 0,
    start,
    end,
    duration: Date.parse(end) - Date.parse(start),
  };
  return { stats, results: reports.flatMap((r) => r.results), ...(first.meta ? { meta: first.meta } : {}) };
}
