// Expectations: the committed list of cells known to fail (expectations.yaml),
// checked against a run, so a nightly goes red for the right reason: a
// regression (passed last time, fails now), a failure nobody expects, a cell
// expected to fail that passes, or an expectation past its expiry date.
import { existsSync, readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { parseDocument } from 'yaml';
import { UserError, errorLine } from '../errors.js';
import { FAILURE_CLASS_NAMES, classOf, isFailureClass } from '../failures.js';
import type { CellResult, FailureClass, Status } from '../types.js';

export interface Expectation {
  /** A cell id or a glob (`*` stays within a `/` segment). */
  cell: string;
  /** flaky: known to fail now and then (a pass or a flaky run matches; a failure does not). */
  status: Extract<Status, 'fail' | 'skip' | 'flaky'>;
  reason: string;
  /** A failure's class (harness/failures.ts): given, the cell must fail as that class. */
  class?: FailureClass;
  /** YYYY-MM-DD: past it, the expectation itself is a failure (look again). */
  until?: string;
  line?: number;
}

export type MismatchKind = 'regression' | 'unexpected-failure' | 'unexpected-pass' | 'unexpected-class' | 'expired';

export interface Mismatch {
  kind: MismatchKind;
  cell: string;
  why: string;
}

export function loadExpectations(file: string): Expectation[] {
  if (!existsSync(file)) return [];
  let doc;
  try {
    doc = parseDocument(readFileSync(file, 'utf8'), { keepSourceTokens: true });
  } catch (e) {
    throw new UserError(`${file}: ${errorLine(e)}`);
  }
  if (doc.errors.length) throw new UserError(`${file}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const text = readFileSync(file, 'utf8');
  const lineOf = (offset?: number) => (offset === undefined ? undefined : text.slice(0, offset).split('\n').length);
  const data = doc.toJS() as { expected?: unknown } | null;
  const list = data?.expected ?? [];
  if (!Array.isArray(list)) throw new UserError(`${file}: "expected" must be a list of { cell, reason, status?, until? }.`);
  const nodes = (doc.get('expected') as { items?: { range?: [number] }[] } | undefined)?.items ?? [];
  return list.map((raw: unknown, i: number) => {
    const line = lineOf(nodes[i]?.range?.[0]);
    const at = `${file}${line ? `:${line}` : ''} (expected.${i})`;
    const e = raw as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.cell !== 'string' || !e.cell) throw new UserError(`${at}: each expectation needs "cell" (an id or glob).`);
    if (typeof e.reason !== 'string' || !e.reason.trim()) throw new UserError(`${at}: ${e.cell} needs a "reason" (why it is known to fail).`);
    const status = e.status ?? 'fail';
    if (status !== 'fail' && status !== 'skip' && status !== 'flaky') throw new UserError(`${at}: status must be fail, skip or flaky, not ${String(status)}.`);
    if (e.class !== undefined && !isFailureClass(e.class))
      throw new UserError(`${at}: class must be one of the failure classes (README, "Failure classes"): ${FAILURE_CLASS_NAMES.join(', ')} — not ${String(e.class)}.`);
    if (e.class !== undefined && status !== 'fail') throw new UserError(`${at}: a class is for a failure, not for status ${String(status)}.`);
    let until: string | undefined;
    if (e.until !== undefined) {
      until = e.until instanceof Date ? e.until.toISOString().slice(0, 10) : String(e.until);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(until) || Number.isNaN(Date.parse(until))) throw new UserError(`${at}: until must be a date YYYY-MM-DD, not ${until}.`);
    }
    return { cell: e.cell, status, reason: e.reason, ...(isFailureClass(e.class) ? { class: e.class } : {}), ...(until ? { until } : {}), ...(line ? { line } : {}) };
  });
}

/**
 * Every cell of the run against the expectations (and the previous run, to
 * tell a regression from a failure never seen passing). Skips and
 * infrastructure errors are not expectation matters, except a cell expected
 * to be skipped that now runs.
 */
export function checkExpectations(results: CellResult[], expectations: Expectation[], previous: CellResult[] = [], today = new Date()): Mismatch[] {
  const day = today.toISOString().slice(0, 10);
  const matchers = expectations.map((e) => ({ e, is: picomatch(e.cell) }));
  const before = new Map(previous.map((r) => [r.id, r.status]));
  const out: Mismatch[] = [];
  for (const r of results) {
    const e = matchers.find((m) => m.is(r.id))?.e;
    if (e?.until && e.until < day) {
      out.push({ kind: 'expired', cell: r.id, why: `expectation "${e.reason}" expired on ${e.until}${e.line ? ` (expectations.yaml line ${e.line})` : ''}: fix the cell or renew it` });
      continue;
    }
    if (e && e.status !== 'flaky' && (r.status === 'pass' || (e.status === 'skip' && r.status === 'fail'))) {
      out.push({ kind: 'unexpected-pass', cell: r.id, why: `expected to ${e.status} (${e.reason}) but ${r.status === 'pass' ? 'passed' : `failed at ${r.phase}`}: remove or update the expectation` });
    } else if (e?.class && r.status === 'fail' && classOf(r) !== e.class) {
      out.push({ kind: 'unexpected-class', cell: r.id, why: `fails, but as ${classOf(r) ?? 'no class'} not ${e.class} (${e.reason}): at ${r.phase}: ${r.firstError ?? r.reason ?? 'no error recorded'}` });
    } else if ((!e || e.status === 'flaky') && r.status === 'fail') {
      const was = before.get(r.id);
      out.push({
        kind: was === 'pass' ? 'regression' : 'unexpected-failure',
        cell: r.id,
        why: `${was === 'pass' ? 'passed in the previous run, ' : ''}fails at ${r.phase}: ${r.firstError ?? r.reason ?? 'no error recorded'}`,
      });
    }
  }
  return out;
}

/**
 * A failure expectations.yaml lists with its class: deterministic and known,
 * so not run once more to tell an intermittent fault (that second run would
 * double the time of every such cell, to learn nothing).
 */
export function knownFailures(expectations: Expectation[]): (r: CellResult) => boolean {
  const known = expectations.filter((e) => e.status === 'fail' && e.class).map((e) => ({ e, is: picomatch(e.cell) }));
  return (r) => r.status === 'fail' && known.some((k) => k.is(r.id) && k.e.class === classOf(r));
}

/** The exit code of a run: 0 when every cell matches, 1 on any mismatch, 3 on infrastructure errors only. */
export function exitCodeFor(mismatches: Mismatch[], results: CellResult[]): number {
  if (mismatches.length) return 1;
  return results.some((r) => r.status === 'error') ? 3 : 0;
}

export function mismatchLines(ms: Mismatch[]): string[] {
  return ms.map((m) => `${m.kind.toUpperCase().replace('-', ' ')}: ${m.cell} — ${m.why}`);
}
