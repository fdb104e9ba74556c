// Verdicts: the recommended-driver table and the claims of the source document
// (recommended-drivers.yaml) judged against the results. Pure functions
// over CellResult[]; the only I/O is loadRecommended. Verdicts never guess: a
// skipped or errored cell is no evidence either way, and the verdict says so.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { controlFromProfile, isControl } from './controls.js';
import { UserError, errorLine } from './errors.js';
import type { BatteryResult, CellResult, DriverId, Phase } from './types.js';
import { DRIVERS } from './types.js';

/** Which cells stand for a platform row (from matrix.yaml `platforms:`). */
export interface PlatformMapping {
  platform: string;
  profile: string;
  kernels: string[];
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
const hasEvidence = (e: KernelEvidence): boolean => e.outcome !== 'none';

function select(cells: CellResult[], drivers: DriverId[], profile?: string): CellResult[] {
  return cells.filter((c) => drivers.includes(c.driver.id) && (profile === undefined || c.profile === profile) && !isControl(c));
}

/** Negative controls (controls.ts) are never driver evidence: set aside wherever cells are counted. */
const withoutControls = (cells: CellResult[]): CellResult[] => cells.filter((c) => !isControl(c));

function failWhy(c: CellResult): string {
  return `${c.id} failed at ${c.phase ?? 'an unknown phase'}: ${c.firstError ?? c.reason ?? 'no error recorded'}`;
}

/** Cells that are no evidence either way: skipped, errored, flaky. */
const noEvidenceCell = (c: CellResult): boolean => c.status === 'skip' || c.status === 'error' || c.status === 'flaky';

/** Why skipped/errored/flaky cells are no evidence: "N skipped/errored/flaky cell(s): <first reason>". */
function noEvidence(cells: CellResult[]): string {
  const none = cells.filter(noEvidenceCell);
  if (none.length === 0) return 'no cell ran';
  const first = none[0]!;
  return `${none.length} skipped/errored/flaky cell(s): ${first.reason ?? first.firstError ?? `${first.status} with no reason recorded`}`;
}


/**
 * How a driver fared on one kernel, from its cells there (any source): it works
 * if one of them passes (an old source failing does not make the driver fail),
 * fails if some fail and none pass, and there is no evidence if the rest were
 * skipped or errored. The caller selects the driver/profile.
 */
export function kernelOutcome(kernel: string, cells: CellResult[]): KernelEvidence {
  const on = cells.filter((c) => c.kernel.id === kernel && !isControl(c));
  const pass = on.filter(passed);
  if (pass.length) return { kernel, outcome: 'pass', cells: ids(pass) };
  const fail = on.filter((c) => c.status === 'fail');
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
    const rec = mapping ? recommendFrom(mapping, now.filter((c) => c.profile === mapping.profile && mapping.kernels.includes(c.kernel.id))) : { evidenceRecommendsWhy: 'no platform mapping in matrix.yaml' };
    const removed = today.removed[row.recommended];
    return {
      ...v,
      today: { falco: today.falco, ...(rec.evidenceRecommends ? { recommends: rec.evidenceRecommends } : {}), why: rec.evidenceRecommendsWhy },
      ...(removed ? { removedUpstream: removed } : {}),
    };
  });
}

