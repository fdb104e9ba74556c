// `kmatrix check`: one kernel — from a vendor's apt or yum repository, or
// given as packages — and the question a user has about it: which Falco
// driver works there, under each profile. The cells are today's Falco's
// drivers from the matrix file (and with --document the document's), run by
// the same runner as `kmatrix run`; the answer is read from their results.
import Ajv from 'ajv';
import path from 'node:path';
import { UserError } from './errors.js';
import { KINDS } from './kernels/index.js';
import { MACHINES } from './machines.js';
import { cellId, type Matrix } from './matrix.js';
import type { Arch, BatteryResult, Cell, CellResult, DriverId, KernelSourceSpec, KernelSpec } from './types.js';
import { DRIVERS } from './types.js';
import { isEvidence, PREFERENCE } from './verdicts.js';

/** The command line's kernel options (commander's names). */
export interface CheckKernelOptions {
  apt?: string;
  suite?: string;
  component?: string;
  key?: string;
  release?: string;
  flavour?: string;
  /** One repository, or several pooled (EL's BaseOS and AppStream: kernel-devel is in the latter). */
  yum?: string | string[];
  mirrorlist?: string;
  newest?: string;
  arch?: string;
  machine?: string;
}

const ARCHES: Arch[] = ['amd64', 'arm64', 'armhf'];
const HOW =
  'Give one kernel: `--apt <url> --suite <suite> [--component main] --key <keyring> --release <uname -r>|--flavour <flavour>`, ' +
  '`--yum <url>|--mirrorlist <url> [--key <keyring>] --release <version>|--newest <package>`, or its package files (`kmatrix check <.deb/.rpm files…>`).';

function bad(what: string): never {
  throw new UserError(`kmatrix check: ${what}. ${HOW}`);
}

/**
 * The kernel source fragment the options describe (apt, yum), as matrix.yaml
 * would give it, or undefined for package files (imported into the store by
 * the caller). Every combination that names no kernel, or two, is refused.
 */
export function checkFragment(o: CheckKernelOptions, files: string[]): { kind: string; fragment: Record<string, unknown> } | undefined {
  const given = (names: (keyof CheckKernelOptions)[]) => names.filter((n) => o[n] !== undefined).map((n) => `--${n}`);
  const repos = given(['apt', 'yum', 'mirrorlist']);
  if (repos.length > 1) bad(`${repos.join(' and ')} name two repositories; one kernel comes from one`);
  if (repos.length && files.length) bad(`${repos[0]} and package files (${files.join(', ')}) are two kernels`);
  if (!repos.length && !files.length) bad('no kernel given');
  if (files.length) {
    const stray = given(['suite', 'component', 'key', 'release', 'flavour', 'newest']);
    if (stray.length) bad(`${stray.join(', ')} ${stray.length > 1 ? 'are' : 'is'} for a repository, not for package files`);
    return undefined;
  }
  if (o.apt !== undefined) {
    const yumOnly = given(['newest']);
    if (yumOnly.length) bad(`${yumOnly.join(', ')} is for a yum repository, not --apt (give --release or --flavour)`);
    if (!o.suite) bad('--apt needs --suite (e.g. noble-updates)');
    if (!o.key) bad('--apt needs --key, the keyring file its Release file is signed with');
    if ((o.release === undefined) === (o.flavour === undefined)) bad('--apt needs exactly one of --release (a kernel\'s uname -r) and --flavour (its newest kernel of a flavour)');
    return {
      kind: 'apt',
      fragment: { url: o.apt, suite: o.suite, component: o.component ?? 'main', key: path.resolve(o.key), ...(o.release !== undefined ? { release: o.release } : { flavour: o.flavour }) },
    };
  }
  const aptOnly = given(['suite', 'component', 'flavour']);
  if (aptOnly.length) bad(`${aptOnly.join(', ')} ${aptOnly.length > 1 ? 'are' : 'is'} for an apt repository, not ${repos[0]}`);
  if ((o.release === undefined) === (o.newest === undefined)) bad(`${repos[0]} needs exactly one of --release (a kernel package's version) and --newest (a package name, e.g. kernel)`);
  return {
    kind: 'yum',
    fragment: {
      ...(o.yum !== undefined ? { url: Array.isArray(o.yum) && o.yum.length === 1 ? o.yum[0] : o.yum } : { mirrorlist: o.mirrorlist }),
      ...(o.key ? { key: path.resolve(o.key) } : {}),
      ...(o.release !== undefined ? { release: o.release } : { newest: o.newest }),
    },
  };
}

/** A kernel source fragment checked against its kind's schema and parsed as matrix.yaml's would be. */
export function sourceOf(kind: string, fragment: Record<string, unknown>): KernelSourceSpec {
  const k = KINDS.find((x) => x.kind === kind);
  if (!k) throw new UserError(`kmatrix check: this kmatrix has no ${kind} kernel source (it knows ${KINDS.map((x) => x.kind).join(', ')}).`);
  const validate = new Ajv.default({ allErrors: false, strict: false }).compile(k.schema);
  if (!validate(fragment)) {
    const e = validate.errors![0]!;
    throw new UserError(`kmatrix check: the ${kind} kernel ${e.instancePath ? `${e.instancePath.slice(1)} ` : ''}${e.message ?? 'is invalid'} (${JSON.stringify(fragment)}).`);
  }
  return k.parse(fragment, process.cwd());
}

