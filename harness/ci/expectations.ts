// Expectations: the committed list of cells known to fail (expectations.yaml),
// checked against a run, so a nightly goes red for the right reason: a
// regression (passed last time, fails now or is flaky now), a failure nobody
// expects, a cell expected to fail that passes, or an expectation past its
// expiry date.
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
  /** A failure's class (harness/failures.ts): given, the cell must fail as that class (a list: as one of them, for a cell whose failure shows two faces). */
  class?: FailureClass | FailureClass[];
  /** YYYY-MM-DD: past it, the expectation itself is a failure (look again). */
  until?: string;
  line?: number;
}

export type MismatchKind = 'regression' | 'flaky-regression' | 'unexpected-failure' | 'unexpected-pass' | 'unexpected-class' | 'expired';

export interface Mismatch {
  kind: MismatchKind;
  cell: string;
  why: string;
}

/**
 * expectations.yaml, checked against the matrix's cells (controls too): every
 * failure names its class, every entry matches some cell, and no cell matches
 * two entries (which one would hold?). Bad input is a UserError naming the lines.
 */
export function loadExpectations(file: string, cellIds: readonly string[], matrixFile = 'the matrix'): Expectation[] {
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
  if (!Array.isArray(list)) throw new UserError(`${file}: "expected" must be a list of { cell, reason, status?, class?, until? }.`);
  const nodes = (doc.get('expected') as { items?: { range?: [number] }[] } | undefined)?.items ?? [];
  const where = (i: number, line?: number) => `${file}${line ? `:${line}` : ''} (expected.${i})`;
  const expectations: Expectation[] = list.map((raw: unknown, i: number) => {
    const line = lineOf(nodes[i]?.range?.[0]);
    const at = where(i, line);
    const e = raw as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.cell !== 'string' || !e.cell) throw new UserError(`${at}: each expectation needs "cell" (an id or glob).`);
    if (typeof e.reason !== 'string' || !e.reason.trim()) throw new UserError(`${at}: ${e.cell} needs a "reason" (why it is known to fail).`);
    const status = e.status ?? 'fail';
    if (status !== 'fail' && status !== 'skip' && status !== 'flaky') throw new UserError(`${at}: status must be fail, skip or flaky, not ${String(status)}.`);
    const given = Array.isArray(e.class) ? (e.class as unknown[]) : e.class === undefined ? [] : [e.class];
    const wrong = Array.isArray(e.class) && !e.class.length ? '[] (an empty list)' : given.find((c) => !isFailureClass(c));
    if (wrong !== undefined)
      throw new UserError(`${at}: class must be one of the failure classes (docs/failure-classes.md): ${FAILURE_CLASS_NAMES.join(', ')}, or a list of them — not ${String(wrong)}.`);
    if (e.class !== undefined && status !== 'fail') throw new UserError(`${at}: a class is for a failure, not for status ${String(status)}.`);
    // a failure without its class would match any failure, a new one hidden behind the known one
    if (status === 'fail' && e.class === undefined)
      throw new UserError(`${at}: ${e.cell} is expected to fail but names no "class": give the failure class it fails with (docs/failure-classes.md; the cell's \`class\` in results.json).`);
    let until: string | undefined;
    if (e.until !== undefined) {
      until = e.until instanceof Date ? e.until.toISOString().slice(0, 10) : String(e.until);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(until) || Number.isNaN(Date.parse(until))) throw new UserError(`${at}: until must be a date YYYY-MM-DD, not ${until}.`);
    }
    return { cell: e.cell, status, reason: e.reason, ...(e.class !== undefined ? { class: e.class as FailureClass | FailureClass[] } : {}), ...(until ? { until } : {}), ...(line ? { line } : {}) };
  });
  // each entry against the matrix's cells: the cells it stands for, none of them another entry's
  const problems: string[] = [];
  const owners = new Map<string, number[]>(); // a cell → the entries that match it
  const overlaps = new Map<string, string>(); // "j i" → a cell both match
  expectations.forEach((e, i) => {
    const is = picomatch(e.cell);
    const cells = cellIds.filter((id) => is(id));
    if (!cells.length) problems.push(`${where(i, e.line)}: ${e.cell} matches no cell of ${matrixFile} (a cell renamed or removed? remove or fix the entry).`);
    for (const id of cells) {
      const before = owners.get(id) ?? [];
      for (const j of before) if (!overlaps.has(`${j} ${i}`)) overlaps.set(`${j} ${i}`, id);
      owners.set(id, [...before, i]);
    }
  });
  for (const [pair, id] of overlaps) {
    const [j, i] = pair.split(' ').map(Number) as [number, number];
    const [a, b] = [expectations[j]!, expectations[i]!];
    problems.push(`${where(j, a.line)} (${a.cell}) and line ${b.line ?? '?'} (expected.${i}: ${b.cell}) overlap: both match ${id} of ${matrixFile}; make them disjoint (a cell fails one way: the one of its first failing phase).`);
  }
  if (problems.length) throw new UserError(problems.join(' '));
  return expectations;
}

/**
 * Every cell of the run against the expectations (and the previous run, to
 * tell a regression from a failure never seen passing, and a flaky cell that
 * passed last time). Skips and infrastructure errors are not expectation
 * matters, except a cell expected to be skipped that now runs.
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
    // flaky hides no regression: a cell that passed last time and failed once now is named (unless known to be flaky)
    if (r.status === 'flaky' && e?.status !== 'flaky' && before.get(r.id) === 'pass') {
      out.push({ kind: 'flaky-regression', cell: r.id, why: `passed in the previous run, flaky now: ${r.reason ?? 'failed, then passed'}` });
      continue;
    }
    // a cell expected to fail (or be skipped) that passed, even once (flaky), says the expectation is wrong
    if (e && e.status !== 'flaky' && (r.status === 'pass' || r.status === 'flaky' || (e.status === 'skip' && r.status === 'fail'))) {
      const did = r.status === 'pass' ? 'passed' : r.status === 'flaky' ? `was flaky (${r.reason ?? 'failed, then passed'})` : `failed at ${r.phase}`;
      out.push({ kind: 'unexpected-pass', cell: r.id, why: `expected to ${e.status} (${e.reason}) but ${did}: remove or update the expectation` });
    } else if (e?.class && r.status === 'fail' && !failsAs(e, r)) {
      out.push({ kind: 'unexpected-class', cell: r.id, why: `fails, but as ${classOf(r) ?? 'no class'} not ${[e.class].flat().join(' or ')} (${e.reason}): at ${r.phase}: ${r.firstError ?? r.reason ?? 'no error recorded'}` });
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
  return (r) => r.status === 'fail' && known.some((k) => k.is(r.id) && failsAs(k.e, r));
}

/** Does a failed cell fail as the entry says (its class, or one of its classes)? */
function failsAs(e: Expectation, r: CellResult): boolean {
  const c = classOf(r);
  return c !== undefined && ([e.class].flat() as string[]).includes(c);
}

/** The exit code of a run: 0 when every cell matches, 1 on any mismatch, 3 on infrastructure errors only. */
export function exitCodeFor(mismatches: Mismatch[], results: CellResult[]): number {
  if (mismatches.length) return 1;
  return results.some((r) => r.status === 'error') ? 3 : 0;
}

export function mismatchLines(ms: Mismatch[]): string[] {
  return ms.map((m) => `${m.kind.toUpperCase().replaceAll('-', ' ')}: ${m.cell} — ${m.why}`);
}
