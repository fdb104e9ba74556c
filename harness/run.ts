// The runner: expands nothing and renders nothing — it takes cells, runs each
// through fetch → build → boot → load → capture, and emits typed events.
// Whoever listens (UI, results writer, reporters) only consumes them.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { debianMirror } from './apt.js';
import { ARTIFACT_IN_GUEST, engineArgs, prepareConsumer, type ConsumerAssets } from './consumers.js';
import { buildDriver, CellSkip, fetchDriverSource, notApplicable, type DriverTree } from './drivers.js';
import { errorLine, isUserError } from './errors.js';
import { cellEnvFile, GuestReader, judge, profilePackages, runAsPrefix } from './guest.js';
import { Debian, writeCpio, type GuestImage } from './images.js';
import { fetchKernel, type KernelTree } from './kernels/index.js';
import { MACHINES, resolveAccel, startVm, type Accel, type MachineDef } from './machines.js';
import { piSdCard, type PiSdCard } from './sdcard.js';
import type { Matrix } from './matrix.js';
import { PHASES, type Cell, type CellResult, type Phase, type RunEvent, type RunInfo, type Timeouts } from './types.js';

export type Sink = (e: RunEvent) => void | Promise<void>;

export interface RunOptions {
  matrix: Matrix;
  cells: Cell[];
  reportsDir: string;
  jobs: number;
  /** Attempts for a cell that ends in `error` (infrastructure), default 2. */
  attempts?: number;
  runId?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
export const GUEST_INIT = path.join(projectRoot, 'images', 'guest', 'init.sh');

export function kmatrixVersion(): Promise<string> {
  return readFile(path.join(projectRoot, 'package.json'), 'utf8').then((t) => (JSON.parse(t) as { version: string }).version);
}

export function newRunId(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
}

export function cellDirName(id: string): string {
  return id.replace(/[^A-Za-z0-9._@+-]+/g, '_');
}

export async function runCells(opts: RunOptions, sinks: Sink[]): Promise<{ run: RunInfo; results: CellResult[] }> {
  const emit = async (e: RunEvent) => {
    for (const s of sinks) await s(e);
  };
  const mirror = debianMirror(opts.matrix.mirror);
  const debian = new Debian(mirror, opts.matrix.suites);
  const run: RunInfo = {
    id: opts.runId ?? newRunId(),
    startedAt: new Date().toISOString(),
    host: hostname(),
    accel: 'pending',
    kmatrixVersion: await kmatrixVersion(),
    matrix: { path: opts.matrix.file, hash: opts.matrix.hash },
    mirror,
    expiredSuitesAccepted: debian.expiredAccepted(),
  };
  const runDir = path.join(opts.reportsDir, run.id);
  await mkdir(runDir, { recursive: true });
  await emit({ type: 'run-start', run, cells: opts.cells.map((c) => c.id) });

  const accels = new Map<string, Promise<Accel>>();
  const limit = pLimit(Math.max(1, opts.jobs));
  const results = await Promise.all(
    opts.cells.map((cell) =>
      limit(async () => {
        const attempts = opts.attempts ?? 2;
        let result: CellResult | undefined;
        for (let n = 1; n <= attempts; n++) {
          result = await runCell(cell, { debian, runDir, timeouts: opts.matrix.timeouts, kernelSettings: opts.matrix.kernelSettings ?? {}, emit, accels, attempt: n });
          if (result.status !== 'error') break;
          if (n < attempts) await emit({ type: 'note', cell: cell.id, message: `infrastructure error (${result.reason}); retrying` });
        }
        await emit({ type: 'cell-end', result: result! });
        return result!;
      }),
    ),
  );
  run.finishedAt = new Date().toISOString();
  run.accel = [...new Set(await Promise.all(accels.values()))].join(',') || 'none';
  await emit({ type: 'run-end', run, results });
  return { run, results };
}

interface CellContext {
  debian: Debian;
  runDir: string;
  timeouts: Timeouts;
  kernelSettings: Record<string, unknown>;
  emit: Sink;
  accels: Map<string, Promise<Accel>>;
  attempt: number;
}

class PhaseClock {
  readonly durations: Partial<Record<Phase, number>> = {};
  private current?: { phase: Phase; at: number };
  constructor(private cell: string, private emit: Sink) {}
  async start(phase: Phase): Promise<void> {
    this.current = { phase, at: Date.now() };
    await this.emit({ type: 'phase-start', cell: this.cell, phase });
  }
  async end(ok: boolean, detail?: string): Promise<void> {
    if (!this.current) return;
    const seconds = Math.round((Date.now() - this.current.at) / 100) / 10;
    this.durations[this.current.phase] = seconds;
    const phase = this.current.phase;
    this.current = undefined;
    await this.emit({ type: 'phase-end', cell: this.cell, phase, ok, seconds, detail });
  }
  get phase(): Phase | undefined {
    return this.current?.phase;
  }
}

async function runCell(cell: Cell, ctx: CellContext): Promise<CellResult> {
  const machine = MACHINES[cell.kernel.machine]!;
  const dir = path.join(ctx.runDir, 'cells', cellDirName(cell.id));
  await mkdir(dir, { recursive: true });
  const rel = (f: string) => path.relative(ctx.runDir, f);
  const clock = new PhaseClock(cell.id, ctx.emit);
  const result: CellResult = {
    id: cell.id,
    kernel: { id: cell.kernel.id, arch: cell.kernel.arch, machine: machine.id },
    driver: { id: cell.driver, source: cell.source.id },
    consumer: { id: cell.consumer.id },
    profile: cell.profile.id,
    status: 'error',
    durations: clock.durations,
    logs: {},
    attempts: ctx.attempt,
  };
  const end = async (status: CellResult['status'], phase: Phase, reason: string, firstError?: string) => {
    await clock.end(status === 'pass' || status === 'skip', reason);
    Object.assign(result, { status, phase, reason, firstError });
    return result;
  };

  // fetch: kernel + headers and the driver source; then, is the cell applicable at all?
  let kernel: KernelTree, tree: DriverTree;
  await clock.start('fetch');
  try {
    [kernel, tree] = await Promise.all([fetchKernel(cell.kernel, { debian: ctx.debian, settings: ctx.kernelSettings }), fetchDriverSource(ctx.debian, cell.source)]);
  } catch (e) {
    if (e instanceof CellSkip) return end('skip', 'fetch', e.message);
    return end('error', 'fetch', `fetch failed: ${errorLine(e)}`, isUserError(e) ? e.message : undefined);
  }
  result.kernel = { ...result.kernel, ...kernelFacts(kernel) };
  result.driver = { ...result.driver, version: tree.version, ...tree.versions };
  const skip = notApplicable(cell.driver, tree, cell.consumer);
  if (skip) return end('skip', 'fetch', skip);
  await clock.end(true);

  // build: the driver on the host, in the builder root of the kernel's suite; the consumer (modern eBPF is built into it).
  await clock.start('build');
  let artifact: string | undefined, consumer: ConsumerAssets, cachedBuild = false;
  let card: PiSdCard | undefined;
  try {
    if (cell.driver === 'kmod' || cell.driver === 'ebpf') {
      const b = await buildDriver(ctx.debian, cell.driver, tree, kernel);
      await copyFile(b.log, path.join(dir, 'build.log'));
      result.logs.build = rel(path.join(dir, 'build.log'));
      if (!b.ok) return end('fail', 'build', `the ${cell.driver === 'kmod' ? 'kernel module' : 'eBPF probe'} did not build`, b.firstError);
      artifact = b.artifact;
      cachedBuild = b.cached;
    }
    consumer = await prepareConsumer(ctx.debian, cell.consumer, cell.kernel.arch, profilePackages(cell.profile));
  } catch (e) {
    if (e instanceof CellSkip) return end('skip', 'build', e.message);
    // modern eBPF lives in the consumer: its build failing is the driver failing to build
    if (cell.driver === 'modern-ebpf') return end('fail', 'build', 'the consumer with the modern eBPF probe did not build', errorLine(e));
    return end('error', 'build', `build infrastructure failed: ${errorLine(e)}`);
  }
  // A Pi SD card (built from Debian packages): kernel and DTB come from its boot partition.
  if (cell.kernel.sdcard) {
    try {
      card = await piSdCard(ctx.debian, cell.kernel.sdcard.firmware, kernel, path.basename(machine.dtb!));
    } catch (e) {
      return end('error', 'build', `SD card image failed: ${errorLine(e)}`);
    }
  }
  result.consumer = { id: cell.consumer.id, version: consumer.version };
  await clock.end(true, cachedBuild ? 'cached' : undefined);

  // boot → load → capture: one VM, phases read from the guest's console.
  const accel = await accelFor(machine, ctx, () => bootProbe(machine, kernel, consumer.image, dir));
  const nonce = randomBytes(6).toString('hex');
  // a retried cell keeps every attempt's console
  const consoleLog = path.join(dir, ctx.attempt > 1 ? `console-attempt${ctx.attempt}.log` : 'console.log');
  result.logs.console = rel(consoleLog);
  const tmp = await mkdtemp(path.join(tmpdir(), 'kmatrix-'));
  try {
    const initrd = await cellInitrd(tmp, consumer.image, {
      files: {
        ...consumer.files,
        ...(artifact ? { [ARTIFACT_IN_GUEST[cell.driver]!]: artifact } : {}),
        ...(card ? Object.fromEntries(kernel.sdModules.map((m, i) => [`kmatrix/sd/${String(i).padStart(2, '0')}-${path.basename(m)}`, m])) : {}),
      },
      env: cellEnvFile({
        driver: cell.driver,
        consumer: cell.consumer.kind,
        nonce,
        engineArgs: engineArgs(cell.consumer.kind, cell.driver),
        runAs: runAsPrefix(cell.profile),
        captureTimeout: ctx.timeouts.capture,
        evtType: consumer.openatExit,
        sdcard: Boolean(card),
      }),
    });
    const reader = new GuestReader();
    await clock.start('boot');
    let steps = Promise.resolve(); // console lines are handled strictly in order
    const vm = startVm(
      { machine, accel, kernel: card?.kernel ?? kernel.image, initrd, dtb: card?.dtb ?? dtbPath(machine, kernel), sd: card?.image, append: bootArgs(machine, cell) },
      consoleLog,
      (line) => {
        const msg = reader.feed(line);
        if (!msg) return;
        const step = async () => {
          if (msg.verb === 'boot') {
            await clock.end(true, reader.report.boot?.release);
            await clock.start('load');
            vm.expect(ctx.timeouts.load);
          } else if (msg.verb === 'consumer') {
            vm.expect(ctx.timeouts.capture + 30);
          } else if (msg.verb === 'insmod' && reader.report.insmod?.rc !== 0) {
            await clock.end(false);
          } else if (msg.verb === 'attached') {
            // a streaming consumer printed its first event: the driver is loaded and attached
            await clock.end(true);
            await clock.start('capture');
          } else if (msg.verb === 'done') {
            if (!machine.exitsOnPoweroff) vm.stop();
          }
        };
        steps = steps.then(step);
      },
      ctx.timeouts.boot,
    );
    const exit = await vm.done;
    await steps;
    const v = judge(reader.report, cell.driver, cell.consumer.kind, nonce, { timedOut: exit.timedOut, phase: clock.phase ?? 'boot' });
    if (reader.report.boot?.release) result.kernel.release = reader.report.boot.release;
    if (reader.report.sdcard) result.kernel.sdcard = reader.report.sdcard;
    result.evidence = { events: v.events, marker: v.marker, lines: v.lines };
    const at = clock.phase;
    if (at && at !== v.phase && PHASES.indexOf(v.phase) > PHASES.indexOf(at)) {
      // the guest's facts place the end later than the console showed (scap-open's window is load and capture at once)
      await clock.end(true);
      await clock.start(v.phase);
    }
    return end(v.status, v.phase, v.reason, v.firstError);
  } catch (e) {
    return end('error', clock.phase ?? 'boot', `VM infrastructure failed: ${errorLine(e)}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** What the results say of a fetched kernel (a compiler substitution is a finding of the cell). */
function kernelFacts(k: KernelTree): Partial<CellResult['kernel']> {
  const b = k.builder;
  return { release: k.release, version: k.version, package: k.origin, compiler: k.compiler, builder: `${b.suite} ${b.compiler}${b.substitution ? ` (${b.substitution})` : ''}` };
}

function dtbPath(machine: MachineDef, kernel: KernelTree): string | undefined {
  return machine.dtb && kernel.dtbDir ? path.join(kernel.dtbDir, machine.dtb) : undefined;
}

function bootArgs(machine: MachineDef, cell: Cell): string[] {
  return [...(machine.hasRtc ? [] : [`kmatrix.time=${Math.floor(Date.now() / 1000)}`]), ...(cell.profile.cmdline ?? [])];
}

/** The cell's initramfs: the cached base archive followed by a small per-cell one (init, cell.env, driver). */
async function cellInitrd(tmp: string, guest: GuestImage, extra: { files: Record<string, string>; env: string }): Promise<string> {
  const overlay = path.join(tmp, 'overlay');
  await mkdir(path.join(overlay, 'kmatrix'), { recursive: true });
  await copyFile(GUEST_INIT, path.join(overlay, 'init'));
  await chmod(path.join(overlay, 'init'), 0o755);
  await writeFile(path.join(overlay, 'kmatrix', 'cell.env'), extra.env);
  for (const [to, from] of Object.entries(extra.files)) {
    await mkdir(path.dirname(path.join(overlay, to)), { recursive: true });
    await copyFile(from, path.join(overlay, to));
  }
  await writeCpio(overlay, path.join(tmp, 'overlay.cpio'));
  const initrd = path.join(tmp, 'initrd.cpio');
  await execa('sh', ['-c', 'cat "$1" "$2" > "$3"', 'sh', guest.cpio, path.join(tmp, 'overlay.cpio'), initrd]);
  return initrd;
}

function accelFor(machine: MachineDef, ctx: CellContext, probe: () => Promise<boolean>): Promise<Accel> {
  let a = ctx.accels.get(machine.id);
  if (!a) {
    a = resolveAccel(machine, probe).then(async (r) => {
      await ctx.emit({ type: 'note', message: `${machine.id}: acceleration ${r.accel} (${r.why})` });
      return r.accel;
    });
    ctx.accels.set(machine.id, a);
  }
  return a;
}

/** Does KVM really boot this kernel to init? (Nested KVM here hangs at "Booting from ROM".) */
async function bootProbe(machine: MachineDef, kernel: KernelTree, guest: GuestImage, dir: string): Promise<boolean> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'kmatrix-probe-'));
  try {
    const initrd = await cellInitrd(tmp, guest, {
      files: {},
      env: cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'probe', engineArgs: '', runAs: '', captureTimeout: 1, mode: 'probe' }),
    });
    const reader = new GuestReader();
    const vm = startVm({ machine, accel: 'kvm', kernel: kernel.image, initrd, append: [] }, path.join(dir, 'kvm-probe.log'), (l) => {
      if (reader.feed(l)?.verb === 'done') vm.stop();
    }, 60);
    await vm.done;
    return reader.report.boot !== undefined;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
