// matrix.yaml: parse (with line numbers), validate against a JSON schema,
// expand into cells with stable ids, filter by glob.
import Ajv, { type ErrorObject } from 'ajv';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { SuiteOptions } from './apt.js';
import { controlFromProfile, controlPairs, controlProfile, type ControlsSpec } from './controls.js';
import type { PlatformMapping, Today } from './verdicts.js';
import { UserError } from './errors.js';
import { KINDS, kernelSuites } from './kernels/index.js';
import { MACHINES } from './machines.js';
import type { Cell, ConsumerSpec, DriverId, KernelSpec, ProfileSpec, SourceSpec, Timeouts } from './types.js';
import { DRIVERS } from './types.js';
import { DEFAULT_LOOP_COUNT, DEFAULT_MAX_DROP_RATIO, DEFAULT_SOAK_SECONDS } from './workload.js';

export interface Matrix {
  file: string;
  hash: string;
  mirror?: string;
  suites: Record<string, SuiteOptions>;
  /** Top-level settings of kernel source kinds (e.g. `mainline: { base }`), by kind. */
  kernelSettings?: Record<string, unknown>;
  timeouts: Timeouts;
  /** The timed syscall loop of pdig cells: openat/close pairs. */
  workload: { loopCount: number; soakSeconds: number; maxDropRatio: number };
  kernels: Record<string, KernelSpec>;
  consumers: Record<string, ConsumerSpec>;
  sources: Record<string, SourceSpec>;
  profiles: Record<string, ProfileSpec>;
  /** Which cells stand for each row of the recommended-driver table. */
  platforms: PlatformMapping[];
  /** The recommended-driver table (absolute path), if the matrix names one. */
  recommended?: string;
  /** Today's Falco: the sources standing for it in the report's "then and now", what upstream removed. */
  today?: Today;
  /** Negative controls (`controls:`): a kernel module built for one kernel, inserted into another. */
  controls?: ControlsSpec;
  /** The document's own drivers (`document:`): the sources `kmatrix check --document` builds. */
  document?: { sources: string[] };
  cells: Cell[];
}

