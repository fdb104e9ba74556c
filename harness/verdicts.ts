// Verdicts: the recommended-driver table and the claims of the source document
// (recommended-drivers.yaml) judged against the results. Pure functions
// over CellResult[]; the only I/O is loadRecommended. Verdicts never guess: a
// skipped or errored cell is no evidence either way, and the verdict says so.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { BATTERY_SCRIPT } from './battery.js';
import { controlFromProfile, isControl } from './controls.js';
import { UserError, errorLine } from './errors.js';
import { classOf } from './failures.js';
import type { BatteryCallResult, BatteryResult, CellResult, DriverId, Phase } from './types.js';
import { DRIVERS } from './types.js';

/** Which cells stand for a platform row (from matrix.yaml `platforms:`). */
export interface PlatformMapping {
  platform: string;
  profile: string;
  /** The platform's own kernels (its vendor's packages), or kernels that are as good as its own (baremetal: any kernel). */
  kernels: string[];
  /** Kernels judged instead when none of its own gave evidence (Debian's, where the vendor's repository is unreachable). */
  standIns?: string[];
  /** What the row's kernels leave out, e.g. a vendor kernel no repository has. */
  note?: string;
}

/** Which kernels a row was judged on: its own, or its stand-ins because its own gave no evidence. */
export interface JudgedOn {
  own: boolean;
  kernels: string[];
  /** Stand-ins: the first reason one of its own kernels' cells gave no evidence. */
  why?: string;
  /** The mapping's note (what its own kernels leave out). */
  note?: string;
  /** In words: "judged on …". */
  text: string;
}

export interface RecommendedRow {
  platform: string;
  recommended: DriverId;
  resources?: string;
  note?: string;
}

export interface RecommendedTable {
  source: string;
  platforms: RecommendedRow[];
  claims: { id: string; text: string }[];
}

/** falcoctl's order of preference when several drivers work. */
export const PREFERENCE: DriverId[] = ['modern-ebpf', 'kmod', 'ebpf', 'pdig'];

/** How one driver fared on one kernel, and the cells that decided it. */
export interface KernelEvidence {
  kernel: string;
  outcome: 'pass' | 'fail' | 'none';
  cells: string[];
  why?: string;
}

/** insufficient: results on only one of several representative kernels (a partial run): "not enough evidence". */
export type PlatformVerdictKind = 'confirmed' | 'partly' | 'contradicted' | 'untested' | 'insufficient';

export interface PlatformVerdict {
  platform: string;
  recommended: DriverId;
  /** The mapping's profile; '' when the platform has no mapping. */
  profile: string;
  kernels: string[];
  verdict: PlatformVerdictKind;
  /** One entry per representative kernel, for the recommended driver. */
  evidence: KernelEvidence[];
  why: string;
  /** The driver the results would recommend today (undefined: none passed). */
  evidenceRecommends?: DriverId;
  evidenceRecommendsWhy: string;
  note?: string;
  resources?: string;
  /** Now: what the cells of today's Falco recommend (verdict and evidence above are the document's era's). */
  today?: TodayVerdict;
  /** The recommended driver no longer exists upstream: since when. */
  removedUpstream?: string;
  /** The kernels the verdict above is on (absent: no mapping). */
  judgedOn?: JudgedOn;
}

/**
 * Today's Falco, for "then and now" (matrix.yaml `today:`): which driver
 * sources stand for it (the rest are the document's era), and what upstream
 * has removed since the document.
 */
export interface Today {
  /** Today's Falco release, e.g. 0.44.1. */
  falco: string;
  sources: string[];
  /** Drivers gone upstream, with when and where. */
  removed: Partial<Record<DriverId, string>>;
}

/** What today's Falco recommends for a platform, from the cells of today's sources only. */
export interface TodayVerdict {
  falco: string;
  recommends?: DriverId;
  why: string;
  /** Today's cells choose between own kernels and stand-ins on their own evidence. */
  judgedOn?: JudgedOn;
}

export type ClaimVerdictKind = 'supported' | 'contradicted' | 'untested';

export interface ClaimVerdict {
  id: string;
  text: string;
  verdict: ClaimVerdictKind;
  why: string;
  /** The cells that decided it. */
  cells: string[];
  /** The claim is about a driver that no longer exists upstream: since when. */
  removedUpstream?: string;
}

// ---------------------------------------------------------------- the table

export function loadRecommended(file: string): RecommendedTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`Cannot read the recommended-driver table ${file}: ${errorLine(e)}.`);
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    throw new UserError(`${file}: invalid YAML: ${errorLine(e)}`);
  }
  const bad = (what: string): never => {
    throw new UserError(`${file}: ${what}.`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(data)) return bad('expected a mapping with source, platforms and claims');
  if (typeof data.source !== 'string') bad('source must be a string');
  if (!Array.isArray(data.platforms) || data.platforms.length === 0) bad('platforms must be a non-empty list');
  const platforms = (data.platforms as unknown[]).map((p, i): RecommendedRow => {
    if (!isObj(p) || typeof p.platform !== 'string') return bad(`platforms.${i} needs a platform name`);
    if (!DRIVERS.includes(p.recommended as DriverId))
      bad(`platforms.${i} (${p.platform}): recommended must be one of ${DRIVERS.join(', ')}, not ${String(p.recommended)}`);
    for (const k of ['resources', 'note'] as const)
      if (p[k] !== undefined && typeof p[k] !== 'string') bad(`platforms.${i} (${p.platform}): ${k} must be a string`);
    return {
      platform: p.platform,
      recommended: p.recommended as DriverId,
      ...(typeof p.resources === 'string' ? { resources: p.resources } : {}),
      ...(typeof p.note === 'string' ? { note: p.note } : {}),
    };
  });
  const rawClaims = data.claims ?? [];
  if (!Array.isArray(rawClaims)) bad('claims must be a list');
  const claims = (rawClaims as unknown[]).map((c, i) => {
    if (!isObj(c) || typeof c.id !== 'string' || typeof c.text !== 'string') return bad(`claims.${i} needs an id and a text`);
    return { id: c.id, text: c.text };
  });
  return { source: data.source as string, platforms, claims };
}

// ---------------------------------------------------------------- helpers

const ids = (cells: CellResult[]): string[] => cells.map((c) => c.id);
const passed = (c: CellResult): boolean => c.status === 'pass';
const failedAt = (c: CellResult, phase: Phase): boolean => c.status === 'fail' && c.phase === phase;
const unique = <T>(xs: T[]): T[] => [...new Set(xs)];
const kernelsOf = (cells: CellResult[]): string[] => unique(cells.map((c) => c.kernel.id));

