// The published site's memory: history.json (one entry per published run: its
// counts and every cell's status) and what it shows — the changes since the
// previous run (regressions flagged, fixes, new and removed cells), each
// cell's streak, a small inline-SVG chart of the counts per run, and the
// regressions counted by failure class.
import { classOf } from '../failures.js';
import type { ResultsFile } from '../results.js';
import type { Status } from '../types.js';
import { esc } from './html.js';

export interface HistoryRun {
  id: string;
  startedAt: string;
  counts: Record<Status, number>;
  cells: Record<string, Status>;
  /** The failure class of each cell that failed or errored (harness/failures.ts); absent in entries written before classes. */
  classes?: Record<string, string>;
}

export interface History {
  runs: HistoryRun[]; // oldest first
}

export interface RunDiff {
  previous?: string;
  regressions: string[]; // pass → fail
  /** The regressions counted by their failure class now, most first ("unclassified": an entry without classes). */
  regressionsByClass: [string, number][];
  fixes: string[]; // fail → pass
  changed: { cell: string; from: Status; to: Status }[]; // every other status change
  added: string[];
  removed: string[];
}

export function historyEntry(data: ResultsFile): HistoryRun {
  const counts: Record<Status, number> = { pass: 0, fail: 0, skip: 0, error: 0, flaky: 0 };
  const cells: Record<string, Status> = {};
  const classes: Record<string, string> = {};
  for (const c of data.cells) {
    counts[c.status]++;
    cells[c.id] = c.status;
    const cls = c.status === 'fail' || c.status === 'error' ? classOf(c) : undefined;
    if (cls) classes[c.id] = cls;
  }
  return { id: data.run.id, startedAt: data.run.startedAt, counts, cells, classes };
}

/** Add (or replace, when republished) a run, keeping runs in start order. */
export function addRun(h: History, run: HistoryRun): History {
  const runs = [...h.runs.filter((r) => r.id !== run.id), run].sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
  return { runs };
}

export function diffRuns(prev: HistoryRun | undefined, cur: HistoryRun): RunDiff {
  const d: RunDiff = { previous: prev?.id, regressions: [], regressionsByClass: [], fixes: [], changed: [], added: [], removed: [] };
  if (!prev) return d;
  for (const [cell, to] of Object.entries(cur.cells)) {
    const from = prev.cells[cell];
    if (from === undefined) d.added.push(cell);
    else if (from === 'pass' && to === 'fail') d.regressions.push(cell);
    else if (from === 'fail' && to === 'pass') d.fixes.push(cell);
    else if (from !== to) d.changed.push({ cell, from, to });
  }
  d.removed = Object.keys(prev.cells).filter((c) => !(c in cur.cells));
  for (const k of ['regressions', 'fixes', 'added', 'removed'] as const) d[k].sort();
  const byClass = new Map<string, number>();
  for (const cell of d.regressions) {
    const cls = cur.classes?.[cell] ?? 'unclassified';
    byClass.set(cls, (byClass.get(cls) ?? 0) + 1);
  }
  d.regressionsByClass = [...byClass].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return d;
}