const idPattern = '^[A-Za-z0-9][A-Za-z0-9._+-]*$';
const debianPkg = {
  type: 'object',
  required: ['suite', 'package'],
  additionalProperties: false,
  properties: { suite: { type: 'string' }, package: { type: 'string' } },
};
const version = { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$' };
const gitPin = {
  type: 'object',
  required: ['url', 'commit'],
  additionalProperties: false,
  properties: {
    url: { type: 'string', minLength: 1 },
    commit: { type: 'string', pattern: '^[0-9a-f]{40}$' },
    // paths left out of the checkout (a partial clone): e.g. proposals/
    exclude: { type: 'array', items: { type: 'string', pattern: '^[^!*]+$', minLength: 1 } },
  },
};

export const matrixSchema = {
  type: 'object',
  required: ['kernels', 'sources', 'consumers', 'matrix'],
  additionalProperties: false,
  properties: {
    mirror: { type: 'string' },
    // top-level settings of the kernel source kinds that have some (e.g. mainline: { base })
    ...Object.fromEntries(KINDS.filter((k) => k.settings).map((k) => [k.kind, k.settings!])),
    suites: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { allowExpired: { type: 'boolean' }, components: { type: 'array', items: { type: 'string' } } },
      },
    },
    workload: {
      type: 'object',
      additionalProperties: false,
      properties: { loopCount: { type: 'integer', minimum: 1 }, soakSeconds: { type: 'integer', minimum: 0, maximum: 3600 }, maxDropRatio: { type: 'number', minimum: 0, maximum: 1 } },
    },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: { boot: { type: 'number', minimum: 1, maximum: 86400 }, load: { type: 'number', minimum: 1, maximum: 86400 }, capture: { type: 'number', minimum: 1, maximum: 86400 } },
    },
    kernels: {
      type: 'object',
      propertyNames: { pattern: idPattern },
      additionalProperties: {
        type: 'object',
        required: ['machine'],
        // exactly one source kind (harness/kernels/): checked in parseMatrix for a clear message
        additionalProperties: false,
        properties: {
          arch: { enum: ['amd64', 'arm64', 'armhf'] },
          machine: { enum: Object.keys(MACHINES) },
          ...Object.fromEntries(KINDS.map((k) => [k.kind, k.schema])),
          image: { type: 'string' },
          sdcard: {
            type: 'object',
            required: ['firmware'],
            additionalProperties: false,
            properties: { firmware: debianPkg },
          },
        },
      },
    },
    consumers: {
      type: 'object',
      propertyNames: { pattern: idPattern },
      additionalProperties: {
        type: 'object',
        required: ['kind', 'requires', 'engines'],
        oneOf: [
          { properties: { kind: { const: 'sysdig' } }, oneOf: [{ required: ['debian'] }, { required: ['git'] }] },
          { properties: { kind: { const: 'scap-open' } }, required: ['libs'] },
          { properties: { kind: { const: 'falco' } }, required: ['falco'] },
        ],
        additionalProperties: false,
        properties: {
          kind: { enum: ['sysdig', 'scap-open', 'falco'] },
          debian: debianPkg,
          // built from a commit in a builder root of a suite of its time
          git: { ...gitPin, required: ['url', 'commit', 'suite'], properties: { ...gitPin.properties, suite: { type: 'string' } } },
          // scap-open: a libs source package of a suite, or a libs commit (and a driver commit over its driver/)
          libs: {
            type: 'object',
            required: ['suite'],
            oneOf: [{ required: ['package'] }, { required: ['git'] }],
            dependencies: { driver: ['git'] },
            additionalProperties: false,
            properties: { suite: { type: 'string' }, package: { type: 'string' }, git: gitPin, driver: gitPin, modern: { type: 'boolean' } },
          },
          // Falco from git, with the libs and driver trees it builds against
          falco: {
            type: 'object',
            required: ['git', 'libs', 'driver', 'suite', 'version'],
            additionalProperties: false,
            properties: { git: gitPin, libs: gitPin, driver: gitPin, suite: { type: 'string' }, version: { type: 'string' } },
          },
          engines: { type: 'array', minItems: 1, items: { enum: DRIVERS } },
          requires: {
            type: 'object',
            required: ['api', 'schema'],
            additionalProperties: false,
            properties: { api: version, schema: version },
          },
        },
      },
    },
    sources: {
      type: 'object',
      propertyNames: { pattern: idPattern },
      additionalProperties: {
        type: 'object',
        required: ['consumer'],
        oneOf: [{ required: ['debian'] }, { required: ['dir'] }, { required: ['git'] }],
        dependencies: { libs: ['git'] },
        additionalProperties: false,
        properties: {
          debian: debianPkg,
          dir: { type: 'string' },
          git: gitPin,
          // the module and device name a git driver tree is configured with (default scap; Falco's CMake: falco)
          name: { type: 'string', pattern: '^[a-z_][a-z0-9_]*$' },
          // a second tree only beside a git one (pdig and its FALCO_LIBS_DIR)
          libs: gitPin,
          compareKmod: { type: 'string' },
          consumer: { type: 'string' },
          consumers: { type: 'object', propertyNames: { enum: DRIVERS }, additionalProperties: { type: 'string' } },
        },
      },
    },
    profiles: {
      type: 'object',
      propertyNames: { pattern: idPattern },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          description: { type: 'string' },
          cmdline: { type: 'array', items: { type: 'string' } },
          capabilities: { type: 'array', items: { type: 'string', pattern: '^[a-z_]+$' } },
        },
      },
    },
    recommended: { type: 'string' },
    // today's Falco: its release, the sources standing for it, the drivers upstream removed since the document
    today: {
      type: 'object',
      required: ['falco', 'sources'],
      additionalProperties: false,
      properties: {
        falco: { type: 'string' },
        sources: { type: 'array', minItems: 1, items: { type: 'string' } },
        removed: { type: 'object', propertyNames: { enum: DRIVERS }, additionalProperties: { type: 'string' } },
      },
    },
    // the document's own drivers (Falco 0.26.0's era): the sources `kmatrix check --document` builds beside today's
    document: {
      type: 'object',
      required: ['sources'],
      additionalProperties: false,
      properties: { sources: { type: 'array', minItems: 1, items: { type: 'string' } } },
    },
    // negative controls: for these sources, each kernel B gets the kernel module built for another kernel A of its arch
    controls: {
      type: 'object',
      required: ['sources'],
      additionalProperties: false,
      properties: {
        sources: { type: 'array', minItems: 1, items: { type: 'string' } },
        kernels: { type: 'array', minItems: 2, items: { type: 'string' } },
        crossArch: { type: 'boolean' },
      },
    },
    platforms: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['profile', 'kernels'],
        additionalProperties: false,
        properties: {
          profile: { type: 'string' },
          // its own kernels; standIns: judged instead when none of its own gave evidence
          kernels: { type: 'array', minItems: 1, items: { type: 'string' } },
          standIns: { type: 'array', minItems: 1, items: { type: 'string' } },
          note: { type: 'string' },
        },
      },
    },
    matrix: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['kernels', 'drivers', 'sources'],
        additionalProperties: false,
        properties: {
          kernels: { type: 'array', minItems: 1, items: { type: 'string' } },
          drivers: { type: 'array', minItems: 1, items: { enum: DRIVERS } },
          sources: { type: 'array', minItems: 1, items: { type: 'string' } },
          profiles: { type: 'array', minItems: 1, items: { type: 'string' } },
        },
      },
    },
  },
};

