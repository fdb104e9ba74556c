// The runner: expands nothing and renders nothing — it takes cells, runs each
// through fetch → build → boot → load → capture, and emits typed events.
// Whoever listens (UI, results writer, reporters) only consumes them.
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Debian, debianMirror } from './apt.js';
import type { Backend } from './backends/backend.js';
import { Backends } from './backends/index.js';
import { recordUsage } from './cache/usage.js';
import { errorLine } from './errors.js';
import { classAndCause } from './causes.js';
import { isKernelCrash, mayBeIntermittent } from './failures.js';
import { endEverything } from './interrupt.js';
import { reapLeftovers } from './leftovers.js';
import { MACHINES } from './machines.js';
import type { Matrix } from './matrix.js';
import { projectRoot } from './paths.js';
import { judgeControl } from './controls.js';
import { buildPhase } from './phases/build.js';
import { fetchedFacts, fetchPhase } from './phases/fetch.js';
import { planGuest } from './phases/vm.js';
import { addFacts, cellDir, cellDirName, CellEnd, PhaseClock, type CellContext, type Sink } from './plan.js';
import type { EarlyPlan } from './early.js';
import { backgroundBuilds, runRanked } from './scheduler.js';
import type { Cell, CellResult, RunEvent, RunInfo } from './types.js';

export interface RunOptions {
  matrix: Matrix;
  cells: Cell[];
  reportsDir: string;
  jobs: number;
  /** Attempts for a cell that ends in `error` (infrastructure), default 2. */
  attempts?: number;
  runId?: string;
  /** This run is one shard of a sharded run (recorded in results for the merge). */
  shard?: RunInfo['shard'];
  /** Raised on SIGINT/SIGTERM: no new cell starts, running ones are ended and not recorded. */
  signal?: AbortSignal;
  /** Files added to every guest (guest path → host path), e.g. the bench's workload and hooks. */
  guestFiles?: Record<string, string>;
  /** Failures known to be deterministic (expectations.yaml with their class): not run once more. */
  knownFailure?: (r: CellResult) => boolean;
  /** Files added to a cell's guest on its first run only (tests: a fault injected once, to see a flaky cell). */
  firstRunFiles?: Record<string, string>;
  /** Resuming a run: its info and the cells that already finished (kept in the results, not run again). */
  resume?: { run: RunInfo; previous: CellResult[]; /** every cell the run was asked for */ cells: string[] };
  /** The order for early answers (harness/early.ts): its heavy builds start at once in a background slot, their cells wait for them. */
  plan?: EarlyPlan;
}

export function kmatrixVersion(): Promise<string> {
  return readFile(path.join(projectRoot, 'package.json'), 'utf8').then((t) => (JSON.parse(t) as { version: string }).version);
}

export function newRunId(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
}

/**
 * A new run's id, its directory made: the start time, with `-2`, `-3`… when
 * another run in the same reports directory started in the same second (two
 * runs may share a cache and a checkout; never a directory).
 */
