// The compatibility report: one self-contained HTML page (no CDN; works from
// file:// and from a static host). Per profile, a grid of kernels (rows, grouped
// by arch and machine, sorted by version, a line at 4.14) × drivers and their
// sources (columns); each cell opens its phases, durations, first error line,
// oops excerpt and log links. Filters are a small inline script over data-*
// attributes. Everything from a result is escaped: logs are hostile input.
import { isControl } from '../controls.js';
import { classCounts, classOf, FAILURE_CLASSES } from '../failures.js';
import { featuresLine } from '../kernels/features.js';
import { MACHINES } from '../machines.js';
import type { ResultsFile } from '../results.js';
import { toolchainLine } from '../toolchain.js';
import { formatSeconds } from '../ui.js';
import { DRIVERS, PHASES, type BatteryResult, type CellResult, type Overhead } from '../types.js';
import { todayPick, type PlatformVerdict, type TodayPick } from '../verdicts.js';

export const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A cell's timed syscall loop in words: how many times slower each driver made it. */
export function overheadText(o: Overhead): string {
  const x = (n: number) => `${n.toFixed(1)}×`;
  const parts = [
    o.pdigVsKmod !== undefined ? `pdig ${x(o.pdigVsKmod)} slower than the kernel module` : '',
    o.pdigSlowdown !== undefined ? `pdig ${x(o.pdigSlowdown)} the untraced time` : '',
    o.kmodSlowdown !== undefined ? `kernel module ${x(o.kmodSlowdown)} the untraced time` : '',
  ].filter(Boolean);
  return `syscall loop (${o.count} openat/close): ${parts.join('; ') || 'no ratio'}${o.notes?.length ? ` (${o.notes.join('; ')})` : ''}`;
}

export function compareVersions(a = '', b = ''): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export const DRIVER_NAMES: Record<string, string> = { kmod: 'Kernel module', ebpf: 'Legacy eBPF probe', 'modern-ebpf': 'Modern eBPF', pdig: 'pdig (ptrace)' };
const VERDICT_TEXT: Record<string, string> = { insufficient: 'not enough evidence' };

export interface RenderOptions {
  /** Prefix of the run's own files (log links) when the page is not in the run directory. */
  base?: string;
  /** Extra HTML placed after the summary (the published site's history). */
  history?: string;
  /** A cell's streak across published runs ("pass for 3 runs"), shown in its details. */
  streak?: (id: string) => string | undefined;
  /** The run is still going: the page says how far it is (progress.ts rewrites it as cells finish). */
  progress?: { done: number; total: number; etaSeconds?: number };
}

function statusText(c: CellResult): string {
  if (c.status === 'fail' || c.status === 'error') return `${c.status} · ${c.phase ?? '?'}`;
  return c.status;
}

const anchor = (id: string) => `cell-${id.replace(/[^A-Za-z0-9._@-]+/g, '_')}`;
const cellLink = (id: string) => `<a href="#${esc(anchor(id))}"><code>${esc(id)}</code></a>`;