const ajv = new Ajv.default({ allErrors: false, strict: false });
const validate = ajv.compile(matrixSchema);

const DEFAULT_TIMEOUTS: Timeouts = { boot: 300, load: 120, capture: 240 };

/** Where in the file a JSON path (`/kernels/x/arch`) lives, as `file:line`. */
function locate(doc: Document, file: string, lc: LineCounter, pathParts: (string | number)[]): string {
  for (let n = pathParts.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(pathParts.slice(0, n), true);
    if (isNode(node) && node.range) return `${file}:${lc.linePos(node.range[0]).line}`;
  }
  return file;
}

function describe(err: ErrorObject): string {
  const key = err.instancePath.split('/').filter(Boolean).join('.') || '(top level)';
  switch (err.keyword) {
    case 'additionalProperties':
      return `unknown key "${(err.params as { additionalProperty: string }).additionalProperty}" under ${key}`;
    case 'required':
      return `${key} is missing the key "${(err.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `${key} must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'oneOf':
      if (/^kernels\.[^.]+\.apt$/.test(key)) return `${key} needs exactly one of "flavour" (the newest kernel of a flavour) or "release" (an exact one)`;
      if (/^kernels\.[^.]+\.yum$/.test(key)) return `${key} needs exactly one of "url" or "mirrorlist", and exactly one of "release" (uname -r) or "newest" (a package name, e.g. kernel)`;
      return /^consumers\.[^.]+\.libs$/.test(key)
        ? `${key} needs exactly one of "package" (a libs source package of the suite) or "git" (a libs commit)`
        : key.startsWith('consumers.')
          ? `${key}: a sysdig consumer needs "debian" (a package) or "git" (url, commit, suite), a scap-open consumer needs "libs", a falco consumer needs "falco" (git, libs, driver, suite, version)`
          : `${key} must have exactly one of "debian", "dir" or "git"`;
    case 'anyOf':
      return `${key} must be a local path (a .deb file or a directory of them) or { url: "http(s)://…", sha256: "<64 hex digits>" }`;
    case 'dependencies':
      return `${key}: "${(err.params as { property: string }).property}" needs "${(err.params as { missingProperty: string }).missingProperty}" beside it`;
    case 'pattern':
      return `${key} does not match ${(err.params as { pattern: string }).pattern}`;
    case 'propertyNames':
      return `${key} has a key that is not a valid id (letters, digits, . _ + -)`;
    default:
      return `${key} ${err.message}`;
  }
}