/** The checked kernel: an id from what it is (its cells' ids start with it), its arch and machine. */
export function checkKernel(source: KernelSourceSpec, arch: string | undefined, machine: string | undefined, name: string): KernelSpec {
  const a = (arch ?? 'amd64') as Arch;
  if (!ARCHES.includes(a)) throw new UserError(`kmatrix check: --arch ${arch} is not one of ${ARCHES.join(', ')}.`);
  const m = machine ?? Object.values(MACHINES).find((x) => x.backend === 'qemu' && x.arches.includes(a))!.id;
  if (!MACHINES[m] || !MACHINES[m]!.arches.includes(a))
    throw new UserError(`kmatrix check: --machine ${m} ${MACHINES[m] ? `does not run ${a} kernels` : `is not one of ${Object.keys(MACHINES).join(', ')}`}.`);
  const id = `check-${name}-${a}`.replace(/[^A-Za-z0-9._+-]+/g, '_');
  return { id, arch: a, machine: m, source };
}

export interface CheckSelection {
  /** The document's drivers too (matrix.yaml `document:`). */
  document?: boolean;
  /** Profiles (default: every profile of the matrix). */
  profiles?: string[];
  /** Drivers (default: those the matrix pairs with each source). */
  drivers?: string[];
}

/** Which sources stand for today's Falco: those Falco itself reads, else all of `today:`'s. */
export function todaySources(m: Matrix): string[] {
  if (!m.today) throw new UserError(`kmatrix check: ${m.file} has no today: section naming today's Falco's driver sources.`);
  const falco = m.today.sources.filter((s) => {
    const src = m.sources[s]!;
    return [src.consumer, ...Object.values(src.consumers ?? {})].some((c) => m.consumers[c]?.kind === 'falco');
  });
  return falco.length ? falco : m.today.sources;
}

/**
 * The cells of the check: each source's drivers as the matrix pairs them
 * (today's Falco: kmod, modern-ebpf, ebpf) on the one kernel, under each
 * profile; each cell says which of today's / the document's it is.
 */
export function checkCells(m: Matrix, kernel: KernelSpec, sel: CheckSelection = {}): { cells: Cell[]; era: Record<string, 'today' | 'document'> } {
  for (const p of sel.profiles ?? [])
    if (!m.profiles[p]) throw new UserError(`kmatrix check: --profile ${p} is not a profile of ${m.file} (known: ${Object.keys(m.profiles).join(', ')}).`);
  for (const d of sel.drivers ?? []) if (!DRIVERS.includes(d as DriverId)) throw new UserError(`kmatrix check: --driver ${d} is not one of ${DRIVERS.join(', ')}.`);
  if (sel.document && !m.document) throw new UserError(`kmatrix check: --document, but ${m.file} has no document: section naming the document's driver sources.`);
  const era: Record<string, 'today' | 'document'> = {};
  for (const s of todaySources(m)) era[s] = 'today';
  for (const s of sel.document ? m.document!.sources : []) era[s] ??= 'document';
  const profiles = sel.profiles?.length ? sel.profiles : Object.keys(m.profiles);
  const cells: Cell[] = [];
  for (const s of Object.keys(era)) {
    const source = m.sources[s]!;
    const paired = [...new Set(m.cells.filter((c) => c.source.id === s && !c.control).map((c) => c.driver))];
    const drivers = sel.drivers?.length ? paired.filter((d) => sel.drivers!.includes(d)) : paired;
    for (const d of drivers)
      for (const p of profiles)
        cells.push({ id: cellId(kernel.id, d, s, p), kernel, driver: d, source, consumer: m.consumers[source.consumers?.[d] ?? source.consumer]!, profile: m.profiles[p]! });
  }
  if (!cells.length) throw new UserError(`kmatrix check: no cell to run: ${sel.drivers?.length ? `--driver ${sel.drivers.join(', ')} is not paired with ${Object.keys(era).join(', ')} in ${m.file}` : `the matrix pairs no driver with ${Object.keys(era).join(', ')}`}.`);
  return { cells, era };
}

/** One cell as the answer shows it. */
export interface CheckCell {
  id: string;
  driver: DriverId;
  source: string;
  profile: string;
  status: CellResult['status'];
  phase?: string;
  /** The battery's calls (right/wrong/missing), when the consumer printed it; undefined: no battery. */
  battery?: Pick<BatteryResult, 'right' | 'wrong' | 'missing'> & { calls: number };
  /** Events captured and whether the marker was seen, when the cell got as far. */
  events?: number;
  marker?: boolean;
  firstError?: string;
  reason?: string;
  class?: string;
}