function cellDetails(c: CellResult, base: string, streak?: RenderOptions['streak']): string {
  const phases = PHASES.filter((p) => c.durations[p] !== undefined)
    .map((p) => `<tr><td>${p}</td><td>${c.durations[p]!.toFixed(1)} s</td></tr>`)
    .join('');
  const logs = Object.entries(c.logs)
    .map(([k, v]) => `<a href="${esc(base + v)}">${esc(k)} log</a>`)
    .join(' · ');
  const cls = classOf(c);
  const meaning = cls ? (FAILURE_CLASSES as Record<string, string>)[cls] : undefined;
  return `<div class="cell" id="${esc(anchor(c.id))}"><details><summary class="st ${c.status}">${esc(statusText(c))}${cls ? `<span class="cls">${esc(cls)}</span>` : ''}</summary><div class="d">
<div class="id">${esc(c.id)}</div>
${cls ? `<div class="cls-d">class <code>${esc(cls)}</code>${meaning ? `: ${esc(meaning)}` : ''}</div>` : ''}
${c.reason ? `<div class="reason">${esc(c.reason)}</div>` : ''}
${c.firstError ? `<pre class="err">${esc(c.firstError)}</pre>` : ''}
${c.oops ? `<details><summary>kernel console (Oops)</summary><pre class="err oops">${esc(c.oops)}</pre></details>` : ''}
${c.evidence ? `<div>evidence: ${c.evidence.marker ? 'marker seen' : 'marker not seen'}, ${c.evidence.events} event(s)</div>` : ''}
${c.evidence?.falco ? falcoText(c.evidence.falco) : c.evidence?.lines?.length ? `<pre>${esc(c.evidence.lines.join('\n'))}</pre>` : ''}
${c.evidence?.untracedMarker !== undefined ? `<div>untraced process's marker: ${c.evidence.untracedMarker ? 'captured (pdig saw beyond what it traces)' : 'not captured (pdig sees only what it traces)'}</div>` : ''}
${c.evidence?.overhead ? `<div class="overhead">${esc(overheadText(c.evidence.overhead))}</div>` : ''}
${c.evidence?.battery ? batteryHtml(c.evidence.battery) : ''}
${c.evidence?.soak ? `<div>soak: ${c.evidence.soak.seconds} s, ${c.evidence.soak.runs} battery run(s), ${c.evidence.soak.events} event(s) printed, ${c.evidence.soak.parseErrors} parse error(s); drops: ${c.evidence.falco?.driverDrops ?? 'not reported by this consumer'}${c.evidence.soak.alive === false ? '; the consumer gone at its end' : ''}</div>` : ''}
${c.runs?.length ? `<div>runs: ${c.runs.map((r, i) => `${i + 1}. ${esc(r.status)}${r.phase && r.status !== 'pass' ? ` at ${esc(r.phase)}` : ''}${r.class ? ` (${esc(r.class)})` : ''}: ${esc(r.firstError ?? r.reason ?? '')}${r.logs?.console ? ` <a href="${esc(base + r.logs.console)}">console</a>` : ''}`).join('; ')}</div>` : ''}
${c.evidence?.warnings?.length ? `<details><summary>consumer warnings (${c.evidence.warnings.length})</summary><pre>${esc(c.evidence.warnings.join('\n'))}</pre></details>` : ''}
<div>kernel ${esc(c.kernel.release ?? '?')}${c.kernel.builder ? ` (drivers built in ${esc(c.kernel.builder)})` : ''} · driver ${esc(c.driver.version ?? c.driver.source)}${c.driver.api ? ` (API ${esc(c.driver.api)}, schema ${esc(c.driver.schema)})` : ''}${c.consumer?.version ? ` · consumer ${esc(c.consumer.version)}` : ''}</div>
${c.kernel.packageVersion || c.kernel.features ? `<div class="kfacts">kernel package ${esc(c.kernel.packageVersion ?? '?')}${c.kernel.features ? ` · ${esc(featuresLine(c.kernel.features))}` : ''}</div>` : ''}
${c.toolchain ? `<div class="toolchain">driver built with ${esc(toolchainLine(c.toolchain))}</div>` : ''}
${phases ? `<table class="ph">${phases}</table>` : ''}
${c.attempts > 1 ? `<div>attempts: ${c.attempts}</div>` : ''}
${streak?.(c.id) ? `<div class="streak">${esc(streak(c.id))}</div>` : ''}
${logs ? `<div>${logs}</div>` : ''}
</div></details>${firstErrorLine(c)}</div>`;
}

/** A failing (or errored, or flaky) cell's first error, shown folded-open: seen without a click; hidden while the cell's details are open (they repeat it). */
function firstErrorLine(c: CellResult): string {
  if (c.status !== 'fail' && c.status !== 'error' && c.status !== 'flaky') return '';
  const text = c.firstError ?? c.reason ?? '';
  return text ? `<div class="fe" title="${esc(text)}">${esc(text)}</div>` : '';
}

const below414 = (v?: string) => compareVersions(v ?? '', '4.14') < 0;

function grid(cells: CellResult[], base: string, streak?: RenderOptions['streak']): string {
  const columns = DRIVERS.flatMap((d) =>
    [...new Set(cells.filter((c) => c.driver.id === d).map((c) => c.driver.source))].sort(compareVersions).map((s) => ({ driver: d, source: s })),
  );
  // a kernel's entry from a cell that knows its version (a cell skipped early may not)
  const byId = new Map<string, CellResult['kernel']>();
  for (const c of cells) if (!byId.get(c.kernel.id)?.version) byId.set(c.kernel.id, c.kernel);
  const kernels = [...byId.values()].sort(
    (a, b) => a.arch.localeCompare(b.arch) || a.machine.localeCompare(b.machine) || compareVersions(a.version, b.version) || a.id.localeCompare(b.id),
  );
  const colAttrs = (driver: string, source?: string) => ` data-driver="${esc(driver)}"${source !== undefined ? ` data-source="${esc(source)}"` : ''}`;
  const driverHead = DRIVERS.filter((d) => columns.some((c) => c.driver === d))
    .map((d) => `<th colspan="${columns.filter((c) => c.driver === d).length}"${colAttrs(d)}>${esc(DRIVER_NAMES[d])}</th>`)
    .join('');
  const sourceHead = columns.map((c) => `<th${colAttrs(c.driver, c.source)}>${esc(c.source)}</th>`).join('');
  const width = columns.length + 1;
  // the 4.14 line only when the grid spans it (some row below 4.14); then in every group, where 4.14 falls
  const spans414 = kernels.some((k) => !!k.version && below414(k.version));
  const groups = [...new Set(kernels.map((k) => `${k.arch}\n${k.machine}`))];
  const rows = groups
    .map((g, gi) => {
      const [arch, machine] = g.split('\n') as [string, string];
      const ks = kernels.filter((k) => k.arch === arch && k.machine === machine);
      const head = `<tr class="grp" data-group="${gi}" data-arch="${esc(arch)}"><th colspan="${width}">${esc(`${arch} · ${MACHINES[machine]?.description ?? machine}`)}</th></tr>`;
      // The 4.14 line: legacy eBPF's minimum; drawn where 4.14 falls among the rows.
      const line = `<tr class="v414" data-group="${gi}" data-arch="${esc(arch)}"><td colspan="${width}">4.14 — above: older than the legacy eBPF probe's minimum; below: 4.14 and newer</td></tr>`;
      const at = ks.findIndex((k) => !below414(k.version));
      const body = ks.map((k, i) => {
        const tds = columns
          .map((col) => {
            const c = cells.find((x) => x.kernel.id === k.id && x.driver.id === col.driver && x.driver.source === col.source);
            if (!c) return `<td class="none"${colAttrs(col.driver, col.source)}>—</td>`;
            const text = [c.id, c.kernel.release, c.reason, c.firstError, classOf(c)].filter(Boolean).join(' ').toLowerCase();
            return `<td class="c"${colAttrs(col.driver, col.source)} data-status="${c.status}" data-class="${esc(classOf(c) ?? '')}" data-profile="${esc(c.profile)}" data-arch="${esc(arch)}" data-text="${esc(text)}">${cellDetails(c, base, streak)}</td>`;
          })
          .join('');
        const row = `<tr class="r" data-group="${gi}" data-arch="${esc(arch)}"><th class="k">${esc(k.id)}<div class="rel">${esc(k.release ?? '')}</div></th>${tds}</tr>`;
        return (spans414 && i === at ? line : '') + row;
      });
      return head + body.join('\n') + (spans414 && at < 0 ? line : '');
    })
    .join('\n');
  return `<table class="grid cells"><thead><tr><th rowspan="2">kernel</th>${driverHead}</tr><tr>${sourceHead}</tr></thead><tbody>${rows}</tbody></table>`;
}