export function loadMatrix(file: string): Matrix {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`Cannot read the matrix file ${file}: ${(e as Error).message}. Pass another with --matrix FILE.`);
  }
  return parseMatrix(text, file);
}

export function parseMatrix(text: string, file: string): Matrix {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = lc.linePos(e.pos[0]).line;
    const what = e.code === 'DUPLICATE_KEY' ? 'duplicate id (map keys must be unique)' : e.message.split('\n')[0];
    throw new UserError(`${file}:${line}: invalid YAML: ${what}.`);
  }
  let raw: unknown;
  try {
    raw = doc.toJS() as unknown;
  } catch (e) {
    // aliases: an undefined anchor, or too many (an alias bomb)
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/\.$/, '');
    const alias = /: (\S+)$/.exec(msg)?.[1];
    const at = alias ? text.search(new RegExp(`\\*${alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`)) : -1;
    throw new UserError(`${file}${at >= 0 ? `:${lc.linePos(at).line}` : ''}: invalid YAML: ${msg}.`);
  }
  if (!validate(raw)) {
    // an anyOf's own error says more than its first branch's ("must be string"); so do the apt and yum kinds' oneOfs
    const err = validate.errors!.find((e) => e.keyword === 'anyOf' || (e.keyword === 'oneOf' && /^\/kernels\/[^/]+\/(apt|yum)$/.test(e.instancePath))) ?? validate.errors![0]!;
    const parts = err.instancePath.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/')));
    throw new UserError(`${locate(doc, file, lc, parts)}: ${describe(err)}.`);
  }
  const m = raw as any; // shape guaranteed by the schema
  const where = (...p: (string | number)[]) => locate(doc, file, lc, p);
  const dir = path.dirname(path.resolve(file));
  const abs = (p: string | undefined) => (p ? path.resolve(dir, p) : undefined);

  const kernels: Record<string, KernelSpec> = {};
  for (const [id, k] of Object.entries<any>(m.kernels))
    kernels[id] = { id, ...kernelSource(k, dir, (...p) => where('kernels', id, ...p)), machine: k.machine, image: abs(k.image), sdcard: k.sdcard };
  for (const k of Object.values(kernels)) {
    const mach = MACHINES[k.machine]!;
    if (!mach.arches.includes(k.arch))
      throw new UserError(`${where('kernels', k.id, 'machine')}: machine ${k.machine} does not run ${k.arch} kernels (it runs ${mach.arches.join(', ')}).`);
    if (k.sdcard && !mach.dtb)
      throw new UserError(`${where('kernels', k.id, 'sdcard')}: an SD card boots on a Raspberry Pi machine (raspi3b, raspi2b), not ${k.machine}.`);
  }
  const consumers: Record<string, ConsumerSpec> = {};
  for (const [id, c] of Object.entries<any>(m.consumers))
    consumers[id] = { id, ...c, ...(c.libs ? { libs: { modern: false, ...c.libs } } : {}) };
  const sources: Record<string, SourceSpec> = {};
  for (const [id, s] of Object.entries<any>(m.sources)) {
    const refs: [string[], string][] = [[['consumer'], s.consumer], ...Object.entries<string>(s.consumers ?? {}).map(([d, c]): [string[], string] => [['consumers', d], c])];
    for (const [at, ref] of refs)
      if (!consumers[ref])
        throw new UserError(`${where('sources', id, ...at)}: source ${id} names consumer "${ref}", which is not under consumers: (known: ${Object.keys(consumers).join(', ')}).`);
    sources[id] = { id, debian: s.debian, dir: abs(s.dir), git: s.git, name: s.name, libs: s.libs, consumer: s.consumer, consumers: s.consumers };
  }
  for (const [id, s] of Object.entries<any>(m.sources)) {
    if (s.compareKmod === undefined) continue;
    if (!sources[s.compareKmod] || s.compareKmod === id)
      throw new UserError(`${where('sources', id, 'compareKmod')}: source ${id} compares with source "${s.compareKmod}", which is not another source under sources: (known: ${Object.keys(sources).join(', ')}).`);
    sources[id]!.compareKmod = sources[s.compareKmod];
  }
  for (const [j, t] of (m.today?.sources ?? []).entries())
    if (!sources[t]) throw new UserError(`${where('today', 'sources', j)}: today's Falco names source "${t}", which is not under sources: (known: ${Object.keys(sources).join(', ')}).`);
  for (const [j, t] of (m.document?.sources ?? []).entries())
    if (!sources[t]) throw new UserError(`${where('document', 'sources', j)}: the document's drivers name source "${t}", which is not under sources: (known: ${Object.keys(sources).join(', ')}).`);

  const profiles: Record<string, ProfileSpec> = { host: { id: 'host', description: 'root, all capabilities' } };
  for (const [id, p] of Object.entries<any>(m.profiles ?? {})) profiles[id] = { id, ...p };

  const platforms: PlatformMapping[] = Object.entries<any>(m.platforms ?? {}).map(([platform, p]) => {
    if (!profiles[p.profile])
      throw new UserError(`${where('platforms', platform, 'profile')}: platform "${platform}" names profile "${p.profile}", which is not defined (known: ${Object.keys(profiles).join(', ')}).`);
    for (const list of ['kernels', 'standIns'] as const)
      ((p[list] ?? []) as string[]).forEach((k, j) => {
        if (!kernels[k]) throw new UserError(`${where('platforms', platform, list, j)}: platform "${platform}" names kernel "${k}", which is not defined.`);
        if (list === 'standIns' && p.kernels.includes(k))
          throw new UserError(`${where('platforms', platform, list, j)}: platform "${platform}" has kernel "${k}" both as its own and as a stand-in: a stand-in is judged only when its own kernels gave no evidence.`);
      });
    return { platform, profile: p.profile, kernels: p.kernels, ...(p.standIns ? { standIns: p.standIns } : {}), ...(p.note !== undefined ? { note: p.note } : {}) };
  });

  const cells = new Map<string, Cell>();
  (m.matrix as any[]).forEach((combo, i) => {
    const check = (kind: 'kernels' | 'sources' | 'profiles', table: Record<string, unknown>, ids: string[]) =>
      ids.forEach((ref, j) => {
        if (!table[ref])
          throw new UserError(`${where('matrix', i, kind, j)}: matrix entry ${i + 1} names ${kind.slice(0, -1)} "${ref}", which is not defined (known: ${Object.keys(table).join(', ')}).`);
      });
    const profs: string[] = combo.profiles ?? ['host'];
    check('kernels', kernels, combo.kernels);
    check('sources', sources, combo.sources);
    check('profiles', profiles, profs);
    for (const k of combo.kernels as string[])
      for (const d of combo.drivers as DriverId[])
        for (const s of combo.sources as string[])
          for (const p of profs) {
            const cell: Cell = {
              id: cellId(k, d, s, p),
              kernel: kernels[k]!,
              driver: d,
              source: sources[s]!,
              consumer: consumers[sources[s]!.consumers?.[d] ?? sources[s]!.consumer]!,
              profile: profiles[p]!,
            };
            cells.set(cell.id, cell);
          }
  });
  for (const c of controlCells(m.controls, kernels, sources, consumers, m.matrix, where)) {
    if (cells.has(c.id)) throw new UserError(`${where('controls')}: the control ${c.id} has the id of a matrix cell (a profile named ${c.profile.id}?).`);
    cells.set(c.id, c);
  }
  for (const s of Object.keys(m.suites ?? {}))
    if (!Object.values(kernels).some((k) => kernelSuites(k).includes(s) || k.sdcard?.firmware.suite === s) && !Object.values<any>(m.sources).some((x) => x.debian?.suite === s) && !Object.values(consumers).some((c) => (c.debian ?? c.libs ?? c.git ?? c.falco)?.suite === s))
      throw new UserError(`${where('suites', s)}: suite "${s}" is configured but nothing uses it.`);

  return {
    file: path.resolve(file),
    hash: createHash('sha256').update(text).digest('hex').slice(0, 16),
    mirror: m.mirror,
    kernelSettings: Object.fromEntries(KINDS.filter((k) => m[k.kind] !== undefined).map((k) => [k.kind, m[k.kind]])),
    suites: m.suites ?? {},
    timeouts: { ...DEFAULT_TIMEOUTS, ...(m.timeouts ?? {}) },
    workload: { loopCount: m.workload?.loopCount ?? DEFAULT_LOOP_COUNT, soakSeconds: m.workload?.soakSeconds ?? DEFAULT_SOAK_SECONDS, maxDropRatio: m.workload?.maxDropRatio ?? DEFAULT_MAX_DROP_RATIO },
    kernels,
    consumers,
    sources,
    profiles,
    platforms,
    recommended: abs(m.recommended),
    ...(m.today ? { today: { falco: m.today.falco, sources: m.today.sources, removed: m.today.removed ?? {} } } : {}),
    ...(m.controls ? { controls: m.controls } : {}),
    ...(m.document ? { document: { sources: m.document.sources } } : {}),
    cells: [...cells.values()],
  };
}

