// The compatibility report: one self-contained HTML page (no CDN, no script
// needed) — per profile, a grid of kernels (rows, by arch/machine, sorted by
// version) × drivers and their sources (columns); each cell opens its phases,
// durations, first error line and log links.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MACHINES } from './machines.js';
import type { ResultsFile } from './results.js';
import { DRIVERS, PHASES, type CellResult } from './types.js';

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function compareVersions(a = '', b = ''): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

const DRIVER_NAMES: Record<string, string> = { kmod: 'Kernel module', ebpf: 'Legacy eBPF probe', 'modern-ebpf': 'Modern eBPF', pdig: 'pdig (ptrace)' };

function statusText(c: CellResult): string {
  if (c.status === 'fail') return `fail · ${c.phase}`;
  return c.status;
}

function cellDetails(c: CellResult): string {
  const phases = PHASES.filter((p) => c.durations[p] !== undefined)
    .map((p) => `<tr><td>${p}</td><td>${c.durations[p]!.toFixed(1)} s</td></tr>`)
    .join('');
  const logs = Object.entries(c.logs)
    .map(([k, v]) => `<a href="${esc(v)}">${esc(k)} log</a>`)
    .join(' · ');
  return `<details id="${esc(anchor(c.id))}"><summary class="st ${c.status}">${esc(statusText(c))}</summary><div class="d">
<div class="id">${esc(c.id)}</div>
${c.reason ? `<div>${esc(c.reason)}</div>` : ''}
${c.firstError ? `<pre class="err">${esc(c.firstError)}</pre>` : ''}
${c.oops ? `<details><summary>kernel console (Oops)</summary><pre class="err">${esc(c.oops)}</pre></details>` : ''}
${c.evidence ? `<div>evidence: ${c.evidence.marker ? 'marker seen' : 'marker not seen'}, ${c.evidence.events} event(s)</div>` : ''}
${c.evidence?.lines?.length ? `<pre>${esc(c.evidence.lines.join('\n'))}</pre>` : ''}
<div>kernel ${esc(c.kernel.release ?? '?')}${c.kernel.builder ? ` (drivers built in ${esc(c.kernel.builder)})` : ''} · driver ${esc(c.driver.version ?? c.driver.source)}${c.driver.api ? ` (API ${esc(c.driver.api)}, schema ${esc(c.driver.schema)})` : ''}${c.consumer?.version ? ` · consumer ${esc(c.consumer.version)}` : ''}</div>
${phases ? `<table class="ph">${phases}</table>` : ''}
${c.attempts > 1 ? `<div>attempts: ${c.attempts}</div>` : ''}
${logs ? `<div>${logs}</div>` : ''}
</div></details>`;
}

function grid(cells: CellResult[]): string {
  const columns = DRIVERS.flatMap((d) =>
    [...new Set(cells.filter((c) => c.driver.id === d).map((c) => c.driver.source))].sort(compareVersions).map((s) => ({ driver: d, source: s })),
  );
  const kernels = [...new Map(cells.map((c) => [c.kernel.id, c.kernel])).values()].sort(
    (a, b) => a.arch.localeCompare(b.arch) || a.machine.localeCompare(b.machine) || compareVersions(a.version, b.version) || a.id.localeCompare(b.id),
  );
  const driverHead = DRIVERS.filter((d) => columns.some((c) => c.driver === d))
    .map((d) => `<th colspan="${columns.filter((c) => c.driver === d).length}">${esc(DRIVER_NAMES[d])}</th>`)
    .join('');
  const sourceHead = columns.map((c) => `<th>${esc(c.source)}</th>`).join('');
  let group = '';
  let belowSeen = false, lineDrawn = false;
  const rows = kernels
    .map((k) => {
      const g = `${k.arch} · ${MACHINES[k.machine]?.description ?? k.machine}`;
      const head = g !== group ? `<tr class="grp"><th colspan="${columns.length + 1}">${esc(g)}</th></tr>` : '';
      if (g !== group) belowSeen = lineDrawn = false;
      group = g;
      // the source document's line: the legacy eBPF probe needs 4.14
      const known = k.version !== undefined && k.version !== '';
      const isBelow = known && compareVersions(k.version, '4.14') < 0;
      const line = known && !isBelow && belowSeen && !lineDrawn ? `<tr class="v414"><th colspan="${columns.length + 1}">4.14 — the legacy eBPF probe's documented minimum</th></tr>` : '';
      if (line) lineDrawn = true;
      if (isBelow) belowSeen = true;
      const tds = columns
        .map((col) => {
          const c = cells.find((x) => x.kernel.id === k.id && x.driver.id === col.driver && x.driver.source === col.source);
          return c ? `<td>${cellDetails(c)}</td>` : '<td class="none">—</td>';
        })
        .join('');
      return `${head}${line}<tr><th class="k">${esc(k.id)}<div class="rel">${esc(k.release ?? '')}</div></th>${tds}</tr>`;
    })
    .join('\n');
  return `<table class="grid"><thead><tr><th rowspan="2">kernel</th>${driverHead}</tr><tr>${sourceHead}</tr></thead><tbody>${rows}</tbody></table>`;
}