/** The battery, folded: calls right / wrong / missing, and each call not right with its fields (expected, seen). */
function batteryHtml(b: BatteryResult): string {
  const bad = b.calls.filter((c) => c.status !== 'right');
  const rows = bad
    .map((c) => `<tr><td>${c.seq}</td><td>${esc(c.call)}</td><td>${c.status}</td><td>${c.status === 'missing' ? 'no event' : esc(c.fields.filter((f) => f.seen !== f.expected).map((f) => `${f.field}: expected ${f.expected}, saw ${f.seen}`).join('; ') || 'no enter event')}</td></tr>`)
    .join('');
  return `<details><summary>battery: ${b.right} right, ${b.wrong} wrong, ${b.missing} missing of ${b.calls.length} call(s)${b.firstProblem ? ` — ${esc(b.firstProblem)}` : ''}</summary>${rows ? `<table class="ph"><tr><th>#</th><th>call</th><th></th><th>what</th></tr>${rows}</table>` : '<div>every checked parameter as the script made it</div>'}</details>`;
}

/** A Falco cell's evidence: Falco's alert as it printed it, its start-up time and its own counters. */
function falcoText(f: NonNullable<NonNullable<CellResult['evidence']>['falco']>): string {
  const counters = [
    f.startupSeconds !== undefined ? `started in ${f.startupSeconds} s` : '',
    f.driverEvents !== undefined ? `${f.driverEvents} driver event(s)` : '',
    f.driverDrops !== undefined ? `${f.driverDrops} driver drop(s)` : '',
    f.dropsDetected !== undefined ? `drop monitor: ${f.dropsDetected}` : '',
  ].filter(Boolean);
  return `<div class="falco">Falco's alert:</div>${f.alert ? `<pre>${esc(f.alert)}</pre>` : '<div><i>none</i></div>'}${counters.length ? `<div class="rel">${esc(counters.join(' · '))}</div>` : ''}`;
}

