// The terminal UI: a consumer of run events. On a terminal, one cell shows a
// spinner with its phase and elapsed time; many cells show a live summary
// (done/total, counts by status, the running cells with their phase, an ETA
// from the previous run's durations); finished cells and notes are printed
// above it. Without a terminal (CI logs) plain timestamped lines. A failed
// single cell ends with its phase, first error line and last console lines.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLogUpdate } from 'log-update';
import { parseGuestLine } from './guest.js';
import type { Sink } from './plan.js';
import { expectedCost } from './ci/shard.js';
import { runEta, type BuildEstimate, type Eta } from './eta.js';
import type { CellResult, Phase, Status } from './types.js';

const mark: Record<CellResult['status'], string> = { pass: 'PASS ', fail: 'FAIL ', skip: 'SKIP ', error: 'ERROR', flaky: 'FLAKY' };
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CONSOLE_TAIL = 30;

export function resultLine(r: CellResult): string {
  const where = r.status === 'fail' || r.status === 'error' ? ` at ${r.phase}` : '';
  const times = Object.entries(r.durations).map(([p, s]) => `${p} ${s}s`).join(', ');
  const detail = [r.reason, r.firstError && `"${r.firstError}"`].filter(Boolean).join(': ');
  return `${mark[r.status]} ${r.id}${where} — ${detail}${times ? ` (${times})` : ''}`;
}

export function formatSeconds(s: number): string {
  s = Math.max(0, Math.round(s));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface Progress {
  total: number;
  counts: Record<Status, number>;
  running: Map<string, { phase: Phase; since: number }>;
  startedAt: number;
  /** Expected seconds of the cells done and of those left (previous run's durations, else a guess). */
  expectedDone: number;
  expectedLeft: number;
  /** The heavy builds not done yet, the running one first (harness/early.ts's background slot), and since when it runs. */
  builds?: BuildEstimate[];
  buildSince?: number;
  /** Expected seconds of the cells waiting for those builds, not done yet; the run's slots. */
  gatedLeft?: number;
  jobs?: number;
}

/**
 * The run's ETA as data (the live summary's, and the progressive report's):
 * with heavy builds to come, theirs followed by their cells' when that ends later.
 */
export function progressEta(p: Progress, now: number): Eta | undefined {
  if (!p.builds?.length) {
    const s = etaSeconds(p, now);
    return s === undefined ? undefined : { seconds: s, buildsLeft: 0, estimated: false };
  }
  return runEta({
    cellsLeft: p.expectedLeft,
    cellsDone: p.expectedDone,
    elapsed: (now - p.startedAt) / 1000,
    jobs: p.jobs ?? 1,
    builds: p.builds,
    runningFor: p.buildSince === undefined ? 0 : (now - p.buildSince) / 1000,
    gatedLeft: p.gatedLeft ?? 0,
  });
}

function etaText(e: Eta | undefined): string {
  if (!e) return '';
  const builds = e.buildsLeft ? ` (${e.buildsLeft} build${e.buildsLeft > 1 ? 's' : ''} to come${e.estimated ? ', estimated' : ''})` : '';
  return ` · ETA ${formatSeconds(e.seconds)}${builds}`;
}

/**
 * Seconds left: the expected cost of the cells left, scaled by how fast the
 * done ones went compared to their expectation (which also absorbs -j).
 */
export function etaSeconds(p: Progress, now: number): number | undefined {
  if (p.expectedLeft <= 0) return 0;
  if (p.expectedDone <= 0) return undefined;
  return (p.expectedLeft * ((now - p.startedAt) / 1000)) / p.expectedDone;
}

export function summaryBlock(p: Progress, now: number): string {
  const done = p.counts.pass + p.counts.fail + p.counts.skip + p.counts.error + p.counts.flaky;
  const head = `${done}/${p.total} done · ${p.counts.pass} pass · ${p.counts.fail} fail · ${p.counts.flaky} flaky · ${p.counts.skip} skip · ${p.counts.error} error · ${formatSeconds((now - p.startedAt) / 1000)} elapsed${etaText(progressEta(p, now))}`;
  const running = [...p.running].map(([id, s]) => `  ${id}  ${s.phase}… ${formatSeconds((now - s.since) / 1000)}`);
  return [head, ...running].join('\n');
}

/** The last lines of a cell's console log, the guest's logs decoded (dmesg, insmod, consumer): what a developer looks at first. */
export function consoleTail(file: string, n = CONSOLE_TAIL): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .replace(/\n$/, '')
    .split('\n')
    .flatMap((l) => {
      const m = parseGuestLine(l);
      return m?.verb === 'log' ? [`[guest ${m.name} log]`, ...m.text.replace(/\n$/, '').split('\n')] : [l];
    })
    .slice(-n);
}

export interface UiOptions {
  out?: NodeJS.WriteStream;
  /** The previous run's results: durations for the ETA. */
  previous?: CellResult[];
  /** Where run directories are (to read a failed cell's console log). */
  reportsDir?: string;
  /** The heavy builds of the run's background slot, in its order, and the cells waiting for them (the ETA counts them). */
  builds?: { estimates: BuildEstimate[]; gated: string[] };
  jobs?: number;
}