const cellLink = (id: string) => `<a href="#${esc(anchor(id))}"><code>${esc(id)}</code></a>`;
const anchor = (id: string) => `cell-${id.replace(/[^A-Za-z0-9._@-]+/g, '_')}`;

function verdictSections(v: NonNullable<ResultsFile['verdicts']>): string {
  const rows = v.platforms
    .map((p) => {
      const evidence = p.evidence
        .map((e) => `<div><span class="st ${e.outcome === 'pass' ? 'pass' : e.outcome === 'fail' ? 'fail' : 'skip'}">${esc(e.outcome)}</span> ${esc(e.kernel)}${e.cells.length ? ': ' + e.cells.map(cellLink).join(' ') : ''}${e.why && e.outcome !== 'pass' ? ` — ${esc(e.why)}` : ''}</div>`)
        .join('');
      const now = p.evidenceRecommends ? `<b>${esc(DRIVER_NAMES[p.evidenceRecommends])}</b>` : '—';
      const stale = p.evidenceRecommends && p.evidenceRecommends !== p.recommended ? ' <span class="st skip">differs</span>' : '';
      return `<tr><th>${esc(p.platform)}${p.note ? `<div class="rel">${esc(p.note)}</div>` : ''}</th><td>${esc(DRIVER_NAMES[p.recommended])}</td><td>${esc(p.profile || '—')}</td>
<td><span class="v ${p.verdict}">${esc(p.verdict)}</span><div class="rel">${esc(p.why)}</div></td><td class="ev">${evidence}</td><td>${now}${stale}<div class="rel">${esc(p.evidenceRecommendsWhy)}</div></td></tr>`;
    })
    .join('\n');
  const claims = v.claims
    .map((c) => `<tr><td>${esc(c.text)}<div class="rel">${esc(c.id)}</div></td><td><span class="v ${c.verdict}">${esc(c.verdict)}</span></td><td>${esc(c.why)}${c.cells.length ? `<div class="ev">${c.cells.slice(0, 8).map(cellLink).join(' ')}${c.cells.length > 8 ? ` … (+${c.cells.length - 8})` : ''}</div>` : ''}</td></tr>`)
    .join('\n');
  return `<section><h2>Recommended drivers</h2>
<p class="meta">The table of “${esc(v.source)}”, checked against this run: each platform stands for a profile and kernels of the matrix. <em>confirmed</em>: the recommended driver passed on every kernel; <em>partly</em>: on some; <em>contradicted</em>: it failed everywhere it ran; <em>untested</em>: no cell gave evidence (skipped or errored cells never count). The last column is what the evidence recommends today (falcoctl's order: modern eBPF, kernel module, eBPF, pdig).</p>
<table class="grid"><thead><tr><th>platform</th><th>recommended</th><th>profile</th><th>verdict</th><th>evidence</th><th>evidence recommends</th></tr></thead><tbody>${rows}</tbody></table></section>
<section><h2>Claims</h2><table class="grid"><thead><tr><th>claim</th><th>verdict</th><th>why</th></tr></thead><tbody>${claims}</tbody></table></section>`;
}