/** A link to a cell in the grid, coloured by its status: `label` (default its driver source), titled with its id. */
function cellChip(id: string, byId: Map<string, CellResult>, label?: string): string {
  const c = byId.get(id);
  return `<a class="chip st ${esc(c?.status ?? 'skip')}" href="#${esc(anchor(id))}" title="${esc(`${id}: ${c?.status ?? 'not in this run'}`)}">${esc(label ?? c?.driver.source ?? id)}</a>`;
}

/** Cells grouped by kernel: "kernel: [source] [source]", each source a link to its cell. */
function chipsByKernel(ids: string[], byId: Map<string, CellResult>): string {
  const kernels = [...new Set(ids.map((id) => byId.get(id)?.kernel.id ?? id.split('/')[0]!))];
  // cells of several drivers (or profiles) say which: driver@source[/profile]
  const of = (f: (c: CellResult) => string) => new Set(ids.map((id) => byId.get(id)).filter((c) => c !== undefined).map(f)).size > 1;
  const [drivers, profiles] = [of((c) => c.driver.id), of((c) => c.profile)];
  const label = (id: string) => {
    const c = byId.get(id);
    return c && (drivers || profiles) ? `${drivers ? `${c.driver.id}@` : ''}${c.driver.source}${profiles ? `/${c.profile}` : ''}` : undefined;
  };
  return kernels
    .map((k) => `<span class="kev">${esc(k)} ${ids.filter((id) => (byId.get(id)?.kernel.id ?? id.split('/')[0]) === k).map((id) => cellChip(id, byId, label(id))).join(' ')}</span>`)
    .join(' ');
}

/**
 * On which kernels a row was judged: today's answer's kernels (else the
 * document's verdict's) of the row's, and whether those are the platform's
 * own kernels or Debian stand-ins (and why).
 */
function judgedOnHtml(p: PlatformVerdict, pick: TodayPick | undefined): string {
  const kernels = pick ? pick.kernels : p.evidence.filter((e) => e.outcome !== 'none').map((e) => e.kernel);
  const on = (pick ? p.today?.judgedOn : undefined) ?? p.judgedOn;
  const kind = on ? `<div class="rel">${on.own ? esc(on.text) : `<span class="st skip">stand-in kernels</span> ${esc(on.text)}`}${on.note ? ` — ${esc(on.note)}` : ''}</div>` : '';
  const of = on?.kernels ?? p.kernels;
  if (!of.length) return `<i>no kernels mapped</i>${kind}`;
  const missing = of.filter((k) => !kernels.includes(k));
  return `${kernels.length ? esc(kernels.join(', ')) : '<i>no evidence</i>'} <span class="rel">(${kernels.length} of ${of.length} kernel(s)${missing.length && kernels.length ? `; no evidence on ${esc(missing.join(', '))}` : ''})</span>${kind}`;
}