function select(cells: CellResult[], drivers: DriverId[], profile?: string): CellResult[] {
  return cells.filter((c) => drivers.includes(c.driver.id) && (profile === undefined || c.profile === profile) && !isControl(c));
}

/** Negative controls (controls.ts) are never driver evidence: set aside wherever cells are counted. */
const withoutControls = (cells: CellResult[]): CellResult[] => cells.filter((c) => !isControl(c));

/** A driver paired with a consumer it does not fit (class `pairing:*`, e.g. another schema): what it shows is the pairing's, not the driver's. */
export const mispaired = (c: CellResult): boolean => classOf(c)?.startsWith('pairing:') === true;

/** Evidence for or against a driver: a finished pass or fail, not a control, not a mispairing. */
export const isEvidence = (c: CellResult): boolean => (c.status === 'pass' || c.status === 'fail') && !isControl(c) && !mispaired(c);

function failWhy(c: CellResult): string {
  return `${c.id} failed at ${c.phase ?? 'an unknown phase'}: ${c.firstError ?? c.reason ?? 'no error recorded'}`;
}

/** Cells that are no evidence either way: skipped, errored, flaky, mispaired. */
const noEvidenceCell = (c: CellResult): boolean => c.status === 'skip' || c.status === 'error' || c.status === 'flaky' || mispaired(c);

/** Why skipped/errored/flaky/mispaired cells are no evidence: "N skipped/errored/flaky cell(s): <first reason>". */
function noEvidence(cells: CellResult[]): string {
  const none = cells.filter(noEvidenceCell);
  if (none.length === 0) return 'no cell ran';
  const first = none[0]!;
  const kinds = none.some(mispaired) ? 'skipped/errored/flaky/mispaired' : 'skipped/errored/flaky';
  const why = mispaired(first) ? `${first.id} is ${classOf(first)} (no evidence): ${first.reason ?? first.firstError ?? ''}` : first.reason ?? first.firstError ?? `${first.status} with no reason recorded`;
  return `${none.length} ${kinds} cell(s): ${why}`;
}


/**
 * How a driver fared on one kernel, from its cells there (any source): it works
 * if one of them passes (an old source failing does not make the driver fail),
 * fails if some fail and none pass, and there is no evidence if the rest were
 * skipped or errored. The caller selects the driver/profile.
 */
export function kernelOutcome(kernel: string, cells: CellResult[]): KernelEvidence {
  const on = cells.filter((c) => c.kernel.id === kernel && !isControl(c));
  const pass = on.filter((c) => passed(c) && isEvidence(c));
  if (pass.length) return { kernel, outcome: 'pass', cells: ids(pass) };
  const fail = on.filter((c) => c.status === 'fail' && isEvidence(c));
  if (fail.length) return { kernel, outcome: 'fail', cells: ids(fail), why: failWhy(fail[0]!) };
  return { kernel, outcome: 'none', cells: ids(on), why: noEvidence(on) };
}

function outcomes(cells: CellResult[]): KernelEvidence[] {
  return kernelsOf(cells).map((k) => kernelOutcome(k, cells));
}

/** "a, b (why); c (why)": kernels grouped by the same why. */
function list(evs: KernelEvidence[]): string {
  const groups = new Map<string, string[]>();
  for (const e of evs) groups.set(e.why ?? '', [...(groups.get(e.why ?? '') ?? []), e.kernel]);
  return [...groups].map(([why, ks]) => (why ? `${ks.join(', ')} (${why})` : ks.join(', '))).join('; ');
}