/** The cells that were flaky in the published runs, with how often, most first. */
export function flakyCounts(h: History): [string, number][] {
  const n = new Map<string, number>();
  for (const r of h.runs) for (const [cell, s] of Object.entries(r.cells)) if (s === 'flaky') n.set(cell, (n.get(cell) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** How many runs in a row (up to the latest) a cell has had its current status. */
export function streak(h: History, cell: string): { status: Status; runs: number } | undefined {
  const last = h.runs.at(-1)?.cells[cell];
  if (!last) return undefined;
  let n = 0;
  for (let i = h.runs.length - 1; i >= 0 && h.runs[i]!.cells[cell] === last; i--) n++;
  return { status: last, runs: n };
}

const COLORS: Record<Status, string> = { pass: '#2e9e4f', fail: '#c0392b', skip: '#999', error: '#e0a030', flaky: '#8e44ad' };

/** Stacked bars of pass/fail/skip/error per run, oldest left; each bar links to its run. */
export function countsChart(h: History, runHref: (id: string) => string): string {
  const runs = h.runs.slice(-30);
  const max = Math.max(1, ...runs.map((r) => r.counts.pass + r.counts.fail + r.counts.skip + r.counts.error + (r.counts.flaky ?? 0)));
  const bw = 16, gap = 4, height = 80;
  const bars = runs
    .map((r, i) => {
      let y = height;
      const parts = (['pass', 'fail', 'error', 'flaky', 'skip'] as Status[])
        .map((s) => {
          const hgt = (r.counts[s] / max) * height;
          y -= hgt;
          return hgt > 0 ? `<rect x="${i * (bw + gap)}" y="${y.toFixed(1)}" width="${bw}" height="${hgt.toFixed(1)}" fill="${COLORS[s]}"/>` : '';
        })
        .join('');
      const title = `${r.id}: ${r.counts.pass} pass, ${r.counts.fail} fail, ${r.counts.skip} skip, ${r.counts.error} error`;
      return `<a href="${esc(runHref(r.id))}"><g><title>${esc(title)}</title>${parts}</g></a>`;
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="pass/fail/skip/error per run" width="${Math.max(1, runs.length) * (bw + gap)}" height="${height}" viewBox="0 0 ${Math.max(1, runs.length) * (bw + gap)} ${height}" xmlns="http://www.w3.org/2000/svg">${bars}</svg>`;
}

/** The history section of the published index: changes, streaks of changed cells, chart, every run. */
export function historySection(h: History, runHref: (id: string) => string): string {
  const cur = h.runs.at(-1);
  if (!cur) return '';
  const prev = h.runs.at(-2);
  const d = diffRuns(prev, cur);
  const list = (cls: string, title: string, cells: string[], what = (c: string) => esc(c)) =>
    cells.length ? `<div class="${cls}"><b>${esc(title)} (${cells.length})</b><ul>${cells.map((c) => `<li>${what(c)}</li>`).join('')}</ul></div>` : '';
  const withStreak = (c: string) => {
    const s = streak(h, c);
    return `<a href="#cell-${esc(c.replace(/[^A-Za-z0-9._@-]+/g, '_'))}"><code>${esc(c)}</code></a>${s ? ` <span class="rel">${esc(s.status)} for ${s.runs} run(s)</span>` : ''}`;
  };
  const byClass = d.regressionsByClass.length
    ? `<div class="reg-cls">Regressions by class: ${d.regressionsByClass.map(([k, n]) => `<code>${esc(k)}</code> ${n}`).join(' · ')}</div>`
    : '';
  const withClass = (c: string) => `${withStreak(c)}${cur.classes?.[c] ? ` <code class="cls">${esc(cur.classes[c])}</code>` : ''}`;
  const changes = prev
    ? [
        byClass,
        list('reg', 'Regressions: passed in the previous run, fail now', d.regressions, withClass),
        list('fix', 'Fixed: failed in the previous run, pass now', d.fixes, withStreak),
        list('chg', 'Other changes', d.changed.map((x) => x.cell), (c) => {
          const x = d.changed.find((y) => y.cell === c)!;
          return `${withStreak(c)} <span class="rel">${esc(x.from)} → ${esc(x.to)}</span>`;
        }),
        list('flaky', 'Flaky: failed, then passed when run once more (times flaky over the published runs)', flakyCounts(h).map(([c]) => c), (c) => `${withStreak(c)} <span class="rel">flaky in ${flakyCounts(h).find(([x]) => x === c)![1]} of ${h.runs.length} run(s)</span>`),
        list('new', 'New cells', d.added, withStreak),
        list('gone', 'Removed cells', d.removed),
      ].join('') || '<p>No change since the previous run.</p>'
    : '<p>The first published run: nothing to compare with yet.</p>';
  const runs = [...h.runs]
    .reverse()
    .map((r) => `<li><a href="${esc(runHref(r.id))}">${esc(r.id)}</a> <span class="rel">${esc(r.startedAt)} · ${r.counts.pass} pass, ${r.counts.fail} fail, ${r.counts.skip} skip, ${r.counts.error} error</span></li>`)
    .join('');
  return `<section id="history" class="hist"><h2>Since the previous run${prev ? ` (${esc(prev.id)})` : ''}</h2>
${changes}
<h3>Counts per run</h3>${countsChart(h, runHref)}
<details><summary>Every run (${h.runs.length})</summary><ul>${runs}</ul></details></section>`;
}