/** A kernel entry's source: exactly one kind, and its arch (given on the kernel, by the source, or both alike). */
function kernelSource(k: any, dir: string, where: (...p: string[]) => string): Pick<KernelSpec, 'arch' | 'source'> {
  const given = KINDS.filter((kind) => k[kind.kind] !== undefined);
  if (given.length !== 1)
    throw new UserError(
      `${where()}: a kernel needs exactly one source — ${KINDS.map((x) => x.kind).join(', ')} — ` +
        (given.length ? `not ${given.map((x) => x.kind).join(' and ')} together.` : `and this one has none (e.g. store: { release: 4.9.229 } after \`kmatrix kernel import\`).`),
    );
  const kind = given[0]!;
  const source = kind.parse(k[kind.kind], dir);
  const named = kind.arch?.(source);
  if (named && k.arch && named !== k.arch)
    throw new UserError(`${where(kind.kind, 'arch')}: the ${kind.kind} source names arch ${named} but the kernel's arch is ${k.arch}: give it once.`);
  const arch = k.arch ?? named;
  if (!arch) throw new UserError(`${where()}: the kernel needs an arch (amd64, arm64 or armhf), on the kernel or in its ${kind.kind} source.`);
  return { arch, source };
}

export function cellId(kernel: string, driver: DriverId, source: string, profile: string): string {
  return `${kernel}/${driver}@${source}/${profile}`;
}