/** [major, minor] of a kernel's version (or release), to compare with 4.14. */
function majorMinor(c: CellResult): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(c.kernel.version ?? c.kernel.release ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
const below = (v: [number, number], [maj, min]: [number, number]): boolean => v[0] < maj || (v[0] === maj && v[1] < min);
const versionOf = (cells: CellResult[], kernel: string): [number, number] | undefined =>
  majorMinor(cells.find((c) => c.kernel.id === kernel)!);

// ---------------------------------------------------------------- platforms

/** The document's era: every cell but those of today's sources. */
export function thenCells(cells: CellResult[], today?: Today): CellResult[] {
  return today ? cells.filter((c) => !today.sources.includes(c.driver.source)) : cells;
}

/**
 * Each row of the table, judged with the document's drivers; with `today`,
 * beside it what today's Falco (its sources' cells) recommends, and whether
 * the recommended driver still exists upstream.
 */
export function platformVerdicts(table: RecommendedTable, mappings: PlatformMapping[], all: CellResult[], today?: Today): PlatformVerdict[] {
  const cells = withoutControls(all);
  return table.platforms.map((row) => {
    const mapping = mappings.find((m) => m.platform === row.platform);
    const v = platformVerdict(row, mapping, thenCells(cells, today));
    if (!today) return v;
    const now = cells.filter((c) => today.sources.includes(c.driver.source));
    const on = mapping ? judgedOn(mapping, now) : undefined;
    // one rule for today's answer, here and on the report's first screen (todayPick)
    const pick = mapping && on ? todayPick({ profile: mapping.profile, kernels: on.kernels }, now, today) : undefined;
    const removed = today.removed[row.recommended];
    return {
      ...v,
      today: { falco: today.falco, ...(pick?.driver ? { recommends: pick.driver } : {}), why: pick?.why ?? 'no platform mapping in matrix.yaml', ...(on ? { judgedOn: on } : {}) },
      ...(removed ? { removedUpstream: removed } : {}),
    };
  });
}

/**
 * The kernels a row is judged on, from the cells of one era: its own when at
 * least one of their cells under its profile is evidence (a pass or a fail
 * there says more about the platform than any stand-in), else its stand-ins
 * (a vendor repository unreachable, its variable unset) — and it says which.
 */
export function judgedOn(mapping: PlatformMapping, cells: CellResult[]): JudgedOn {
  const note = mapping.note !== undefined ? { note: mapping.note } : {};
  const own = cells.filter((c) => c.profile === mapping.profile && mapping.kernels.includes(c.kernel.id) && !isControl(c));
  if (!mapping.standIns?.length || own.some(isEvidence)) return { own: true, kernels: mapping.kernels, text: `judged on ${mapping.kernels.join(', ')}`, ...note };
  const first = own.find(noEvidenceCell);
  const why = first
    ? `${first.id}: ${first.reason ?? first.firstError ?? `${first.status} with no reason recorded`}`
    : `no cell of them under profile ${mapping.profile} in this run`;
  return {
    own: false,
    kernels: mapping.standIns,
    why,
    text: `judged on stand-in kernels (${mapping.standIns.join(', ')}): its own kernels (${mapping.kernels.join(', ')}) gave no evidence: ${why}`,
    ...note,
  };
}

/** A row in one line for the terminal: its verdict, what the evidence recommends, and the kernels it was judged on. */
export function platformLine(v: PlatformVerdict): string {
  const now = v.today ? `; today's Falco ${v.today.falco}: ${v.today.recommends ?? 'none'}${v.today.judgedOn && v.today.judgedOn.text !== v.judgedOn?.text ? ` (${v.today.judgedOn.text})` : ''}` : '';
  return `${v.platform}: ${v.recommended} ${v.verdict}, evidence recommends ${v.evidenceRecommends ?? 'none'}${now} — ${v.judgedOn?.text ?? v.why}`;
}

function platformVerdict(row: RecommendedRow, given: PlatformMapping | undefined, cells: CellResult[]): PlatformVerdict {
  const extra: Pick<PlatformVerdict, 'note' | 'resources' | 'judgedOn'> = { ...(row.note !== undefined ? { note: row.note } : {}), ...(row.resources !== undefined ? { resources: row.resources } : {}) };
  const head = { platform: row.platform, recommended: row.recommended };
  if (!given) {
    const why = 'no platform mapping in matrix.yaml';
    return { ...head, profile: '', kernels: [], verdict: 'untested', evidence: [], why, evidenceRecommendsWhy: why, ...extra };
  }
  const on = judgedOn(given, cells);
  const mapping = { ...given, kernels: on.kernels };
  extra.judgedOn = on;
  const rep = cells.filter((c) => c.profile === mapping.profile && mapping.kernels.includes(c.kernel.id));
  const of = (d: DriverId): KernelEvidence[] => mapping.kernels.map((k) => kernelOutcome(k, select(rep, [d])));
  const evidence = of(row.recommended);
  const pass = evidence.filter((e) => e.outcome === 'pass');
  const fail = evidence.filter((e) => e.outcome === 'fail');
  const none = evidence.filter((e) => e.outcome === 'none');
  const noneWhy = none.length ? `no evidence on ${list(none)}` : '';
  // One kernel of several is not enough to judge a platform, nor to recommend for it.
  const short = tooFewKernels(mapping, rep);
  if (short) {
    return { ...head, profile: mapping.profile, kernels: mapping.kernels, verdict: 'insufficient', evidence, why: short, evidenceRecommendsWhy: short, ...extra };
  }

  let verdict: PlatformVerdictKind;
  let why: string;
  if (pass.length && pass.length === evidence.length) {
    verdict = 'confirmed';
    why = `${row.recommended} passes on every representative kernel: ${list(pass)}`;
  } else if (pass.length) {
    verdict = 'partly';
    why = [`passes on ${list(pass)}`, fail.length ? `fails on ${list(fail)}` : '', noneWhy].filter(Boolean).join('; ');
  } else if (fail.length) {
    verdict = 'contradicted';
    why = [`${row.recommended} fails on every kernel with evidence: ${list(fail)}`, noneWhy].filter(Boolean).join('; ');
  } else {
    verdict = 'untested';
    why = select(rep, [row.recommended]).length
      ? noneWhy
      : `no ${row.recommended} cell in the matrix for this platform (profile ${mapping.profile}, kernels ${mapping.kernels.join(', ') || 'none'})`;
  }

  return { ...head, profile: mapping.profile, kernels: mapping.kernels, verdict, evidence, why, ...recommendFrom(mapping, rep), ...extra };
}

/** One kernel of several is not enough to judge a platform, nor to recommend for it: why, or undefined. */
function tooFewKernels(mapping: PlatformMapping, rep: CellResult[]): string | undefined {
  const judged = mapping.kernels.filter((k) => kernelOutcome(k, rep).outcome !== 'none');
  return mapping.kernels.length >= 2 && judged.length === 1 ? `not enough evidence: only ${judged[0]} of ${mapping.kernels.length} representative kernels has a result` : undefined;
}

/**
 * What the evidence recommends for a platform, from its representative cells:
 * the driver passing on most representative kernels; ties go to the first in
 * falcoctl's order. One kernel of several is not enough.
 */
function recommendFrom(mapping: PlatformMapping, rep: CellResult[]): Pick<PlatformVerdict, 'evidenceRecommends' | 'evidenceRecommendsWhy'> {
  const few = tooFewKernels(mapping, rep);
  if (few) return { evidenceRecommendsWhy: few };
  if (mapping.kernels.every((k) => kernelOutcome(k, rep).outcome === 'none')) return { evidenceRecommendsWhy: rep.length ? `no evidence: ${noEvidence(rep)}` : 'no cell of these sources for this platform' };
  const counts = PREFERENCE.map((d) => ({ d, n: mapping.kernels.filter((k) => kernelOutcome(k, select(rep, [d])).outcome === 'pass').length }));
  const best = counts.reduce((a, b) => (b.n > a.n ? b : a));
  if (best.n === 0) return { evidenceRecommendsWhy: 'no driver passed here' };
  return {
    evidenceRecommends: best.d,
    evidenceRecommendsWhy: [
      `${best.d} passes on ${best.n} of ${mapping.kernels.length} representative kernel(s)`,
      ...counts.filter((c) => c !== best && c.n > 0).map((c) => `${c.d} on ${c.n}`),
      counts.some((c) => c !== best && c.n === best.n) ? `tie broken in falcoctl's order (${PREFERENCE.join(' > ')})` : '',
    ]
      .filter(Boolean)
      .join('; '),
  };
}

// ---------------------------------------------------------------- claims

type Judgement = Pick<ClaimVerdict, 'verdict' | 'why' | 'cells'>;
const supported = (why: string, cells: string[]): Judgement => ({ verdict: 'supported', why, cells: unique(cells) });
const contradicted = (why: string, cells: string[]): Judgement => ({ verdict: 'contradicted', why, cells: unique(cells) });
const untested = (why: string, cells: string[] = []): Judgement => ({ verdict: 'untested', why, cells: unique(cells) });
/** Untested, naming the skipped/errored cells among `seen`: no evidence, and it says so. */
function untestedFor(why: string, seen: CellResult[], cells: string[] = []): Judgement {
  const none = seen.filter(noEvidenceCell);
  return untested(none.length ? `${why} (${noEvidence(none)})` : why, [...cells, ...ids(none)]);
}

const KERNEL_DRIVERS: DriverId[] = ['kmod', 'ebpf', 'modern-ebpf'];
const V414: [number, number] = [4, 14];

/** The module's kernel (A) of a negative control. */
const controlFrom = (c: CellResult): string => c.control?.from ?? controlFromProfile(c.profile) ?? c.profile;
/** What a control crossed: "architecture (arm64 → amd64)", or "version" (results before cross-arch controls: the same arch). */
const crossedOf = (c: CellResult): string =>
  c.control?.fromArch && c.control.fromArch !== c.kernel.arch ? `architecture (${c.control.fromArch} → ${c.kernel.arch})` : 'version';

/** The environment refusing a kernel module: an unsigned module (sig_enforce, lockdown), or no permission to load one. */
const MODULE_REFUSED = ['load:signature', 'load:permission'];
/** The probe refusing a kernel as too old (its own version check), or the kernel lacking a map type it needs. */
const TOO_OLD = ['build:kernel-version-check', 'load:unsupported-map', 'load:kernel-version-check'];

/** A fail at load (or build, for a build class) with one of these classes. */
const refusedAtLoad = (c: CellResult, classes: string[]): boolean => c.status === 'fail' && classes.includes(classOf(c) ?? '');
/** "load:signature, load:permission": the classes of these cells. */
const classesOf = (cells: CellResult[]): string => unique(cells.map((c) => classOf(c) ?? c.status)).join(', ');
/** The failures a claim set aside, with their class: "id (class: first error)". */
const otherFailures = (cells: CellResult[]): string =>
  cells.slice(0, 4).map((c) => `${c.id} (${classOf(c) ?? c.status}: ${c.firstError ?? c.reason ?? 'no error recorded'})`).join('; ') + (cells.length > 4 ? `; +${cells.length - 4} more` : '');

/** A rule gets the driver cells (controls set aside), the bench's figures, and the negative controls. */
const RULES = new Map<string, (cells: CellResult[], ctx: ClaimContext, controls: CellResult[]) => Judgement>([
  [
    'kmod-any-kernel',
    (cells) => {
      const kmod = select(cells, ['kmod'], 'host');
      const ev = outcomes(kmod);
      const fail = ev.filter((e) => e.outcome === 'fail');
      if (fail.length) return contradicted(`kmod fails on ${list(fail)}`, fail.flatMap((e) => e.cells));
      const pass = ev.filter((e) => e.outcome === 'pass');
      // Distinct major.minor versions: 6.1 on amd64 and arm64 is one version.
      const versions = unique(pass.map((e) => versionOf(kmod, e.kernel)?.join('.') ?? e.kernel));
      // "regardless of kernel version (unlike eBPF)": the evidence must span the probe's 4.14 line.
      const side = (low: boolean) => pass.filter((e) => {
        const v = versionOf(kmod, e.kernel);
        return v !== undefined && below(v, V414) === low;
      });
      const [low, high] = [side(true), side(false)];
      if (low.length && high.length)
        return supported(`kmod passes on every host kernel with evidence, on both sides of 4.14 (${versions.join(', ')}): ${list(pass)}`, pass.flatMap((e) => e.cells));
      if (versions.length >= 2)
        return untestedFor(
          `kmod passed on ${versions.join(', ')}, all ${low.length ? 'below' : 'at or above'} 4.14: a kernel ${low.length ? 'at or above' : 'below'} 4.14 is needed`,
          kmod,
          pass.flatMap((e) => e.cells),
        );
      if (pass.length)
        return untestedFor(`kmod passed on only one kernel version (${versions[0]}): at least two are needed`, kmod, pass.flatMap((e) => e.cells));
      return kmod.length ? untestedFor('no host kmod cell passed or failed', kmod) : untested('no host kmod cell ran');
    },
  ],
  [
    'kmod-needs-module-loading',
    (cells) => {
      const ld = select(cells, ['kmod'], 'locked-down');
      const ev = ld.filter(isEvidence);
      // A load failure its host twin (same kernel and source) shares is the
      // module's own bug, not the environment refusing it.
      const hostTwinFailsAtLoad = (c: CellResult): boolean =>
        cells.some((h) => h.profile === 'host' && h.driver.id === 'kmod' && h.driver.source === c.driver.source && h.kernel.id === c.kernel.id && isEvidence(h) && failedAt(h, 'load'));
      // only the environment refusing the module: an unsigned module refused, or no permission to load one
      const refused = ev.filter((c) => refusedAtLoad(c, MODULE_REFUSED) && !hostTwinFailsAtLoad(c));
      const loaded = ev.filter(passed);
      if (refused.length)
        return supported(
          `the locked-down profile refused the kernel module on ${kernelsOf(refused).join(', ')} (${classesOf(refused)}): ${refused[0]!.firstError ?? refused[0]!.reason ?? 'no error recorded'}` +
            (loaded.length ? `; but it loaded on ${kernelsOf(loaded).join(', ')}` : ''),
          ids(refused),
        );
      if (loaded.length) return contradicted(`the kernel module loaded under the locked-down profile on ${kernelsOf(loaded).join(', ')}`, ids(loaded));
      const other = ev.filter((c) => c.status === 'fail');
      if (other.length) return untestedFor(`no locked-down kmod cell was refused with ${MODULE_REFUSED.join(' or ')}: ${otherFailures(other)}`, ld);
      return ld.length ? untestedFor('no locked-down kmod cell was refused at load or passed', ld) : untested('no locked-down kmod cell ran');
    },
  ],
  [
    'ebpf-min-4.14',
    (cells) => {
      const ebpf = select(cells, ['ebpf'], 'host');
      const ev = ebpf.filter(isEvidence);
      const at = (low: boolean) => ev.filter((c) => {
        const v = majorMinor(c);
        return v !== undefined && below(v, V414) === low;
      });
      const [low, high] = [at(true), at(false)];
      const lowPass = low.filter(passed);
      if (lowPass.length) return contradicted(`ebpf passes below 4.14 on ${kernelsOf(lowPass).join(', ')}`, ids(lowPass));
      // the probe refusing a kernel at or above 4.14 as too old contradicts the bound from the other side
      const highRefused = high.filter((c) => c.status === 'fail' && TOO_OLD.includes(classOf(c) ?? ''));
      if (highRefused.length) return contradicted(`ebpf refuses kernels ≥ 4.14 as too old: ${highRefused.map((c) => `${c.id} (${classOf(c)}: ${c.firstError ?? c.reason ?? ''})`).join('; ')}`, ids(highRefused));
      const anyLow = cells.some((c) => {
        const v = majorMinor(c);
        return v !== undefined && below(v, V414);
      });
      const lowAll = ebpf.filter((c) => {
        const v = majorMinor(c);
        return v !== undefined && below(v, V414);
      });
      if (!lowAll.length)
        return untested(anyLow ? 'no host ebpf cell on a kernel below 4.14: the lower bound cannot be checked' : 'no kernel below 4.14 in the matrix: the lower bound cannot be checked');
      // below 4.14, only a failure that names the kernel as too old (or lacking what the probe needs) is the bound
      const tooOld = low.filter((c) => c.status === 'fail' && TOO_OLD.includes(classOf(c) ?? ''));
      if (!tooOld.length) {
        const other = low.filter((c) => c.status === 'fail');
        return untestedFor(other.length ? `no host ebpf cell below 4.14 failed with ${TOO_OLD.join(' or ')}: ${otherFailures(other)}` : 'no evidence below 4.14', lowAll);
      }
      const highPass = high.filter(passed);
      if (!highPass.length) return untestedFor(`ebpf refuses kernels below 4.14 (${kernelsOf(tooOld).join(', ')}) but passes on no kernel ≥ 4.14`, ebpf, ids(tooOld));
      return supported(
        `ebpf refuses the kernels below 4.14 as such on ${kernelsOf(tooOld).join(', ')} (${classesOf(tooOld)}) and passes on ${kernelsOf(highPass).join(', ')}`,
        [...ids(tooOld), ...ids(highPass)],
      );
    },
  ],
  [
    'ebpf-no-module-loading',
    (cells) => {
      // The claim is about the legacy probe of Falco 0.26: ebpf only; on a kernel where the environment refused the module.
      const ebpf = select(cells, ['ebpf'], 'locked-down');
      const kmod = select(cells, ['kmod'], 'locked-down');
      const refusedKmod = (k: string) => kmod.filter((c) => c.kernel.id === k && isEvidence(c) && refusedAtLoad(c, MODULE_REFUSED));
      const ev = ebpf.filter(isEvidence);
      // the environment refused the probe too: the same refusal classes
      const both = ev.filter((c) => refusedAtLoad(c, MODULE_REFUSED) && refusedKmod(c.kernel.id).length);
      if (both.length)
        return contradicted(
          `the locked-down profile refused both the kernel module and the eBPF probe on ${kernelsOf(both).join(', ')}: ${both.map((c) => `${c.id} (${classOf(c)}: ${c.firstError ?? c.reason ?? ''})`).join('; ')}`,
          [...ids(both), ...both.flatMap((c) => ids(refusedKmod(c.kernel.id)))],
        );
      const works = ev.filter((c) => passed(c) && refusedKmod(c.kernel.id).length);
      if (works.length) {
        const k = refusedKmod(works[0]!.kernel.id);
        return supported(
          `on ${kernelsOf(works).join(', ')} the locked-down profile refused the kernel module (${classesOf(k)}: ${k[0]!.firstError ?? k[0]!.reason ?? 'no error recorded'}) while the eBPF probe passed`,
          [...ids(works), ...works.flatMap((c) => ids(refusedKmod(c.kernel.id)))],
        );
      }
      if (!ebpf.length) return untested('no locked-down ebpf cell ran');
      const otherKmod = kmod.filter((c) => isEvidence(c) && c.status === 'fail' && !refusedAtLoad(c, MODULE_REFUSED));
      const otherEbpf = ev.filter((c) => c.status === 'fail');
      const others = [...otherKmod, ...otherEbpf];
      return untestedFor(
        `no kernel where the locked-down kmod cell was refused with ${MODULE_REFUSED.join(' or ')} and the locked-down ebpf cell passed or was refused so too${others.length ? `; other failures are not about it: ${otherFailures(others)}` : ''}`,
        [...ebpf, ...kmod],
      );
    },
  ],
  [
    'ebpf-not-every-system',
    (cells) => {
      // Kernels below 4.14 are the ebpf-min-4.14 claim's; this one is about systems the probe should support.
      const ebpf = select(cells, ['ebpf'], 'host').filter((c) => {
        const v = majorMinor(c);
        return v === undefined || !below(v, V414);
      });
      const ev = outcomes(ebpf);
      const fail = ev.filter((e) => e.outcome === 'fail');
      if (fail.length) return supported(`ebpf fails on ${list(fail)}`, fail.flatMap((e) => e.cells));
      const pass = ev.filter((e) => e.outcome === 'pass');
      const arm = pass.filter((e) => ebpf.some((c) => c.kernel.id === e.kernel && c.kernel.arch !== 'amd64'));
      if (pass.length >= 2 && arm.length)
        return contradicted(`ebpf passes on every host kernel with evidence, ARM included: ${list(pass)}`, pass.flatMap((e) => e.cells));
      if (!ebpf.length) return untested('no host ebpf cell ran');
      return untestedFor(
        pass.length
          ? `ebpf passed on every host kernel with evidence (${list(pass)}), but that needs at least two kernels, one of them ARM`
          : 'no host ebpf cell passed or failed',
        ebpf,
        pass.flatMap((e) => e.cells),
      );
    },
  ],
  [
    'pdig-userspace-ptrace',
    (cells) => {
      const pt = cells.filter((c) => c.profile === 'ptrace-only' && isEvidence(c));
      const pdig = select(cells.filter((c) => c.profile === 'ptrace-only'), ['pdig']);
      const hostTwinPasses = (c: CellResult): boolean =>
        cells.some((h) => h.profile === 'host' && h.driver.id === c.driver.id && h.driver.source === c.driver.source && h.kernel.id === c.kernel.id && isEvidence(h) && passed(h));
      // Refused by the profile: EPERM (load:permission). The legacy probe's libscap
      // says only "Unable to load the BPF probe" (load:other): that counts only where
      // the same probe passed on the same kernel as root (its host twin), so the
      // capabilities are the one difference.
      const profileRefused = (c: CellResult): boolean =>
        refusedAtLoad(c, ['load:permission']) || (c.driver.id === 'ebpf' && refusedAtLoad(c, ['load:other']) && hostTwinPasses(c));
      // On a kernel, the module and the eBPF probes are unusable: some refused by the profile, none passing.
      const unusable = (k: string, drivers: DriverId[]): CellResult[] | undefined => {
        const on = pt.filter((c) => c.kernel.id === k && drivers.includes(c.driver.id));
        const refused = on.filter(profileRefused);
        return refused.length && !on.some(passed) ? refused : undefined;
      };
      const pdigEv = pdig.filter(isEvidence);
      // pdig refused by the profile: it needs more than CAP_SYS_PTRACE
      const pdigRefused = pdigEv.filter((c) => c.status === 'fail' && (refusedAtLoad(c, ['load:permission']) || hostTwinPasses(c)));
      if (pdigRefused.length)
        return contradicted(`pdig fails under ptrace-only where it passes as root, or for lack of permission: ${pdigRefused.map((c) => `${c.id} (${classOf(c)}: ${c.firstError ?? c.reason ?? ''})`).join('; ')}`, ids(pdigRefused));
      const support = pdigEv.filter(passed).flatMap((p) => {
        const kmod = unusable(p.kernel.id, ['kmod']);
        const bpf = unusable(p.kernel.id, ['ebpf', 'modern-ebpf']);
        return kmod && bpf ? [{ p, kmod, bpf }] : [];
      });
      if (support.length)
        return supported(
          `under ptrace-only pdig passed on ${kernelsOf(support.map((s) => s.p)).join(', ')} while the profile refused the kernel module and the eBPF probe (${classesOf(support.flatMap((s) => [...s.kmod, ...s.bpf]))})`,
          support.flatMap((s) => [s.p.id, ...ids(s.kmod), ...ids(s.bpf)]),
        );
      if (!pdig.length) return untested('no ptrace-only pdig cell ran');
      if (!pdigEv.some(passed)) return untestedFor('no ptrace-only pdig cell passed', pdig);
      const other = pt.filter((c) => c.driver.id !== 'pdig' && c.status === 'fail' && !profileRefused(c));
      return untested(
        `no kernel where ptrace-only pdig passed and both the kernel module and an eBPF probe were refused by the profile (load:permission; the legacy probe's load:other where it passes as root), none passing` +
          (other.length ? `; other failures are not about it: ${otherFailures(other)}` : ''),
        ids(pdigEv.filter(passed)),
      );
    },
  ],
  [
    'pdig-process-scope',
    (cells) => {
      // untracedMarker: a marker opened by a process pdig does not trace was seen.
      const untraced = (c: CellResult): boolean | undefined => (c.evidence as { untracedMarker?: boolean } | undefined)?.untracedMarker;
      const pdig = select(cells, ['pdig']);
      // the scope check stands where the traced marker was seen, even if the events' parameters then failed the cell
      const pdigPass = pdig.filter((c) => isEvidence(c) && (passed(c) || (c.status === 'fail' && c.phase === 'capture' && c.evidence?.marker === true)));
      const wide = pdigPass.filter((c) => untraced(c) === true);
      if (wide.length) return contradicted(`pdig saw the marker of a process it does not trace on ${kernelsOf(wide).join(', ')}`, ids(wide));
      const scoped = pdigPass.filter((c) => untraced(c) === false);
      const hostWide = select(cells, KERNEL_DRIVERS, 'host').filter((c) => passed(c) && isEvidence(c));
      if (scoped.length && hostWide.length) {
        // Prefer kernel-driver cells on the same kernels as the pdig ones.
        const same = hostWide.filter((c) => kernelsOf(scoped).includes(c.kernel.id));
        const wit = same.length ? same : hostWide;
        return supported(
          `pdig missed the untraced process's marker on ${kernelsOf(scoped).join(', ')}; ${unique(wit.map((c) => c.driver.id)).join(', ')} saw the whole host on ${kernelsOf(wit).join(', ')}`,
          [...ids(scoped), ...ids(wit)],
        );
      }
      if (!pdig.length) return untested('no pdig cell ran');
      if (!pdigPass.length) return untestedFor('no pdig cell passed', pdig);
      if (!scoped.length) return untested('the passing pdig cells did not record the untraced-marker check', ids(pdigPass));
      return untested('no kmod/ebpf/modern-ebpf host cell passed to compare with', ids(scoped));
    },
  ],
  [
    'kmod-fastest',
    (_cells, ctx) => {
      const o = ctx.overhead;
      if (!o || o.ratio.kmod === undefined) return untested('needs the driver overhead figures (`npm run bench` writes them to reports/bench.json); none measured');
      const others = Object.entries(o.ratio).filter(([d]) => d !== 'kmod');
      if (!others.length) return untested(`only kmod's overhead was measured (${o.ratio.kmod}×)`);
      const figures = `syscall loop ×${o.ratio.kmod} with kmod, ${others.map(([d, r]) => `×${r} with ${d}`).join(', ')} (vs no driver; bench of ${o.at})`;
      const kmod = o.ratio.kmod;
      const faster = others.filter(([, r]) => r < kmod * (1 - OVERHEAD_NOISE));
      if (faster.length) return contradicted(`${faster.map(([d]) => d).join(', ')} cost clearly less than kmod: ${figures}`, []);
      const close = others.filter(([, r]) => r <= kmod * (1 + OVERHEAD_NOISE));
      if (close.length) return untested(`too close to call: ${close.map(([d]) => d).join(', ')} within ${OVERHEAD_NOISE * 100}% of kmod, inside one TCG measurement's noise: ${figures}`);
      return supported(`kmod costs clearly the least: ${figures}`, []);
    },
  ],
  [
    'kmod-tied-to-kernel',
    (_cells, _ctx, controls) => {
      // Decided by the negative controls alone: a kernel module built for kernel A, inserted into kernel B
      // of A's arch (another version) or of another arch (crossArch).
      if (!controls.length) return untested('no negative control ran (matrix.yaml `controls:`: the kernel module built for one kernel, inserted into another)');
      const accepted = controls.filter((c) => c.status === 'fail' && c.control?.refused === false);
      if (accepted.length)
        return contradicted(accepted.map((c) => `${c.kernel.id} accepted the kernel module built for ${controlFrom(c)} (across ${crossedOf(c)})`).join('; '), ids(accepted));
      const refused = controls.filter((c) => passed(c) && c.control?.refused === true);
      const failed = controls.filter((c) => c.status === 'fail');
      if (failed.length)
        return untestedFor(`${failed.map((c) => `${c.id} failed at ${c.phase ?? 'an unknown phase'} without insmod's answer (${c.firstError ?? c.reason ?? 'no error recorded'})`).join('; ')}`, controls, ids(refused));
      if (!refused.length) return untestedFor('no negative control was refused or accepted', controls);
      const said = refused.map((c) => `${c.kernel.id}${c.kernel.release ? ` (${c.kernel.release})` : ''} refused the module built for ${controlFrom(c)}${c.control?.fromRelease ? ` (${c.control.fromRelease})` : ''} across ${crossedOf(c)}: ${c.control?.message ?? c.reason ?? 'refused'}`).join('; ');
      // the claim names both: "its version and architecture"
      const lacking = (['version', 'architecture'] as const).filter((d) => !refused.some((c) => crossedOf(c).startsWith(d)));
      if (lacking.length)
        return untestedFor(`the controls that ran were refused (${said}), but none crossed the ${lacking.join(' or the ')}${lacking.includes('architecture') ? ' (matrix.yaml controls: crossArch: true)' : ''}`, controls, ids(refused));
      return supported(`every negative control that ran was refused, across versions and architectures: ${said}`, ids(refused));
    },
  ],
  [
    'ebpf-same-data-as-kmod',
    (cells) => {
      // per kernel, source and consumer kind (host): the eBPF drivers' complete battery against the kernel module's
      const withBattery = cells.filter((c) => c.profile === 'host' && isEvidence(c) && c.evidence?.battery && c.evidence.battery.calls.length > 0);
      const pairs = withBattery
        .filter((c) => c.driver.id === 'ebpf' || c.driver.id === 'modern-ebpf')
        .flatMap((e) => withBattery.filter((k) => k.driver.id === 'kmod' && k.kernel.id === e.kernel.id && k.driver.source === e.driver.source && sameConsumerKind(k, e)).map((k) => ({ e, k })));
      if (!pairs.length) return untested('no kernel has the battery from both an eBPF driver and the kernel module of the same source and consumer kind, both pass or fail (the consumer must print parameters: sysdig)');
      const diffs = pairs.map((p) => ({ ...p, fields: batteryDifferences(p.k.evidence!.battery!, p.e.evidence!.battery!), complete: completePair(p.k.evidence!.battery!, p.e.evidence!.battery!) }));
      const differ = diffs.filter((d) => d.fields.length);
      const cellsOf = (ds: typeof diffs) => ds.flatMap((d) => [d.k.id, d.e.id]);
      if (differ.length)
        return contradicted(differ.map((d) => `${d.e.id} differs from ${d.k.id}: ${d.fields.slice(0, 3).join('; ')}${d.fields.length > 3 ? `; +${d.fields.length - 3} more` : ''}`).join(' · '), cellsOf(differ));
      // agreement needs both batteries whole: two equally truncated ones agree on nothing
      const whole = diffs.filter((d) => d.complete);
      if (!whole.length)
        return untested(`the batteries agree only as far as they go, and none of the pairs is complete: ${diffs.map((d) => `${d.e.id} ${d.e.evidence!.battery!.calls.length} calls, ${d.e.evidence!.battery!.missing} missing; ${d.k.id} ${d.k.evidence!.battery!.calls.length}, ${d.k.evidence!.battery!.missing} missing`).join(' · ')}`, cellsOf(diffs));
      return supported(`the battery's events match call for call, the enter events included, on ${unique(whole.map((d) => d.k.kernel.id)).join(', ')} (${whole.map((d) => `${d.e.driver.id}@${d.e.driver.source} ${d.e.evidence!.battery!.right}/${d.e.evidence!.battery!.calls.length} = kmod`).join(', ')})`, cellsOf(whole));
    },
  ],
]);

/** Same consumer kind (sysdig, scap-open, falco); results without the kind: the same consumer. */
function sameConsumerKind(a: CellResult, b: CellResult): boolean {
  if (a.consumer?.kind && b.consumer?.kind) return a.consumer.kind === b.consumer.kind;
  return a.consumer?.id !== undefined && a.consumer.id === b.consumer?.id;
}

/**
 * Both batteries whole: the script's every call (BATTERY_SCRIPT) and none
 * missing (a tail of missing calls is a consumer that stopped printing, not
 * the driver's data; a script cut short agrees with nothing).
 */
function completePair(a: BatteryResult, b: BatteryResult): boolean {
  const whole = (r: BatteryResult) => r.calls.length === BATTERY_SCRIPT.length && r.missing === 0 && r.calls.every((c) => c.status !== 'missing');
  return whole(a) && whole(b);
}

/**
 * Where two cells' batteries saw different data, call by call: a call's
 * status (right, wrong, wrong only for its missing enter event, no event), or
 * a checked field seen otherwise (a value that matched the script counts as
 * the same in both, whatever the pid or nonce). A call missing at the end of
 * one battery (it stopped printing) is no difference: it was never compared;
 * a call missing between found ones is.
 */
export function batteryDifferences(a: BatteryResult, b: BatteryResult): string[] {
  const tail = (r: BatteryResult): Set<string> => {
    const out = new Set<string>();
    for (let i = r.calls.length - 1; i >= 0 && r.calls[i]!.status === 'missing'; i--) out.add(`${r.calls[i]!.call} #${r.calls[i]!.seq}`);
    return out;
  };
  const status = (c: BatteryCallResult): string => (c.status === 'missing' ? 'no event' : c.enter === false ? `${c.status}, no enter event` : c.status);
  const seen = (r: BatteryResult) => new Map<string, string>(r.calls.flatMap((c) => [[`${c.call} #${c.seq}`, status(c)] as const, ...c.fields.map((f) => [`${c.call} #${c.seq} ${f.field}`, f.seen === f.expected ? 'as called' : f.seen] as const)]));
  const [x, y] = [seen(a), seen(b)];
  const cut = new Set([...tail(a), ...tail(b)]);
  // a call one battery never reached (its truncated tail, or past its end) is not compared
  const compared = (k: string) => {
    const call = /^\S+ #\d+/.exec(k)![0];
    return !cut.has(call) && x.has(call) && y.has(call);
  };
  return [...new Set([...x.keys(), ...y.keys()])].filter((k) => compared(k) && x.get(k) !== y.get(k)).map((k) => `${k}: ${x.get(k) ?? 'not checked'} vs ${y.get(k) ?? 'not checked'}`);
}

/**
 * How far apart two drivers' overhead must be to count: two bench runs of the
 * same build on a 2-core TCG machine gave kmod ×2.22 and ×3.35, so a gap of a
 * few percent in one run is noise, not evidence.
 */
export const OVERHEAD_NOISE = 0.25;

/** Evidence beyond the cells: the bench's driver overhead (loop time with the driver / without), when measured. */
export interface ClaimContext {
  overhead?: { at: string; ratio: Record<string, number> };
}

/**
 * The document's claims, judged with the document's drivers (today's sources
 * set aside); a claim about a driver gone upstream (its id names it:
 * `ebpf-…`, `pdig-…`) says so beside its verdict.
 */
export function claimVerdicts(table: RecommendedTable, cells: CellResult[], ctx: ClaimContext = {}, today?: Today): ClaimVerdict[] {
  const then = withoutControls(thenCells(cells, today));
  // a kernel refusing a module built for another is the kernel's doing, whichever driver source: every control counts
  const controls = cells.filter(isControl);
  return table.claims.map((c) => {
    const removed = Object.entries(today?.removed ?? {}).find(([d]) => c.id.startsWith(`${d}-`))?.[1];
    return { id: c.id, text: c.text, ...(RULES.get(c.id)?.(then, ctx, controls) ?? untested('no rule for this claim')), ...(removed ? { removedUpstream: removed } : {}) };
  });
}

// ---------------------------------------------------------------- today's pick

/** Falco's own order of preference among today's drivers (the legacy probe last; pdig is gone). */
export const TODAY_PREFERENCE: DriverId[] = ['modern-ebpf', 'kmod', 'ebpf'];

/** The driver today's cells recommend for a platform row, the cells behind it and the kernels it was judged on. */
export interface TodayPick {
  falco: string;
  /** undefined: no driver of today's Falco passed every cell it had on the row. */
  driver?: DriverId;
  /** The cells behind the answer: the picked driver's, else those that ruled the drivers out. */
  cells: string[];
  /** The row's kernels with evidence for the picked driver (none picked: every kernel with evidence). */
  kernels: string[];
  /** The row's kernels (the platform mapping's). */
  of: string[];
  /** Why: each preferred driver ruled out, then the one picked. */
  why: string;
  /** Evidence on only one of the row's several kernels: no driver picked (as everywhere, one kernel of several is not enough). */
  insufficient?: boolean;
}

/**
 * What today's Falco would run on a platform row: the first driver in
 * TODAY_PREFERENCE whose evidence cells of today's sources, on the row's
 * kernels under its profile, all passed (at least one). A driver with a
 * failing cell, or with no evidence (skips, errors, flaky cells), is passed
 * over, and the why says so. Evidence on one kernel of several picks none.
 */
export function todayPick(row: Pick<PlatformVerdict, 'profile' | 'kernels'>, all: CellResult[], today: Pick<Today, 'falco' | 'sources'>): TodayPick {
  const rep = withoutControls(all).filter((c) => today.sources.includes(c.driver.source) && c.profile === row.profile && row.kernels.includes(c.kernel.id));
  const few = tooFewKernels({ platform: '', profile: row.profile, kernels: row.kernels }, rep);
  if (few) {
    const on = rep.filter(isEvidence);
    const lead = TODAY_PREFERENCE.find((d) => on.some((c) => c.driver.id === d) && on.filter((c) => c.driver.id === d).every(passed));
    return { falco: today.falco, cells: ids(on), kernels: kernelsOf(on), of: row.kernels, why: `${few}${lead ? ` (there, ${lead} passed all its cells)` : ''}`, insufficient: true };
  }
  const ruledOut: string[] = [];
  const against: CellResult[] = [];
  for (const d of TODAY_PREFERENCE) {
    const of = select(rep, [d]);
    const ev = of.filter(isEvidence);
    const failed = ev.filter((c) => !passed(c));
    if (failed.length) {
      ruledOut.push(`${d} failed: ${failWhy(failed[0]!)}${failed.length > 1 ? ` (+${failed.length - 1} more)` : ''}`);
      against.push(...failed);
    } else if (!ev.length) {
      ruledOut.push(`${d}: no evidence (${of.length ? noEvidence(of) : 'no cell'})`);
      against.push(...of);
    } else {
      const kernels = row.kernels.filter((k) => ev.some((c) => c.kernel.id === k));
      return {
        falco: today.falco, driver: d, cells: ids(ev), kernels, of: row.kernels,
        why: [...ruledOut, `${d} passed all its ${ev.length} cell(s), on ${kernels.join(', ')} (${kernels.length} of ${row.kernels.length} kernel(s))`].join('; '),
      };
    }
  }
  return { falco: today.falco, cells: ids(against), kernels: row.kernels.filter((k) => against.some((c) => c.kernel.id === k && isEvidence(c))), of: row.kernels, why: rep.length ? ruledOut.join('; ') : `no cell of today's sources (${today.sources.join(', ')}) on these kernels under profile ${row.profile || 'none'}` };
}

// ---------------------------------------------------------------- what feeds each claim

/** A cell as the claims' feeds see it (a matrix cell before it runs, or a result). */
export interface FeedCell {
  driver: DriverId;
  profile: string;
  consumerKind: string;
  control: boolean;
}

/**
 * Which cells decide each claim's rule (RULES above), of the document's era:
 * what a run must reach early to say something about the claim (harness/early.ts
 * orders cells by it). A rule may read others beside them (a host twin, the
 * other drivers refused under ptrace-only) but those alone leave it untested.
 * kmod-fastest reads the bench alone: no cell feeds it.
 */
export const CLAIM_FEEDS: Record<string, (c: FeedCell) => boolean> = {
  'kmod-any-kernel': (c) => !c.control && c.driver === 'kmod' && c.profile === 'host',
  'kmod-needs-module-loading': (c) => !c.control && c.driver === 'kmod' && c.profile === 'locked-down',
  'ebpf-min-4.14': (c) => !c.control && c.driver === 'ebpf' && c.profile === 'host',
  'ebpf-no-module-loading': (c) => !c.control && (c.driver === 'ebpf' || c.driver === 'kmod') && c.profile === 'locked-down',
  'ebpf-not-every-system': (c) => !c.control && c.driver === 'ebpf' && c.profile === 'host',
  'pdig-userspace-ptrace': (c) => !c.control && c.driver === 'pdig' && c.profile === 'ptrace-only',
  'pdig-process-scope': (c) => !c.control && (c.driver === 'pdig' || (KERNEL_DRIVERS.includes(c.driver) && c.profile === 'host')),
  'kmod-fastest': () => false,
  'kmod-tied-to-kernel': (c) => c.control,
  'ebpf-same-data-as-kmod': (c) => !c.control && c.profile === 'host' && KERNEL_DRIVERS.includes(c.driver) && (c.consumerKind === 'sysdig' || c.consumerKind === 'falco'),
};