/** The first screen: per row of the document's table, its recommendation and verdict, and what today's Falco's cells recommend, each linked to its cells. */
function answerSection(v: NonNullable<ResultsFile['verdicts']>, cells: CellResult[]): string {
  const byId = new Map(cells.map((c) => [c.id, c]));
  const rows = v.platforms
    .map((p) => {
      const pick = v.today ? todayPick({ profile: p.profile, kernels: p.today?.judgedOn?.kernels ?? p.kernels }, cells, v.today) : undefined;
      const docCells = p.evidence.flatMap((e) => e.cells);
      const gone = p.removedUpstream ? `<div class="rel gone">${esc(p.removedUpstream)}</div>` : '';
      const doc = `${esc(DRIVER_NAMES[p.recommended])} <span class="v ${esc(p.verdict)}">${esc(VERDICT_TEXT[p.verdict] ?? p.verdict)}</span>${gone}${docCells.length ? `<div class="ev">${chipsByKernel(docCells, byId)}</div>` : ''}`;
      const now = pick
        ? `<td class="now">${pick.driver ? `<b>${esc(DRIVER_NAMES[pick.driver])}</b>${pick.driver !== p.recommended ? ' <span class="st skip">differs</span>' : ''}` : pick.insufficient ? '<i>not enough evidence</i>' : pick.kernels.length ? '<i>none passed</i>' : '<i>no evidence</i>'}${pick.cells.length ? `<div class="ev">${chipsByKernel(pick.cells, byId)}</div>` : ''}</td>`
        : '';
      const evidence = p.evidence
        .map((e) => `<li><span class="st ${e.outcome === 'pass' ? 'pass' : e.outcome === 'fail' ? 'fail' : 'skip'}">${esc(e.outcome)}</span> ${esc(e.kernel)}${e.cells.length ? ': ' + e.cells.map(cellLink).join(' ') : ''}${e.why && e.outcome !== 'pass' ? ` — ${esc(e.why)}` : ''}</li>`)
        .join('');
      const why = `<details><summary>why</summary><div class="d">${p.note ? `<div class="rel">${esc(p.note)}</div>` : ''}<div>the document's driver: ${esc(p.why)}</div><div class="rel">with the document's drivers the evidence recommends ${p.evidenceRecommends ? esc(DRIVER_NAMES[p.evidenceRecommends]) : 'none'}: ${esc(p.evidenceRecommendsWhy)}</div>${pick ? `<div class="rel">today's Falco ${esc(pick.falco)}: ${esc(pick.why)}</div>` : ''}${evidence ? `<ul class="ev">${evidence}</ul>` : ''}</div></details>`;
      return `<tr class="plat"><th>${esc(p.platform)}<div class="rel">profile ${esc(p.profile || 'none')}</div></th><td class="doc">${doc}</td>${now}<td class="on">${judgedOnHtml(p, pick)}</td><td>${why}</td></tr>`;
    })
    .join('\n');
  const today = v.today ? `today's Falco ${esc(v.today.falco)}` : '';
  return `<section id="recommended"><h2>Which driver for my platform?</h2>
<p class="meta">Each row of the table of “${esc(v.source)}”: the driver it recommends and how that held up in this run (<em>confirmed</em> on every kernel of the row, <em>partly</em>, <em>contradicted</em>, <em>untested</em>, <em>not enough evidence</em>)${v.today ? `; beside it the driver ${today} would run: the first of its order of preference (modern eBPF, kernel module, legacy eBPF) whose cells of today's driver sources (${esc(v.today.sources.join(', '))}) on the row's kernels all passed` : ''}. Each answer links to the cells behind it (coloured by status); skipped, errored and flaky cells are never evidence.</p>
<table class="grid answer"><thead><tr><th>platform</th><th>the document recommends</th>${v.today ? `<th>${today} recommends</th>` : ''}<th>judged on</th><th></th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function claimsSection(v: NonNullable<ResultsFile['verdicts']>, cells: CellResult[]): string {
  const byId = new Map(cells.map((c) => [c.id, c]));
  const claims = v.claims
    .map((c) => `<tr><td>${esc(c.text)}<div class="rel">${esc(c.id)}</div></td><td><span class="v ${esc(c.verdict)}">${esc(c.verdict)}</span>${c.removedUpstream ? `<div class="rel gone">${esc(c.removedUpstream)}</div>` : ''}</td><td>${esc(c.why)}${c.cells.length ? `<div class="ev">${chipsByKernel(c.cells, byId)}</div>` : ''}</td></tr>`)
    .join('\n');
  return `<section id="claims"><h2>Claims</h2><table class="grid"><thead><tr><th>claim</th><th>verdict</th><th>why</th></tr></thead><tbody>${claims}</tbody></table></section>`;
}

/** Negative controls, apart from the grid of driver evidence: kernel B, whose module (A), refused or not, in the kernel's words. */
function controlsSection(controls: CellResult[], base: string, streak?: RenderOptions['streak']): string {
  if (!controls.length) return '';
  const rows = controls
    .map((c) => {
      const from = c.control?.from ?? c.profile.replace(/^control-from-/, '');
      const refused = c.control?.refused === true ? '<span class="st pass">refused</span>' : c.control?.refused === false ? '<span class="st fail">accepted</span>' : `<span class="st ${c.status}">${esc(c.status === 'pass' ? 'refused' : 'no answer')}</span>`;
      return `<tr><th class="k">${esc(c.kernel.id)}<div class="rel">${esc(c.kernel.release ?? '')}</div></th><td>${esc(from)}<div class="rel">${esc(c.control?.fromRelease ?? '')}</div></td><td>${esc(c.driver.source)}</td><td>${refused}</td><td>${esc(c.control?.message ?? c.reason ?? '')}</td><td>${cellDetails(c, base, streak)}</td></tr>`;
    })
    .join('\n');
  return `<section id="controls"><h2>Negative controls</h2>
<p class="meta">The kernel module built for kernel A, inserted into kernel B of the same arch: it must be refused (a pass); B accepting it is a failure. Never driver evidence: these decide only the claim <code>kmod-tied-to-kernel</code>.</p>
<table class="grid"><thead><tr><th>kernel B</th><th>module built for A</th><th>source</th><th>refused?</th><th>the kernel's words</th><th>cell</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function filterBar(cells: CellResult[]): string {
  const options = (name: string, values: string[], label = (v: string) => v) =>
    `<label>${name} <select data-filter="${name}"><option value="">all</option>${values.map((v) => `<option value="${esc(v)}">${esc(label(v))}</option>`).join('')}</select></label>`;
  const uniq = (f: (c: CellResult) => string) => [...new Set(cells.map(f))].sort(compareVersions);
  return `<form id="filters" class="filters" onsubmit="return false">
${options('arch', uniq((c) => c.kernel.arch))}
${options('driver', DRIVERS.filter((d) => cells.some((c) => c.driver.id === d)), (d) => DRIVER_NAMES[d] ?? d)}
${options('source', uniq((c) => c.driver.source))}
${options('profile', uniq((c) => c.profile))}
${options('status', ['pass', 'fail', 'skip', 'error'].filter((s) => cells.some((c) => c.status === s)))}
${classFilter(cells)}
<label>text <input type="search" data-filter="text" placeholder="cell id, kernel, error…"></label>
<span id="shown" class="meta"></span></form>`;
}