function platformVerdict(row: RecommendedRow, mapping: PlatformMapping | undefined, cells: CellResult[]): PlatformVerdict {
  const extra = { ...(row.note !== undefined ? { note: row.note } : {}), ...(row.resources !== undefined ? { resources: row.resources } : {}) };
  const head = { platform: row.platform, recommended: row.recommended };
  if (!mapping) {
    const why = 'no platform mapping in matrix.yaml';
    return { ...head, profile: '', kernels: [], verdict: 'untested', evidence: [], why, evidenceRecommendsWhy: why, ...extra };
  }
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
      // A load failure its host twin (same kernel and source) shares is the
      // module's own bug, not the environment refusing it.
      const hostTwinFailsAtLoad = (c: CellResult): boolean =>
        cells.some((h) => h.profile === 'host' && h.driver.id === 'kmod' && h.driver.source === c.driver.source && h.kernel.id === c.kernel.id && failedAt(h, 'load'));
      const refused = ld.filter((c) => failedAt(c, 'load') && !hostTwinFailsAtLoad(c));
      const loaded = ld.filter(passed);
      if (refused.length)
        return supported(
          `the locked-down profile refused the kernel module on ${kernelsOf(refused).join(', ')}: ${refused[0]!.firstError ?? refused[0]!.reason ?? 'no error recorded'}` +
            (loaded.length ? `; but it loaded on ${kernelsOf(loaded).join(', ')}` : ''),
          ids(refused),
        );
      if (loaded.length) return contradicted(`the kernel module loaded under the locked-down profile on ${kernelsOf(loaded).join(', ')}`, ids(loaded));
      return ld.length ? untestedFor('no locked-down kmod cell was refused at load or passed', ld) : untested('no locked-down kmod cell ran');
    },
  ],
  [
    'ebpf-min-4.14',
    (cells) => {
      const ebpf = select(cells, ['ebpf'], 'host');
      const ev = outcomes(ebpf).map((e) => ({ e, v: versionOf(ebpf, e.kernel) }));
      const low = ev.filter((x) => x.v && below(x.v, V414)).map((x) => x.e);
      const high = ev.filter((x) => x.v && !below(x.v, V414)).map((x) => x.e);
      const lowPass = low.filter((e) => e.outcome === 'pass');
      if (lowPass.length) return contradicted(`ebpf passes below 4.14 on ${list(lowPass)}`, lowPass.flatMap((e) => e.cells));
      const highEv = high.filter(hasEvidence);
      if (highEv.length && highEv.every((e) => e.outcome === 'fail'))
        return contradicted(`ebpf fails on every kernel ≥ 4.14 with evidence: ${list(highEv)}`, highEv.flatMap((e) => e.cells));
      if (!low.length) {
        const anyLow = cells.some((c) => {
          const v = majorMinor(c);
          return v !== undefined && below(v, V414);
        });
        return untested(anyLow ? 'no host ebpf cell on a kernel below 4.14: the lower bound cannot be checked' : 'no kernel below 4.14 in the matrix: the lower bound cannot be checked');
      }
      const lowEv = low.filter(hasEvidence);
      if (!lowEv.length) return untested(`no evidence below 4.14: ${list(low)}`, low.flatMap((e) => e.cells));
      const highPass = high.filter((e) => e.outcome === 'pass');
      if (!highPass.length) return untestedFor('ebpf fails below 4.14 but has no result on a kernel ≥ 4.14', ebpf, lowEv.flatMap((e) => e.cells));
      // Here every low kernel with evidence failed (a low pass returned above).
      return supported(`ebpf fails below 4.14 on ${list(lowEv)} and passes on ${list(highPass)}`, [...lowEv, ...highPass].flatMap((e) => e.cells));
    },
  ],
  [
    'ebpf-no-module-loading',
    (cells) => {
      // The claim is about the legacy probe of Falco 0.26: ebpf only.
      const ebpf = select(cells, ['ebpf'], 'locked-down');
      const kmod = select(cells, ['kmod'], 'locked-down');
      for (const e of outcomes(ebpf).filter((x) => x.outcome === 'pass')) {
        const refused = kmod.filter((c) => c.kernel.id === e.kernel && failedAt(c, 'load'));
        if (refused.length)
          return supported(
            `on ${e.kernel} the locked-down profile refused the kernel module (${refused[0]!.firstError ?? refused[0]!.reason ?? 'no error recorded'}) while the eBPF probe passed`,
            [...e.cells, ...ids(refused)],
          );
      }
      const ev = outcomes(ebpf).filter(hasEvidence);
      if (ev.length && ev.every((e) => e.outcome === 'fail' && ebpf.some((c) => c.kernel.id === e.kernel && failedAt(c, 'load'))))
        return contradicted(`the eBPF probe failed to load under the locked-down profile on every kernel with evidence: ${list(ev)}`, ev.flatMap((e) => e.cells));
      if (!ebpf.length) return untested('no locked-down ebpf cell ran');
      return untestedFor('no kernel where the locked-down ebpf cell passed and the locked-down kmod cell was refused at load', [...ebpf, ...kmod]);
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
      const pt = cells.filter((c) => c.profile === 'ptrace-only');
      const pdig = select(pt, ['pdig']);
      // Show both the module and an eBPF probe unusable on the same kernel: each
      // with evidence there failed, some cell of it at load.
      const refusedOn = (k: string, drivers: DriverId[]): { ok: boolean; cells: string[] } => {
        const ev = drivers.map((d) => kernelOutcome(k, select(pt, [d]))).filter(hasEvidence);
        const ok = ev.length > 0 && ev.every((e) => e.outcome === 'fail' && pt.some((c) => e.cells.includes(c.id) && failedAt(c, 'load')));
        return { ok, cells: ev.flatMap((e) => e.cells) };
      };
      for (const e of outcomes(pdig).filter((x) => x.outcome === 'pass')) {
        const kmod = refusedOn(e.kernel, ['kmod']);
        const bpf = refusedOn(e.kernel, ['ebpf', 'modern-ebpf']);
        if (kmod.ok && bpf.ok)
          return supported(`on ${e.kernel} under ptrace-only pdig passed while the kernel module and the eBPF probe failed at load`, [...e.cells, ...kmod.cells, ...bpf.cells]);
      }
      const ev = outcomes(pdig).filter(hasEvidence);
      if (ev.length && ev.every((e) => e.outcome === 'fail'))
        return contradicted(`pdig fails under ptrace-only on every kernel with evidence: ${list(ev)}`, ev.flatMap((e) => e.cells));
      if (!pdig.length) return untested('no ptrace-only pdig cell ran');
      return ev.length
        ? untested('no kernel where ptrace-only pdig passed and both the kernel module and an eBPF probe failed at load under ptrace-only', ev.flatMap((e) => e.cells))
        : untestedFor('no ptrace-only pdig cell passed or failed', pdig);
    },
  ],
  [
    'pdig-process-scope',
    (cells) => {
      // untracedMarker: a marker opened by a process pdig does not trace was seen.
      const untraced = (c: CellResult): boolean | undefined => (c.evidence as { untracedMarker?: boolean } | undefined)?.untracedMarker;
      const pdig = select(cells, ['pdig']);
      // the scope check stands where the traced marker was seen, even if the events' parameters then failed the cell
      const pdigPass = pdig.filter((c) => passed(c) || (c.status === 'fail' && c.phase === 'capture' && c.evidence?.marker === true));
      const wide = pdigPass.filter((c) => untraced(c) === true);
      if (wide.length) return contradicted(`pdig saw the marker of a process it does not trace on ${kernelsOf(wide).join(', ')}`, ids(wide));
      const scoped = pdigPass.filter((c) => untraced(c) === false);
      const hostWide = select(cells, KERNEL_DRIVERS, 'host').filter(passed);
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
      // Decided by the negative controls alone: a kernel module built for kernel A, inserted into kernel B of A's arch.
      if (!controls.length) return untested('no negative control ran (matrix.yaml `controls:`: the kernel module built for one kernel, inserted into another)');
      const accepted = controls.filter((c) => c.status === 'fail' && c.control?.refused === false);
      if (accepted.length)
        return contradicted(accepted.map((c) => `${c.kernel.id} accepted the kernel module built for ${controlFrom(c)}`).join('; '), ids(accepted));
      const refused = controls.filter(passed);
      const failed = controls.filter((c) => c.status === 'fail');
      if (failed.length)
        return untestedFor(`${failed.map((c) => `${c.id} failed at ${c.phase ?? 'an unknown phase'} without insmod's answer (${c.firstError ?? c.reason ?? 'no error recorded'})`).join('; ')}`, controls, ids(refused));
      if (!refused.length) return untestedFor('no negative control was refused or accepted', controls);
      return supported(
        `every negative control that ran was refused: ${refused.map((c) => `${c.kernel.id}${c.kernel.release ? ` (${c.kernel.release})` : ''} refused the module built for ${controlFrom(c)}${c.control?.fromRelease ? ` (${c.control.fromRelease})` : ''}: ${c.control?.message ?? c.reason ?? 'refused'}`).join('; ')}`,
        ids(refused),
      );
    },
  ],
  [
    'ebpf-same-data-as-kmod',
    (cells) => {
      // per kernel and source (one consumer family): the eBPF drivers' battery against the kernel module's
      const withBattery = cells.filter((c) => c.evidence?.battery && c.evidence.battery.calls.length > 0);
      const pairs = withBattery
        .filter((c) => c.driver.id === 'ebpf' || c.driver.id === 'modern-ebpf')
        .flatMap((e) => withBattery.filter((k) => k.driver.id === 'kmod' && k.kernel.id === e.kernel.id && k.driver.source === e.driver.source && k.profile === e.profile).map((k) => ({ e, k })));
      if (!pairs.length) return untested('no kernel has the battery from both an eBPF driver and the kernel module of the same source (the consumer must print parameters: sysdig)');
      const diffs = pairs.map((p) => ({ ...p, fields: batteryDifferences(p.k.evidence!.battery!, p.e.evidence!.battery!) }));
      const differ = diffs.filter((d) => d.fields.length);
      const cellsOf = (ds: typeof diffs) => ds.flatMap((d) => [d.k.id, d.e.id]);
      if (differ.length)
        return contradicted(differ.map((d) => `${d.e.id} differs from ${d.k.id}: ${d.fields.slice(0, 3).join('; ')}${d.fields.length > 3 ? `; +${d.fields.length - 3} more` : ''}`).join(' · '), cellsOf(differ));
      return supported(`the battery's events match call for call on ${unique(diffs.map((d) => d.k.kernel.id)).join(', ')} (${diffs.map((d) => `${d.e.driver.id}@${d.e.driver.source} ${d.e.evidence!.battery!.right}/${d.e.evidence!.battery!.calls.length} = kmod`).join(', ')})`, cellsOf(diffs));
    },
  ],
]);

/**
 * Where two cells' batteries saw different data, call by call: a call found
 * in one and not the other, or a checked field seen otherwise (a value that
 * matched the script counts as the same in both, whatever the pid or nonce).
 */
export function batteryDifferences(a: BatteryResult, b: BatteryResult): string[] {
  const seen = (r: BatteryResult) => new Map(r.calls.flatMap((c) => [[`${c.call} #${c.seq}`, c.status === 'missing' ? 'no event' : 'found'] as const, ...c.fields.map((f) => [`${c.call} #${c.seq} ${f.field}`, f.seen === f.expected ? 'as called' : f.seen] as const)]));
  const [x, y] = [seen(a), seen(b)];
  return [...new Set([...x.keys(), ...y.keys()])].filter((k) => x.get(k) !== y.get(k)).map((k) => `${k}: ${x.get(k) ?? 'not checked'} vs ${y.get(k) ?? 'not checked'}`);
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