/** Under one profile: the driver to use (undefined: none passed) and why. */
export interface ProfileAnswer {
  profile: string;
  era: 'today' | 'document';
  use?: { driver: DriverId; source: string; cell: string };
  why: string;
}

export interface CheckAnswer {
  kernel: { id: string; release?: string; arch: string; package?: string };
  answers: ProfileAnswer[];
  cells: CheckCell[];
}

/**
 * The answer, per era and profile: the first driver in falcoctl's order of
 * preference (verdicts.ts PREFERENCE: modern-ebpf > kmod > ebpf > pdig) whose
 * cell passed there. That is the order Falco's own driver selection tries
 * them in: modern eBPF needs no build for the kernel (CO-RE) and no module
 * loading, the kernel module is next, the legacy probe last (removed
 * upstream). Only evidence counts: a skip, an error, a flaky cell or a
 * mismatched pairing never makes a driver the answer.
 */
export function checkAnswer(results: CellResult[], era: Record<string, 'today' | 'document'>): CheckAnswer {
  const k = results[0]?.kernel;
  const eras = (['today', 'document'] as const).filter((e) => results.some((r) => era[r.driver.source] === e));
  const answers = eras.flatMap((e) => {
    const of = results.filter((r) => era[r.driver.source] === e);
    return [...new Set(of.map((r) => r.profile))].map((profile): ProfileAnswer => {
      const here = of.filter((r) => r.profile === profile);
      const passing = here.filter((r) => r.status === 'pass' && isEvidence(r));
      const best = PREFERENCE.map((d) => passing.find((r) => r.driver.id === d)).find(Boolean);
      const others = [...new Set(passing.map((r) => r.driver.id))].filter((d) => d !== best?.driver.id);
      if (best)
        return {
          profile,
          era: e,
          use: { driver: best.driver.id, source: best.driver.source, cell: best.id },
          why: `${best.driver.id} passed (${best.id})${others.length ? `; ${others.join(', ')} passed too, after it in falcoctl's order (${PREFERENCE.join(' > ')})` : ''}`,
        };
      const failed = here.filter((r) => r.status === 'fail' && isEvidence(r));
      const none = here.filter((r) => !isEvidence(r));
      return {
        profile,
        era: e,
        why: [
          'no driver passed',
          failed.length ? `failed: ${failed.map((r) => `${r.driver.id} at ${r.phase ?? '?'} (${r.firstError ?? r.reason ?? 'no error recorded'})`).join('; ')}` : '',
          none.length ? `no evidence: ${none.map((r) => `${r.driver.id} ${r.status} (${r.reason ?? r.firstError ?? 'no reason recorded'})`).join('; ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      };
    });
  });
  return {
    kernel: { id: k?.id ?? '', arch: k?.arch ?? '', ...(k?.release ? { release: k.release } : {}), ...(k?.package ? { package: k.package } : {}) },
    answers,
    cells: results.map((r): CheckCell => {
      const b = r.evidence?.battery;
      return {
        id: r.id,
        driver: r.driver.id,
        source: r.driver.source,
        profile: r.profile,
        status: r.status,
        ...(r.phase && r.status !== 'pass' ? { phase: r.phase } : {}),
        ...(b ? { battery: { right: b.right, wrong: b.wrong, missing: b.missing, calls: b.calls.length } } : {}),
        ...(r.evidence ? { events: r.evidence.events, marker: r.evidence.marker } : {}),
        ...(r.firstError ? { firstError: r.firstError } : {}),
        ...(r.reason ? { reason: r.reason } : {}),
        ...(r.class ? { class: r.class } : {}),
      };
    }),
  };
}

/** The answer in a few lines for the terminal. */
export function answerText(a: CheckAnswer, falco?: string): string {
  const lines = [`kernel ${a.kernel.release ?? a.kernel.id} (${a.kernel.arch})${a.kernel.package ? `, ${a.kernel.package}` : ''}`];
  for (const e of ['today', 'document'] as const) {
    const of = a.answers.filter((x) => x.era === e);
    if (!of.length) continue;
    lines.push(e === 'today' ? `today's Falco${falco ? ` ${falco}` : ''}:` : "the document's drivers:");
    for (const x of of) lines.push(`  ${x.profile}: ${x.use ? `use ${x.use.driver} (${x.use.source})` : 'no driver works'} — ${x.why}`);
  }
  lines.push('cells:');
  for (const c of a.cells) {
    const ev = c.battery ? `battery ${c.battery.right} right, ${c.battery.wrong} wrong, ${c.battery.missing} missing of ${c.battery.calls}` : c.events !== undefined ? `${c.events} event(s), marker ${c.marker ? 'seen' : 'not seen'}, no battery` : 'no evidence';
    const err = c.status === 'pass' ? '' : ` — ${c.phase ? `at ${c.phase}: ` : ''}${c.firstError ?? c.reason ?? ''}`;
    lines.push(`  ${c.status.toUpperCase().padEnd(5)} ${c.id}: ${ev}${err}`);
  }
  return lines.join('\n');
}