/** The failure classes of the cells, with how many of each (most first), each option titled with its meaning. */
function classFilter(cells: CellResult[]): string {
  const counts = classCounts(cells);
  if (!counts.length) return '';
  const meaning = (k: string) => (FAILURE_CLASSES as Record<string, string>)[k] ?? '';
  return `<label>class <select data-filter="class"><option value="">all</option>${counts.map(([k, n]) => `<option value="${esc(k)}" title="${esc(meaning(k))}">${esc(`${k} (${n})`)}</option>`).join('')}</select></label>`;
}

// Runs in the page: hides what the filters exclude. No server, no library.
const FILTER_SCRIPT = `(function(){
var form=document.getElementById('filters'); if(!form) return;
function val(n){var e=form.querySelector('[data-filter="'+n+'"]');return e?e.value.trim().toLowerCase():'';}
function apply(){
  var f={arch:val('arch'),driver:val('driver'),source:val('source'),profile:val('profile'),status:val('status'),cls:val('class'),text:val('text')};
  var colOk=function(e){return (!f.driver||e.dataset.driver===f.driver)&&(!f.source||e.dataset.source===undefined||e.dataset.source===f.source);};
  document.querySelectorAll('table.cells [data-driver]').forEach(function(e){e.hidden=!colOk(e);});
  var shown=0,total=0;
  document.querySelectorAll('td.c').forEach(function(td){
    total++;
    var ok=colOk(td)&&(!f.arch||td.dataset.arch===f.arch)&&(!f.profile||td.dataset.profile===f.profile)&&(!f.status||td.dataset.status===f.status)&&(!f.cls||td.dataset.class===f.cls)&&(!f.text||td.dataset.text.indexOf(f.text)>=0);
    td.classList.toggle('off',!ok); if(ok) shown++;
  });
  document.querySelectorAll('section.profile').forEach(function(s){
    var any=false;
    s.querySelectorAll('tr.r').forEach(function(tr){var on=tr.querySelector('td.c:not(.off)')!==null;tr.hidden=!on;any=any||on;});
    s.querySelectorAll('tr.grp,tr.v414').forEach(function(tr){tr.hidden=s.querySelector('tr.r[data-group="'+tr.dataset.group+'"]:not([hidden])')===null;});
    s.hidden=!any;
  });
  document.getElementById('shown').textContent=shown+' of '+total+' cells shown';
}
form.addEventListener('input',apply); form.addEventListener('change',apply); apply();
function openTarget(){var t=location.hash&&document.getElementById(decodeURIComponent(location.hash.slice(1)));var d=t&&t.querySelector('details');if(d)d.open=true;}
window.addEventListener('hashchange',openTarget); openTarget();
})();`;

