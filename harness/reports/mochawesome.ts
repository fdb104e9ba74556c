// A mochawesome report of a run (mochawesome-report-generator, assets inlined:
// one self-contained file): each cell a test, grouped by kernel; a failed cell
// carries its phase, failure class and first error line, an infrastructure error says so, a
// skipped cell is pending with its reason.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { classOf } from '../failures.js';
import type { ResultsFile } from '../results.js';
import type { CellResult } from '../types.js';

const require = createRequire(import.meta.url);

interface MargeTest {
  title: string;
  fullTitle: string;
  timedOut: boolean;
  duration: number;
  state?: 'passed' | 'failed';
  speed?: string;
  pass: boolean;
  fail: boolean;
  pending: boolean;
  context: string | null;
  code: string;
  err: { message?: string; estack?: string };
  uuid: string;
  parentUUID: string;
  isHook: false;
  skipped: false;
}

const seconds = (c: CellResult) => Object.values(c.durations).reduce((a, b) => a + (b ?? 0), 0);

/** The mochawesome JSON of a run (the format mochawesome itself writes). */
export function mochawesomeData(data: ResultsFile): object {
  const byKernel = new Map<string, CellResult[]>();
  for (const c of data.cells) byKernel.set(c.kernel.id, [...(byKernel.get(c.kernel.id) ?? []), c]);
  const root = randomUUID();
  const suites = [...byKernel].map(([kernel, cells]) => {
    const uuid = randomUUID();
    const tests: MargeTest[] = cells.map((c) => {
      const failed = c.status === 'fail' || c.status === 'error';
      const cls = failed ? classOf(c) : undefined;
      const context = [
        { title: 'status', value: c.status + (c.phase && c.status !== 'pass' ? ` at ${c.phase}` : '') },
        ...(cls ? [{ title: 'class', value: cls }] : []),
        ...(c.reason ? [{ title: c.status === 'skip' ? 'skipped because' : 'reason', value: c.reason }] : []),
        ...Object.entries(c.logs).map(([k, v]) => ({ title: `${k} log`, value: v })),
      ];
      return {
        title: c.id,
        fullTitle: `${kernel} ${c.id}`,
        timedOut: false,
        duration: Math.round(seconds(c) * 1000),
        ...(c.status === 'pass' ? { state: 'passed' as const, speed: 'slow' } : failed ? { state: 'failed' as const } : {}),
        pass: c.status === 'pass',
        fail: failed,
        pending: c.status === 'skip',
        context: JSON.stringify(context),
        code: '',
        err: failed
          ? {
              message: `${c.status === 'error' ? 'infrastructure error' : 'failed'} at ${c.phase}: ${c.firstError ?? c.reason ?? 'no error recorded'}`,
              estack: [cls && `class: ${cls}`, c.reason, c.firstError].filter(Boolean).join('\n'),
            }
          : {},
        uuid: randomUUID(),
        parentUUID: uuid,
        isHook: false,
        skipped: false,
      };
    });
    const pick = (f: (t: MargeTest) => boolean) => tests.filter(f).map((t) => t.uuid);
    return {
      uuid, title: kernel, fullFile: '', file: '', beforeHooks: [], afterHooks: [], tests, suites: [],
      passes: pick((t) => t.pass), failures: pick((t) => t.fail), pending: pick((t) => t.pending), skipped: [],
      duration: tests.reduce((a, t) => a + t.duration, 0), root: false, rootEmpty: false, _timeout: 0,
    };
  });
  const n = (s: string) => data.cells.filter((c) => c.status === s).length;
  const total = data.cells.length;
  const ran = total - n('skip');
  const start = data.run.startedAt;
  const end = data.run.finishedAt ?? start;
  return {
    stats: {
      suites: suites.length, tests: total, passes: n('pass'), pending: n('skip'), failures: n('fail') + n('error'),
      start, end, duration: Math.max(0, Date.parse(end) - Date.parse(start)) || 0, testsRegistered: total,
      passPercent: ran ? Math.round((n('pass') / ran) * 1000) / 10 : 0, pendingPercent: total ? Math.round((n('skip') / total) * 1000) / 10 : 0,
      other: 0, hasOther: false, skipped: 0, hasSkipped: false,
    },
    results: [
      { uuid: root, title: '', fullFile: '', file: '', beforeHooks: [], afterHooks: [], tests: [], suites, passes: [], failures: [], pending: [], skipped: [], duration: 0, root: true, rootEmpty: true, _timeout: 0 },
    ],
    meta: { mocha: { version: '' }, mochawesome: { options: {}, version: '' }, marge: { options: {}, version: '' } },
  };
}

/** Write mochawesome.html (self-contained) and mochawesome.json into the run directory. */
export async function writeMochawesome(data: ResultsFile, runDir: string): Promise<string> {
  const marge = require('mochawesome-report-generator') as { create(d: object, o: object): Promise<string[]> };
  const [html] = await marge.create(mochawesomeData(data), {
    reportDir: runDir,
    reportFilename: 'mochawesome',
    reportTitle: `kmatrix ${data.run.id}`,
    reportPageTitle: `kmatrix ${data.run.id}`,
    inline: true,
    inlineAssets: true,
    charts: false,
    saveJson: true,
    showPassed: true,
    overwrite: true,
    timestamp: false,
    autoOpen: false,
  });
  return html!;
}
