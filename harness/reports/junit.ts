// JUnit XML for CI dashboards: a test case per cell, grouped by kernel; skips
// and infrastructure errors kept apart from failures, each with its failure
// class as its `type`.
import { classOf } from '../failures.js';
import type { ResultsFile } from '../results.js';
import type { CellResult } from '../types.js';
import { esc } from './html.js';

export function renderJUnit(data: ResultsFile): string {
  const byKernel = new Map<string, CellResult[]>();
  for (const c of data.cells) byKernel.set(c.kernel.id, [...(byKernel.get(c.kernel.id) ?? []), c]);
  const total = (s: string) => data.cells.filter((c) => c.status === s).length;
  const suites = [...byKernel].map(([kernel, cells]) => {
    const cases = cells.map((c) => {
      const time = Object.values(c.durations).reduce((a, b) => a + (b ?? 0), 0).toFixed(1);
      // the failure class as JUnit's type: what CI dashboards group failures by
      const type = classOf(c) ? ` type="${esc(classOf(c))}"` : '';
      const body =
        c.status === 'fail' ? `<failure message="${esc(`${c.phase}: ${c.reason ?? ''}`)}"${type}>${esc(c.firstError ?? '')}</failure>`
        : c.status === 'error' ? `<error message="${esc(`${c.phase}: ${c.reason ?? ''}`)}"${type}/>`
        : c.status === 'skip' ? `<skipped message="${esc(c.reason ?? '')}"/>`
        // flaky: passed when run again; Surefire's element for it, which CI dashboards read
        : c.status === 'flaky' ? `<flakyFailure message="${esc(`${c.runs?.[0]?.phase ?? ''}: ${c.runs?.[0]?.reason ?? ''}`)}"${c.runs?.[0]?.class ? ` type="${esc(c.runs[0].class)}"` : ''}>${esc(c.runs?.[0]?.firstError ?? '')}</flakyFailure>`
        : '';
      return `    <testcase classname="${esc(kernel)}" name="${esc(c.id)}" time="${time}">${body}</testcase>`;
    });
    const n = (s: string) => cells.filter((c) => c.status === s).length;
    return `  <testsuite name="${esc(kernel)}" tests="${cells.length}" failures="${n('fail')}" errors="${n('error')}" skipped="${n('skip')}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kmatrix ${esc(data.run.id)}" tests="${data.cells.length}" failures="${total('fail')}" errors="${total('error')}" skipped="${total('skip')}">\n${suites.join('\n')}\n</testsuites>\n`;
}