/** A run still going: how far, and when it should end (the live summary's ETA, when it has one). */
function progressBanner(p: NonNullable<RenderOptions['progress']>): string {
  return `<p class="progress" id="progress">Run in progress, ${p.done} of ${p.total} cells finished${p.etaSeconds !== undefined ? ` · about ${esc(formatSeconds(p.etaSeconds))} left` : ''}. This page is rewritten as cells finish: reload for more; verdicts are of the cells so far.</p>`;
}

export function renderReport(data: ResultsFile, opts: RenderOptions = {}): string {
  const { run, cells } = data;
  const base = opts.base ?? '';
  // flaky beside the others: a cell that failed once is never hidden among the passes
  const counts = ['pass', 'fail', 'flaky', 'skip', 'error'].map((s) => `<span class="st ${s}">${cells.filter((c) => c.status === s).length} ${s}</span>`).join(' ');
  // negative controls are no driver evidence: shown apart from the grid
  const drivers = cells.filter((c) => !isControl(c));
  const profiles = [...new Set(drivers.map((c) => c.profile))];
  const sections = profiles
    .map((p) => `<section class="profile" data-profile="${esc(p)}"><h2>Profile: ${esc(p)}</h2>${grid(drivers.filter((c) => c.profile === p), base, opts.streak)}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kmatrix — Falco driver compatibility (${esc(run.id)})</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em} h2{font-size:1.15em;margin-top:1.5em}
.meta{color:#555} table.grid{border-collapse:collapse;margin-top:.5em}
.grid th,.grid td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
.grid thead th{background:#f3f3f3} tr.grp th{background:#e8eef7;font-weight:600}
tr.v414 td{border-top:3px solid #c33;color:#c33;font-size:.8em;padding:1px 6px;background:#fff8f8}
th.k{white-space:nowrap;font-weight:500} .rel{color:#666;font-size:.85em;font-weight:400}
.st{display:inline-block;padding:1px 6px;border-radius:3px;font-weight:600;cursor:pointer}
.st.pass{background:#d4f4dd;color:#11602a}.st.fail{background:#fadbd8;color:#8a1c12}
.st.skip{background:#eee;color:#555}.st.error{background:#fde9c4;color:#7a4a00}.st.flaky{background:#ead7f2;color:#5b2c6f}
.d{margin-top:4px;font-size:.9em;max-width:42em}.d .id{font-family:monospace;color:#444}
pre{white-space:pre-wrap;background:#f7f7f7;padding:4px;margin:4px 0;font-size:.85em}
pre.err{background:#fff0ee} .v{font-weight:700} .v.confirmed,.v.supported{color:#11602a} .v.partly{color:#7a4a00}
.v.contradicted{color:#8a1c12} .gone{color:#8a1c12;font-style:italic} .v.untested,.v.insufficient{color:#666} .ev{font-size:.85em} ul.ev{margin:4px 0;padding-left:1.2em}
table.ph td{border:none;padding:0 8px 0 0} td.none{color:#bbb;text-align:center} td.c.off>*{visibility:hidden}
.filters{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ddd;z-index:1}
.cls{display:block;font:400 .75em monospace} .cls-d code{font-weight:600}
.filters label{margin-right:1em} [hidden]{display:none!important}
.cell:target,.cell:has(:target){outline:2px solid #2a6ad0} .fe{font:.78em/1.3 monospace;color:#8a1c12;max-width:24em;max-height:3.9em;overflow:hidden;word-break:break-word;margin-top:2px}
details[open]+.fe{display:none} .progress{background:#fff6d6;border:1px solid #e6c35c;padding:6px 8px;font-weight:600}
.chip{font:400 .8em/1.2 system-ui,sans-serif;text-decoration:none;margin:1px 0} .kev{display:inline-block;margin-right:.6em;font-size:.85em}
table.answer td.now b{font-size:1.05em} table.answer td.doc,table.answer td.now{min-width:14em;max-width:30em}
.hist svg{border:1px solid #ddd;background:#fcfcfc} .hist .reg{color:#8a1c12;font-weight:700} .hist .fix{color:#11602a}
</style></head><body>
<h1>Falco driver compatibility</h1>
<div class="meta">run ${esc(run.id)} · started ${esc(run.startedAt)} · host ${esc(run.host)} · acceleration ${esc(run.accel)} · kmatrix ${esc(run.kmatrixVersion)} · mirror ${esc(run.mirror)}${run.expiredSuitesAccepted?.length ? ` · expired Release accepted for: ${esc(run.expiredSuitesAccepted.join(', '))}` : ''}</div>
${opts.progress ? progressBanner(opts.progress) : ''}
${data.verdicts ? answerSection(data.verdicts, cells) : ''}
${opts.history ?? ''}
<h2>Cells</h2>
<p>${counts}</p>
<p class="meta">A pass means a marker system call issued inside the guest (an <code>openat</code> of a file named with a per-run nonce) was found in the events the driver captured. A failure names the phase it stopped in (fetch → build → boot → load → capture), its class and its first error; <em>error</em> is infrastructure, not the driver; <em>skip</em> carries its reason; <em>flaky</em> failed at load or capture, then passed when run once more (never evidence; a kernel crash or a deterministic failure is never run again). Open a cell for its phases, logs and evidence.</p>
${filterBar(drivers)}
${sections}
${data.verdicts ? claimsSection(data.verdicts, cells) : ''}
${controlsSection(cells.filter(isControl), base, opts.streak)}
<script>${FILTER_SCRIPT}</script>
</body></html>
`;
}