export function terminalUi(opts: UiOptions = {}): Sink {
  const out = opts.out ?? process.stderr;
  const tty = Boolean(out.isTTY) && !process.env.CI;
  const cost = expectedCost(opts.previous);
  const p: Progress = { total: 0, counts: { pass: 0, fail: 0, skip: 0, error: 0, flaky: 0 }, running: new Map(), startedAt: Date.now(), expectedDone: 0, expectedLeft: 0 };
  const gated = new Set(opts.builds?.gated ?? []);
  if (opts.builds?.estimates.length) Object.assign(p, { builds: [...opts.builds.estimates], jobs: opts.jobs ?? 1, gatedLeft: 0 });
  let runDir = '';
  const stamp = () => new Date().toISOString().slice(11, 19);
  // a pseudo-terminal without a size (script, some docker exec -t) says 0×0, and log-update would draw nothing
  if (tty && !out.columns) Object.assign(out, { columns: 80, rows: 24 });
  const update = tty ? createLogUpdate(out) : undefined;
  let ticker: NodeJS.Timeout | undefined;
  let frame = 0;
  const draw = () => {
    if (!update) return;
    frame++;
    if (p.total === 1) {
      const [id, s] = [...p.running][0] ?? [];
      update(id && s ? `${SPINNER[frame % SPINNER.length]} ${id}  ${s.phase}… ${formatSeconds((Date.now() - s.since) / 1000)}` : '');
    } else update(summaryBlock(p, Date.now()));
  };
  const print = (line: string) => {
    if (update) {
      update.clear();
      out.write(line + '\n');
      draw();
    } else out.write(`[${stamp()}] ${line}\n`);
  };
  return (e) => {
    switch (e.type) {
      case 'run-start':
        p.total = e.cells.length;
        p.startedAt = Date.now();
        p.expectedLeft = e.cells.reduce((a, id) => a + cost(id), 0);
        if (p.builds) p.gatedLeft = [...gated].filter((id) => e.cells.includes(id)).reduce((a, id) => a + cost(id), 0);
        runDir = opts.reportsDir ? path.join(opts.reportsDir, e.run.id) : '';
        print(`run ${e.run.id}: ${e.cells.length} cell(s), mirror ${e.run.mirror}${e.run.expiredSuitesAccepted.length ? `, expired Release accepted for ${e.run.expiredSuitesAccepted.join(', ')}` : ''}`);
        if (update) ticker = setInterval(draw, p.total === 1 ? 120 : 1000);
        break;
      case 'phase-start':
        p.running.set(e.cell, { phase: e.phase, since: p.running.get(e.cell)?.since ?? Date.now() });
        if (!update) print(`${e.cell}: ${e.phase}…`);
        else draw();
        break;
      case 'phase-end':
        if (!update && !e.ok) print(`${e.cell}: ${e.phase} failed after ${e.seconds}s${e.detail ? ` (${e.detail})` : ''}`);
        break;
      case 'note':
        print(`${e.cell ? `${e.cell}: ` : ''}${e.message}`);
        break;
      case 'cell-end': {
        const r = e.result;
        p.running.delete(r.id);
        p.counts[r.status]++;
        p.expectedDone += cost(r.id);
        p.expectedLeft = Math.max(0, p.expectedLeft - cost(r.id));
        if (p.builds && gated.delete(r.id)) p.gatedLeft = Math.max(0, (p.gatedLeft ?? 0) - cost(r.id));
        print(resultLine(r));
        if (p.total === 1 && (r.status === 'fail' || r.status === 'error')) {
          const lines = [`phase: ${r.phase}`, ...(r.class ? [`class: ${r.class}`] : []), `first error: ${r.firstError ?? r.reason ?? '(none recorded)'}`];
          const log = r.logs.console && runDir ? path.join(runDir, r.logs.console) : '';
          const tail = log ? consoleTail(log) : [];
          if (tail.length) lines.push(`last ${tail.length} console lines (${path.relative(process.cwd(), log)}):`, ...tail.map((l) => `  | ${l}`));
          for (const l of lines) print(l);
        }
        break;
      }
      case 'build':
        if (e.state === 'start') p.buildSince = Date.now();
        else {
          p.builds = p.builds?.filter((b) => b.name !== e.name);
          print(`background build of ${e.name} done after ${formatSeconds(e.seconds ?? 0)}: its cells may start`);
        }
        break;
      case 'run-end': {
        clearInterval(ticker);
        update?.clear();
        update?.done();
        const n = (s: string) => e.results.filter((r) => r.status === s).length;
        print(`run ${e.run.id} done: ${n('pass')} pass, ${n('fail')} fail, ${n('flaky')} flaky, ${n('skip')} skip, ${n('error')} error in ${formatSeconds((Date.now() - p.startedAt) / 1000)}`);
        break;
      }
    }
  };
}
