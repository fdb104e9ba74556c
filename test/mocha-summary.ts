// What scripts/test.mjs prints after mocha's own (spec) output: for each hook
// that failed, the tests it kept from running, by name; then the closing line
// CI reads, `N passed, N failed, N skipped`, with mocha's own counts — a failed
// hook is one failure, as in mocha's "N failing".
import type Mocha from 'mocha';
import path from 'node:path';

export interface Counts {
  passes: number;
  failures: number;
  pending: number;
}

export interface FailedHook {
  /** e.g. `suite "before all" hook for "first test"` */
  title: string;
  /** full titles of the tests of its suite (and sub-suites) that never ran */
  kept: string[];
}

export interface Summary {
  counts: Counts;
  failedHooks: FailedHook[];
  /** Seconds per test file (its directory and name, lanes.ts fileKey): its top-level suites, start to end. */
  seconds: Record<string, number>;
}

/** The last line of a run: what CI reads. */
export function closingLine(c: Counts): string {
  return `${c.passes} passed, ${c.failures} failed, ${c.pending} skipped`;
}

/** The tests below a suite that never ran (no state) and are not pending: what a failed hook of that suite kept from running. */
export function notRun(suite: Mocha.Suite): Mocha.Test[] {
  return [...suite.tests.filter((t) => !t.state && !t.isPending()), ...suite.suites.flatMap(notRun)];
}

/**
 * Follows a run from its start: mocha's counts as they stand when the run ends
 * (taken before any reporter sees 'end': mochawesome subtracts failed hooks
 * from runner.stats there), and every hook that failed. Call before the run
 * starts; the result is complete once `end` was emitted.
 */
export function watchRun(runner: Mocha.Runner): () => Summary {
  const hooks: Mocha.Runnable[] = [];
  let counts: Counts | undefined;
  runner.on('fail', (r: Mocha.Runnable) => {
    if ((r as Mocha.Hook).type === 'hook') hooks.push(r);
  });
  const seconds: Record<string, number> = {};
  const started = new Map<Mocha.Suite, number>();
  runner.on('suite', (suite: Mocha.Suite) => {
    if (suite.parent?.root && suite.file) started.set(suite, Date.now());
  });
  runner.on('suite end', (suite: Mocha.Suite) => {
    const t0 = started.get(suite);
    if (t0 === undefined || !suite.file) return;
    const file = suite.file.split(path.sep).slice(-2).join('/');
    seconds[file] = Math.round(((seconds[file] ?? 0) + (Date.now() - t0) / 1000) * 10) / 10;
  });
  runner.prependListener('end', () => {
    const s = runner.stats!;
    counts = { passes: s.passes, failures: s.failures, pending: s.pending };
  });
  return () => {
    if (!counts) throw new Error('the run has not ended');
    return {
      counts,
      failedHooks: hooks.map((h) => ({ title: h.fullTitle(), kept: h.parent ? notRun(h.parent).map((t) => t.fullTitle()) : [] })),
      seconds,
    };
  };
}

/** The lines after mocha's output, the closing line last. */
export function summaryLines(s: Pick<Summary, 'counts' | 'failedHooks'>): string[] {
  const lines: string[] = [];
  for (const h of s.failedHooks) {
    if (!h.kept.length) {
      lines.push(`failed hook: ${h.title} (it kept no test from running)`);
      continue;
    }
    lines.push(`failed hook: ${h.title} — kept ${h.kept.length} test(s) from running:`);
    for (const t of h.kept) lines.push(`  not run: ${t}`);
  }
  const { passes, failures, pending } = s.counts;
  if (passes + failures + pending === 0) lines.push('no tests ran: the test files define none');
  lines.push(closingLine(s.counts));
  return lines;
}

/** The run's exit code: 0 only when something ran and nothing failed. */
export function exitCode(s: Pick<Summary, 'counts' | 'failedHooks'>, mochaFailures: number): number {
  const { passes, failures, pending } = s.counts;
  return failures || mochaFailures || passes + failures + pending === 0 ? 1 : 0;
}