export async function claimRunId(reportsDir: string, d = new Date()): Promise<string> {
  await mkdir(reportsDir, { recursive: true });
  for (let n = 1; ; n++) {
    const id = n === 1 ? newRunId(d) : `${newRunId(d)}-${n}`;
    try {
      await mkdir(path.join(reportsDir, id));
      return id;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export async function runCells(opts: RunOptions, sinks: Sink[]): Promise<{ run: RunInfo; results: CellResult[] }> {
  const emit = async (e: RunEvent) => {
    for (const s of sinks) await s(e);
  };
  const mirror = debianMirror(opts.matrix.mirror);
  const debian = new Debian(mirror, opts.matrix.suites);
  const fresh: RunInfo = {
    id: opts.runId ?? (await claimRunId(opts.reportsDir)),
    startedAt: new Date().toISOString(),
    host: hostname(),
    accel: 'pending',
    kmatrixVersion: await kmatrixVersion(),
    matrix: { path: opts.matrix.file, hash: opts.matrix.hash },
    mirror,
    expiredSuitesAccepted: debian.expiredAccepted(),
    ...(opts.shard ? { shard: opts.shard } : {}),
  };
  const prior = opts.resume?.run;
  const run: RunInfo = prior ? { ...prior, interrupted: undefined, finishedAt: undefined, resumedAt: [...(prior.resumedAt ?? []), fresh.startedAt] } : fresh;
  const runDir = path.join(opts.reportsDir, run.id);
  await mkdir(runDir, { recursive: true });
  for (const left of await reapLeftovers(opts.reportsDir)) await emit({ type: 'note', message: `ended a VM left by a killed run: ${left}` });
  // a resumed run is still asked for all its cells (run.json keeps them for a later --resume)
  await emit({ type: 'run-start', run, cells: opts.resume?.cells ?? opts.cells.map((c) => c.id), resume: Boolean(opts.resume) });

  const signal = opts.signal;
  signal?.addEventListener('abort', endEverything, { once: true });
  const backends = new Backends({ note: (message) => emit({ type: 'note', message }), pidDir: path.join(runDir, 'pids') });
  signal?.addEventListener('abort', () => backends.abort(), { once: true });
  const ctxOf = (cell: Cell, dir = cellDir(runDir, cell.id)) => ({ debian, runDir, dir, timeouts: opts.matrix.timeouts, loopCount: opts.matrix.workload.loopCount, soakSeconds: opts.matrix.workload.soakSeconds, maxDropRatio: opts.matrix.workload.maxDropRatio, kernelSettings: opts.matrix.kernelSettings ?? {}, emit });
  // the heavy builds start at once, beside the cells; a cell waiting for one joins the queue, at its rank, when it is done
  const builds = opts.plan?.builds ?? [];
  const gateOf = new Map<string, Promise<unknown>[]>();
  const built = backgroundBuilds(
    builds,
    async (cell) => {
      await emit({ type: 'note', message: `background build of ${builds.filter((b) => b.cells.includes(cell)).map((b) => b.name).join(', ')} (through ${cell.id})` });
      return prebuild(cell, ctxOf(cell, path.join(runDir, 'prebuild', cellDirName(cell.id))));
    },
    signal,
    { start: (name) => emit({ type: 'build', name, state: 'start' }), end: (name, seconds) => emit({ type: 'build', name, state: 'end', seconds }) },
  );
  for (const b of builds) for (const c of b.cells) gateOf.set(c.id, [...(gateOf.get(c.id) ?? []), built.get(b.name)!]);
  // the plan's order for the cells asked for (any the plan lacks: after them)
  const ranks = new Map(opts.plan?.order.map((c, i) => [c.id, i]));
  const order = opts.plan ? [...opts.cells].sort((a, b) => (ranks.get(a.id) ?? Infinity) - (ranks.get(b.id) ?? Infinity)) : opts.cells;
  const ranked = await runRanked(
    order.map((cell) => ({ item: cell, ...(gateOf.has(cell.id) ? { gate: Promise.all(gateOf.get(cell.id)!) } : {}) })),
    opts.jobs,
    async (cell) => {
      const attempts = opts.attempts ?? 2;
      let result: CellResult | undefined;
      let first: CellResult | undefined; // a load or capture failure, run once more
      for (let n = 1; n <= attempts + (first ? 1 : 0) && !signal?.aborted; n++) {
        // the kernel's machine says which backend boots the cell
        const backend = backends.for(MACHINES[cell.kernel.machine]!);
        const guestFiles = { ...opts.guestFiles, ...(n === 1 ? opts.firstRunFiles : {}) };
        result = await runCell(cell, backend, { ...ctxOf(cell), attempt: n, guestFiles });
        // builds, deterministic classes (a verifier's refusal, a refused signature) and kernel crashes are run once
        if (!first && mayBeIntermittent(result) && !cell.control && !opts.knownFailure?.(result) && !signal?.aborted) {
          first = await keepFirstRun(result, runDir);
          await emit({ type: 'note', cell: cell.id, message: `failed at ${result.phase} (${result.firstError ?? result.reason}); run once more to tell an intermittent fault` });
          continue;
        }
        if (result.status !== 'error') break;
        if (n < attempts && !signal?.aborted) await emit({ type: 'note', cell: cell.id, message: `infrastructure error (${result.reason}); retrying` });
      }
      if (result && first) result = flakyOrNot(first, result);
      // interrupted: a cell that was running says nothing (its VM and builds were ended); `--resume` runs it again
      if (!result || signal?.aborted) return undefined;
      await emit({ type: 'cell-end', result });
      return result;
    },
  );
  await Promise.all(built.values());
  await rm(path.join(runDir, 'prebuild'), { recursive: true, force: true });
  // results in the order the cells were asked for
  const byId = new Map(order.map((c, i) => [c.id, ranked[i]]));
  const finished = opts.cells.map((c) => byId.get(c.id));
  const results = [...(opts.resume?.previous ?? []), ...finished.filter((r): r is CellResult => r !== undefined)];
  run.finishedAt = new Date().toISOString();
  if (signal?.aborted) run.interrupted = true;
  await backends.close();
  run.accel = await backends.summary();
  await recordUsage(run.id);
  await emit({ type: 'run-end', run, results });
  return { run, results };
}

/**
 * A heavy build started ahead of its cell: the cell's fetch and build phases,
 * no VM (their builds are cached, the cell finds them). False when the cell
 * ended before its heavy build (its driver did not build for this kernel, a
 * skip): the next waiting cell is tried; an error stops (the next would meet it too).
 */
async function prebuild(cell: Cell, ctx: Pick<CellContext, 'debian' | 'runDir' | 'dir' | 'kernelSettings'>): Promise<boolean> {
  await mkdir(ctx.dir, { recursive: true });
  try {
    await buildPhase(cell, await fetchPhase(cell, ctx), ctx);
    return true;
  } catch (e) {
    return !(e instanceof CellEnd) || e.status === 'error';
  }
}

/** The first run's logs move to cells/<cell>/first-run/ (the second run writes its own); its result points there. */
async function keepFirstRun(r: CellResult, runDir: string): Promise<CellResult> {
  const dir = cellDir(runDir, r.id);
  const tmp = `${dir}.first-run`;
  await rename(dir, tmp);
  await mkdir(dir, { recursive: true });
  await rename(tmp, path.join(dir, 'first-run'));
  const rel = path.relative(runDir, dir);
  const logs = Object.fromEntries(Object.entries(r.logs).map(([k, v]) => [k, v?.replace(`${rel}/`, `${rel}/first-run/`)]));
  return { ...r, logs };
}

/**
 * A cell that failed at load or capture and was run once more: passing the
 * second time it is flaky (neither pass nor fail, never evidence), both
 * outcomes kept; failing again it is a failure, the first one kept beside it.
 */
export function flakyOrNot(first: CellResult, second: CellResult): CellResult {
  // a kernel crash is never flaky: whatever came after, the first run's failure stands
  if (isKernelCrash(first)) return first;
  const earlier = { status: first.status, phase: first.phase, reason: first.reason, firstError: first.firstError, ...(first.class ? { class: first.class } : {}), logs: first.logs };
  if (second.status === 'pass')
    return { ...second, status: 'flaky', reason: `failed at ${first.phase} (${first.firstError ?? first.reason}), then passed: ${second.reason}`, runs: [earlier, { status: 'pass', reason: second.reason }] };
  return { ...second, runs: [earlier, { status: second.status, phase: second.phase, reason: second.reason, firstError: second.firstError, ...(second.class ? { class: second.class } : {}) }] };
}

async function runCell(cell: Cell, backend: Backend, ctx: CellContext): Promise<CellResult> {
  await mkdir(ctx.dir, { recursive: true });
  const clock = new PhaseClock(cell.id, ctx.emit);
  const result: CellResult = {
    id: cell.id,
    kernel: { id: cell.kernel.id, arch: cell.kernel.arch, machine: cell.kernel.machine },
    driver: { id: cell.driver, source: cell.source.id },
    consumer: { id: cell.consumer.id, kind: cell.consumer.kind },
    profile: cell.profile.id,
    status: 'error',
    durations: clock.durations,
    logs: {},
    attempts: ctx.attempt,
    ...(cell.control ? { control: { from: cell.control.from.id, ...(cell.control.from.arch !== cell.kernel.arch ? { fromArch: cell.control.from.arch } : {}) } } : {}),
  };
  const end = async (e: CellEnd) => {
    await clock.end(e.status === 'pass' || e.status === 'skip', e.reason);
    addFacts(result, e.facts);
    Object.assign(result, { status: e.status, phase: e.phase, reason: e.reason, firstError: e.firstError });
    // the one place a result is finalized: its failure class (a build's log can tell more than its first error),
    // and where the kernel's build tree says why (no BTF, no ring buffer, signatures enforced), the reason says so too
    const logs = e.phase === 'build' && e.status === 'fail' ? { build: await readFile(path.join(ctx.dir, 'build.log'), 'utf8').catch(() => '') } : {};
    const { class: cls, reason } = classAndCause({ ...result, driver: cell.driver, cmdline: cell.profile.cmdline }, logs);
    if (cls) result.class = cls;
    result.reason = reason;
    return result;
  };
  try {
    await clock.start('fetch');
    const fetched = await fetchPhase(cell, ctx);
    addFacts(result, fetchedFacts(fetched));
    if (result.control && fetched.from) result.control.fromRelease = fetched.from.release;
    await clock.end(true);

    await clock.start('build');
    const built = await buildPhase(cell, fetched, ctx);
    addFacts(result, built.facts);
    await clock.end(true, built.cached ? 'cached' : undefined);

    const plan = planGuest(cell, fetched, built, ctx);
    Object.assign(plan.files, ctx.guestFiles);
    // boot → load → capture (a box builds its driver in between)
    const out = await backend.run({ cell, fetched, built, plan }, ctx, clock);
    const { facts } = out;
    let v = out.verdict;
    // a negative control: the kernel refusing the other kernel's module is its pass
    if (cell.control) {
      const c = judgeControl(out.report, v, cell.kernel.id, { id: cell.control.from.id, release: fetched.from?.release, ...(cell.control.from.arch !== cell.kernel.arch ? { arch: cell.control.from.arch } : {}) });
      v = c.verdict;
      result.control = c.control;
      facts.evidence = { events: 0, marker: false, lines: v.lines };
    }
    addFacts(result, facts);
    return end(new CellEnd(v.status, v.phase, v.reason, v.firstError));
  } catch (e) {
    if (e instanceof CellEnd) return end(e);
    return end(new CellEnd('error', clock.phase ?? 'fetch', `harness error: ${errorLine(e)}`));
  }
}