/** A cell id's parts; a control's profile (`control-from-<A>`) also names the module's kernel. */
export function parseCellId(id: string): { kernel: string; driver: DriverId; source: string; profile: string; controlFrom?: string } | undefined {
  const m = /^([^/@]+)\/([^/@]+)@([^/@]+)\/([^/@]+)$/.exec(id);
  if (!m || !DRIVERS.includes(m[2] as DriverId)) return undefined;
  const [, kernel, driver, source, profile] = m as unknown as [string, string, DriverId, string, string];
  const from = controlFromProfile(profile);
  return { kernel, driver, source, profile, ...(from ? { controlFrom: from } : {}) };
}

/**
 * The negative controls of `controls:`: for each source, each kernel B (the
 * listed ones, or the Debian kernels of the matrix entries in matrix order)
 * gets the kernel module built for the kernel A of its arch before it
 * (wrapping; controls.ts: controlPairs), as `<B>/kmod@<source>/control-from-<A>`.
 */
function controlCells(
  spec: ControlsSpec | undefined,
  kernels: Record<string, KernelSpec>,
  sources: Record<string, SourceSpec>,
  consumers: Record<string, ConsumerSpec>,
  entries: { kernels: string[] }[],
  where: (...p: (string | number)[]) => string,
): Cell[] {
  if (!spec) return [];
  spec.sources.forEach((s, j) => {
    if (!sources[s]) throw new UserError(`${where('controls', 'sources', j)}: controls name source "${s}", which is not under sources: (known: ${Object.keys(sources).join(', ')}).`);
  });
  (spec.kernels ?? []).forEach((k, j) => {
    if (!kernels[k]) throw new UserError(`${where('controls', 'kernels', j)}: controls name kernel "${k}", which is not defined.`);
    if (MACHINES[kernels[k]!.machine]!.backend !== 'qemu')
      throw new UserError(`${where('controls', 'kernels', j)}: controls boot their kernel directly: "${k}" is a ${kernels[k]!.machine} box, whose module is built in the box.`);
  });
  const named = spec.kernels ?? [...new Set(entries.flatMap((e) => e.kernels))].filter((k) => kernels[k]!.source.kind === 'debian' && MACHINES[kernels[k]!.machine]!.backend === 'qemu');
  const pairs = controlPairs(named.map((k) => kernels[k]!), spec.crossArch === true);
  // kernels chosen for controls must give what was asked; the matrix's own kernels (a subset, a test's matrix) may have one arch only
  if (spec.kernels && spec.crossArch && !pairs.some((p) => p.crossed === 'arch'))
    throw new UserError(`${where('controls', 'crossArch')}: crossArch needs a kernel B and a kernel of the same line (e.g. the same Debian suite) on another arch; these kernels have none.`);
  if (spec.kernels && !pairs.length)
    throw new UserError(`${where('controls', 'kernels')}: no two of these kernels are different kernels of one arch: a control needs a kernel B and another kernel A to build the module for.`);
  return spec.sources.flatMap((s) =>
    pairs.map(({ kernel, from, crossed }): Cell => {
      const profile = controlProfile(from.id, crossed === 'arch' ? from.arch : undefined);
      return {
        id: cellId(kernel.id, 'kmod', s, profile.id),
        kernel,
        driver: 'kmod',
        source: sources[s]!,
        consumer: consumers[sources[s]!.consumers?.kmod ?? sources[s]!.consumer]!,
        profile,
        control: { from },
      };
    }),
  );
}