export function renderReport(data: ResultsFile): string {
  const { run, cells } = data;
  const counts = ['pass', 'fail', 'skip', 'error'].map((s) => `<span class="st ${s}">${cells.filter((c) => c.status === s).length} ${s}</span>`).join(' ');
  const profiles = [...new Set(cells.map((c) => c.profile))];
  const sections = profiles
    .map((p) => `<section><h2>Profile: ${esc(p)}</h2>${grid(cells.filter((c) => c.profile === p))}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kmatrix — Falco driver compatibility (${esc(run.id)})</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em} h2{font-size:1.15em;margin-top:1.5em}
.meta{color:#555} table.grid{border-collapse:collapse;margin-top:.5em}
.grid th,.grid td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
.grid thead th{background:#f3f3f3} tr.grp th{background:#e8eef7;font-weight:600} tr.v414 th{border-top:3px solid #c33;color:#c33;font-weight:400;font-size:.85em;text-align:left}
th.k{white-space:nowrap;font-weight:500} .rel{color:#666;font-size:.85em;font-weight:400}
.st{display:inline-block;padding:1px 6px;border-radius:3px;font-weight:600;cursor:pointer}
.st.pass{background:#d4f4dd;color:#11602a}.st.fail{background:#fadbd8;color:#8a1c12}
.st.skip{background:#eee;color:#555}.st.error{background:#fde9c4;color:#7a4a00}
.d{margin-top:4px;font-size:.9em;max-width:42em}.d .id{font-family:monospace;color:#444}
pre{white-space:pre-wrap;background:#f7f7f7;padding:4px;margin:4px 0;font-size:.85em}
pre.err{background:#fff0ee} .v{font-weight:700} .v.confirmed,.v.supported{color:#11602a} .v.partly{color:#7a4a00}
.v.contradicted{color:#8a1c12} .v.untested{color:#666} td.ev{font-size:.85em} table.ph td{border:none;padding:0 8px 0 0} td.none{color:#bbb;text-align:center}
</style></head><body>
<h1>Falco driver compatibility</h1>
<div class="meta">run ${esc(run.id)} · started ${esc(run.startedAt)} · host ${esc(run.host)} · acceleration ${esc(run.accel)} · kmatrix ${esc(run.kmatrixVersion)} · mirror ${esc(run.mirror)}${run.expiredSuitesAccepted?.length ? ` · expired Release accepted for: ${esc(run.expiredSuitesAccepted.join(', '))}` : ''}</div>
<p>${counts}</p>
<p class="meta">A pass means a marker system call issued inside the guest (an <code>openat</code> of a file named with a per-run nonce) was found in the events the driver captured. A failure names the phase it stopped in (fetch → build → boot → load → capture); <em>error</em> is infrastructure, not the driver; <em>skip</em> carries its reason.</p>
${data.verdicts ? verdictSections(data.verdicts) : ''}
${sections}
</body></html>
`;
}

/** JUnit XML for CI dashboards: a test case per cell, grouped by kernel; skips and infrastructure errors kept apart from failures. */
export function renderJUnit(data: ResultsFile): string {
  const byKernel = new Map<string, CellResult[]>();
  for (const c of data.cells) byKernel.set(c.kernel.id, [...(byKernel.get(c.kernel.id) ?? []), c]);
  const total = (s: string) => data.cells.filter((c) => c.status === s).length;
  const suites = [...byKernel].map(([kernel, cells]) => {
    const cases = cells.map((c) => {
      const time = Object.values(c.durations).reduce((a, b) => a + (b ?? 0), 0).toFixed(1);
      const body =
        c.status === 'fail' ? `<failure message="${esc(`${c.phase}: ${c.reason ?? ''}`)}">${esc(c.firstError ?? '')}</failure>`
        : c.status === 'error' ? `<error message="${esc(`${c.phase}: ${c.reason ?? ''}`)}"/>`
        : c.status === 'skip' ? `<skipped message="${esc(c.reason ?? '')}"/>`
        : '';
      return `    <testcase classname="${esc(kernel)}" name="${esc(c.id)}" time="${time}">${body}</testcase>`;
    });
    const n = (s: string) => cells.filter((c) => c.status === s).length;
    return `  <testsuite name="${esc(kernel)}" tests="${cells.length}" failures="${n('fail')}" errors="${n('error')}" skipped="${n('skip')}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kmatrix ${esc(data.run.id)}" tests="${data.cells.length}" failures="${total('fail')}" errors="${total('error')}" skipped="${total('skip')}">\n${suites.join('\n')}\n</testsuites>\n`;
}

/** Write the run's HTML report (index.html) and JUnit XML (junit.xml); returns the HTML's path. */
export async function writeReport(data: ResultsFile, runDir: string): Promise<string> {
  const file = path.join(runDir, 'index.html');
  await writeFile(file, renderReport(data));
  await writeFile(path.join(runDir, 'junit.xml'), renderJUnit(data));
  return file;
}
