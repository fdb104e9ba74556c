// The terminal UI: a consumer of run events. On a TTY a live block shows the
// running cells and their phases (log-update); finished cells and notes are
// printed above it. Elsewhere (CI logs) plain timestamped lines.
import { createLogUpdate } from 'log-update';
import type { Sink } from './run.js';
import type { CellResult, Phase } from './types.js';

const mark: Record<CellResult['status'], string> = { pass: 'PASS ', fail: 'FAIL ', skip: 'SKIP ', error: 'ERROR' };

export function resultLine(r: CellResult): string {
  const where = r.status === 'fail' || r.status === 'error' ? ` at ${r.phase}` : '';
  const times = Object.entries(r.durations).map(([p, s]) => `${p} ${s}s`).join(', ');
  const detail = [r.reason, r.firstError && `"${r.firstError}"`].filter(Boolean).join(': ');
  return `${mark[r.status]} ${r.id}${where} — ${detail}${times ? ` (${times})` : ''}`;
}

export function terminalUi(out: NodeJS.WriteStream = process.stderr): Sink {
  const tty = Boolean(out.isTTY) && !process.env.CI;
  const running = new Map<string, { phase: Phase; since: number }>();
  const stamp = () => new Date().toISOString().slice(11, 19);
  const update = tty ? createLogUpdate(out) : undefined;
  let ticker: NodeJS.Timeout | undefined;
  const draw = () =>
    update?.(
      [...running.entries()]
        .map(([id, s]) => `  ${id}  ${s.phase}… ${Math.round((Date.now() - s.since) / 1000)}s`)
        .join('\n'),
    );
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
        print(`run ${e.run.id}: ${e.cells.length} cell(s), mirror ${e.run.mirror}${e.run.expiredSuitesAccepted.length ? `, expired Release accepted for ${e.run.expiredSuitesAccepted.join(', ')}` : ''}`);
        if (update) ticker = setInterval(draw, 1000);
        break;
      case 'phase-start':
        running.set(e.cell, { phase: e.phase, since: Date.now() });
        if (!update) print(`${e.cell}: ${e.phase}…`);
        else draw();
        break;
      case 'phase-end':
        if (!update && !e.ok) print(`${e.cell}: ${e.phase} failed after ${e.seconds}s${e.detail ? ` (${e.detail})` : ''}`);
        break;
      case 'note':
        print(`${e.cell ? `${e.cell}: ` : ''}${e.message}`);
        break;
      case 'cell-end':
        running.delete(e.result.id);
        print(resultLine(e.result));
        break;
      case 'run-end': {
        clearInterval(ticker);
        update?.clear();
        update?.done();
        const n = (s: string) => e.results.filter((r) => r.status === s).length;
        print(`run ${e.run.id} done: ${n('pass')} pass, ${n('fail')} fail, ${n('skip')} skip, ${n('error')} error`);
        break;
      }
    }
  };
}