/**
 * Cells whose id matches any of the patterns: exact ids or globs, where `*`
 * stays within one `/` segment and a pattern of fewer segments matches the
 * leading ones (`debian-6.1-amd64/*` is every cell of that kernel). A pattern
 * matching nothing is an error: a typo must not silently run an empty matrix.
 */
export function filterCells(cells: Cell[], patterns: string[] | undefined): Cell[] {
  if (!patterns?.length) return cells;
  const keep = new Set<string>();
  for (const pattern of patterns) {
    const match = picomatch(pattern);
    const hits = cells.filter((c) => {
      const parts = c.id.split('/');
      return c.id === pattern || parts.some((_, i) => match(parts.slice(0, i + 1).join('/')));
    });
    if (!hits.length) {
      const near = closest(pattern, cells.map((c) => c.id));
      throw new UserError(
        `No cell matches "${pattern}". Cell ids look like <kernel>/<driver>@<source>/<profile>` +
          (near.length ? `; the closest are: ${near.join(', ')}` : '') +
          '. `kmatrix list` shows them all.',
      );
    }
    hits.forEach((c) => keep.add(c.id));
  }
  return cells.filter((c) => keep.has(c.id));
}

function closest(target: string, ids: string[]): string[] {
  const score = (id: string) => {
    const a = target.split('/'), b = id.split('/');
    return a.reduce((n, part, i) => n + (b[i] && (b[i] === part || b[i]!.startsWith(part.replace(/\*.*$/, ''))) ? 1 : 0), 0);
  };
  const best = Math.max(0, ...ids.map(score));
  return best ? ids.filter((id) => score(id) === best).slice(0, 3) : [];
}
