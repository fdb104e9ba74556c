// The Vagrant backend: a cell whose kernel is a Vagrant box runs as
//   boot    `vagrant up` (vagrant-libvirt; libvirt.driver qemu = TCG unless KVM is known to work)
//   build   the driver built in the box against the box's own headers (cached by box + tree)
//   load, capture   the guest init (images/guest/init.sh) run over `vagrant ssh`,
//           chrooted into the consumer's guest image inside the box, printing
//           the same `KMATRIX v1` facts the QEMU guest prints on its console
// and `vagrant destroy` however it ends. vagrant and libvirt run inside the
// session's network namespace (libvirt.ts). `vagrant up` failing is
// infrastructure (`error`); the driver failing is `fail`.
import { execa, type ResultPromise } from 'execa';
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { release as hostRelease, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { firstCompilerError, ranToExit } from '../builder.js';
import { cached, cacheDir, readCachedJson } from '../cache/cache.js';
import { treeHash } from '../drivers/build.js';
import { errorLine } from '../errors.js';
import { ARTIFACT_IN_GUEST, cellEnvFile, evidenceOf, GuestReader, judge, moduleInGuest } from '../guest.js';
import { lastMeaningful, vagrantEnv } from '../images/box.js';
import { MACHINES } from '../machines.js';
import { guestInit } from '../paths.js';
import { CellEnd, judging, type CellContext, type CellFacts, type CellJob, type GuestOutcome, type GuestPlan, type PhaseClock } from '../plan.js';
import { PHASES, type BoxRef } from '../types.js';
import type { Backend } from './backend.js';
import { isAlive, LibvirtSession } from './libvirt.js';

/** The in-box driver build under TCG is slow (a module takes minutes): its own timeout, seconds. */
export const BOX_BUILD_TIMEOUT = 1800;
const DESTROY_TIMEOUT = 180;

export interface VagrantfileOptions {
  box: BoxRef;
  /** libvirt URI of the session (its private socket). */
  uri: string;
  /** `qemu` (TCG) or `kvm`. */
  driver: 'qemu' | 'kvm';
  /** Domain names start with it (so leftovers are recognisable). */
  prefix: string;
  pool: string;
  network: { name: string; address: string };
  consoleLog: string;
  bootTimeout: number;
  cpus: number;
  memoryMiB: number;
}

/** The project Vagrantfile of one cell. */
export function vagrantfile(o: VagrantfileOptions): string {
  const s = JSON.stringify;
  return [
    '# written by kmatrix for one cell',
    'Vagrant.configure("2") do |config|',
    `  config.vm.box = ${s(o.box.name)}`,
    `  config.vm.box_version = ${s(o.box.version)}`,
    '  config.vm.box_check_update = false',
    '  config.vm.synced_folder ".", "/vagrant", disabled: true',
    // the box keeps Vagrant's insecure key: nothing reaches it outside the namespace
    '  config.ssh.insert_key = false',
    `  config.vm.boot_timeout = ${o.bootTimeout}`,
    '  config.vm.provider :libvirt do |libvirt|',
    `    libvirt.uri = ${s(o.uri)}`,
    `    libvirt.driver = ${s(o.driver)}`,
    ...(o.driver === 'qemu' ? ['    libvirt.cpu_mode = "custom"', '    libvirt.cpu_model = "qemu64"'] : []),
    `    libvirt.cpus = ${o.cpus}`,
    `    libvirt.memory = ${o.memoryMiB}`,
    `    libvirt.storage_pool_name = ${s(o.pool)}`,
    `    libvirt.management_network_name = ${s(o.network.name)}`,
    `    libvirt.management_network_address = ${s(o.network.address)}`,
    `    libvirt.default_prefix = ${s(o.prefix)}`,
    '    libvirt.graphics_type = "none"',
    '    libvirt.video_type = "none"',
    `    libvirt.serial :type => "file", :source => { :path => ${s(o.consoleLog)} }`,
    '  end',
    'end',
    '',
  ].join('\n');
}

/** libvirt's domain type for boxes: kvm only when the harness's acceleration probe (or KMATRIX_ACCEL) said KVM works. */
export async function libvirtDriver(): Promise<'qemu' | 'kvm'> {
  const forced = process.env.KMATRIX_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced === 'kvm' ? 'kvm' : 'qemu';
  const known = await readCachedJson<{ kvm: boolean }>(`accel-${hostRelease()}.json`);
  return known?.kvm && existsSync('/dev/kvm') ? 'kvm' : 'qemu';
}

/** The commands of the in-box build: a kernel module against the running kernel's headers (or the legacy probe). */
export function boxBuildScript(driver: 'kmod' | 'ebpf'): string {
  const build =
    driver === 'kmod'
      ? 'make -C /lib/modules/$(uname -r)/build M=/kmatrix/driver -j$(nproc) modules && test -f /kmatrix/driver/scap.ko'
      : 'make -C /kmatrix/driver/bpf KERNELDIR=/lib/modules/$(uname -r)/build && test -f /kmatrix/driver/bpf/probe.o';
  return ['set -e', 'rm -rf /kmatrix', 'mkdir -p /kmatrix/driver', 'tar -x -C /kmatrix/driver', 'echo "# box kernel $(uname -r), $(gcc --version | head -n1)"', build, ''].join('\n');
}

const ARTIFACT_IN_BOX: Record<'kmod' | 'ebpf', string> = { kmod: '/kmatrix/driver/scap.ko', ebpf: '/kmatrix/driver/bpf/probe.o' };

/** The in-box run of the guest init: the consumer's image unpacked, chrooted with a private mount namespace. */
export const BOX_RUN_SCRIPT = [
  'set -e',
  'rm -rf /kmatrix/root && mkdir -p /kmatrix/root',
  'tar -x -C /kmatrix/root',
  'exec unshare -m --propagation private chroot /kmatrix/root /init',
  '',
].join('\n');

/** Where base box volumes stay between runs (they are cache); cell volumes are removed with their domain. */
export function poolDir(): string {
  return path.join(cacheDir(), 'vagrant', 'pool');
}

/**
 * Remove the cell volumes (`kmatrix-<pid>-<n>-…`) of harness processes that
 * are gone, or of this one (`own`): what an interrupted or killed run left.
 */
export function removeCellVolumes(dir: string, own: boolean): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir)) {
    const pid = Number(/^kmatrix-(\d+)-\d+-/.exec(f)?.[1] ?? NaN);
    if (Number.isNaN(pid) || (pid === process.pid ? !own : isAlive(pid))) continue;
    rmSync(path.join(dir, f), { force: true });
    removed.push(f);
  }
  return removed;
}

export class VagrantBackend implements Backend {
  readonly id = 'vagrant';
  private session?: Promise<LibvirtSession>;
  private cells = 0;

  /** The libvirt session, started on first use: namespace, daemons, the storage pool (base box volumes kept under the cache). */
  libvirt(): Promise<LibvirtSession> {
    if (!this.session) {
      this.session = (async () => {
        const s = await LibvirtSession.start(path.join(tmpdir(), `kmatrix-libvirt-${process.pid}`));
        const pool = poolDir();
        await mkdir(pool, { recursive: true });
        removeCellVolumes(pool, false);
        process.once('exit', () => removeCellVolumes(pool, true));
        const r = await s.virsh(['pool-create-as', 'kmatrix', 'dir', '--target', pool]);
        if (!r.ok) {
          s.endNow();
          throw new Error(`libvirt storage pool: ${r.out.trim()}`);
        }
        return s;
      })();
      this.session.catch(() => (this.session = undefined));
    }
    return this.session;
  }

  private aborted = false;

  abort(): void {
    this.aborted = true;
    this.session?.then((s) => (s.endNow(), removeCellVolumes(poolDir(), true))).catch(() => {});
    // a session still starting is ended by the exit hook or by close()
  }

  async describe(plan: GuestPlan): Promise<string[]> {
    return [
      `vagrant up --provider libvirt (libvirt.driver ${await libvirtDriver()}, ${plan.machine.cpus} vCPU, ${plan.machine.memoryMiB} MiB; libvirtd in a network namespace of the run)`,
      'vagrant ssh: the driver built in the box against its own headers, then the guest init chrooted into the consumer image',
      'vagrant destroy -f',
    ];
  }

  async summary(): Promise<string> {
    return this.cells ? `vagrant:${await libvirtDriver()}` : '';
  }

  async close(): Promise<void> {
    const s = await this.session?.catch(() => undefined);
    this.session = undefined;
    await s?.close();
  }

  /** boot → build (in the box) → load → capture for one cell; the box is destroyed however it ends. */
  async run({ cell, plan, fetched }: CellJob, ctx: CellContext, clock: PhaseClock): Promise<GuestOutcome> {
    const box = fetched.kernel.box!;
    const project = path.join(ctx.dir, ctx.attempt > 1 ? `vagrant-attempt${ctx.attempt}` : 'vagrant');
    const consoleLog = path.join(ctx.dir, ctx.attempt > 1 ? `console-attempt${ctx.attempt}.log` : 'console.log');
    const vmLog = path.join(project, 'vagrant.log');
    const rel = (f: string) => path.relative(ctx.runDir, f);
    const facts: CellFacts = { logs: { console: rel(consoleLog) } };
    await rm(project, { recursive: true, force: true });
    await mkdir(project, { recursive: true });
    let session: LibvirtSession | undefined;
    let up = false;
    const vagrant = (args: string[], opts: { timeout: number; stdin?: string; log?: string }) =>
      runLogged(session!.inNetns(['vagrant', ...args]), { cwd: project, ...opts, log: opts.log ?? vmLog });
    try {
      // boot: vagrant up in the namespace
      await clock.start('boot');
      if (this.aborted) throw new CellEnd('error', 'boot', 'the run was interrupted', undefined, facts);
      try {
        session = await this.libvirt();
      } catch (e) {
        throw new CellEnd('error', 'boot', `libvirt could not be started: ${errorLine(e)}`, undefined, facts);
      }
      const prefix = `kmatrix-${process.pid}-${++this.cells}-`;
      await writeFile(
        path.join(project, 'Vagrantfile'),
        vagrantfile({
          box,
          uri: session.plan.uri,
          driver: await libvirtDriver(),
          prefix,
          pool: 'kmatrix',
          network: { name: 'kmatrix-mgmt', address: '192.168.121.0/24' },
          // the box's serial console (its kernel and systemd), beside vagrant's own log
          consoleLog: path.resolve(project, 'serial.log'),
          bootTimeout: ctx.timeouts.boot,
          cpus: MACHINES.vagrant!.cpus,
          memoryMiB: MACHINES.vagrant!.memoryMiB,
        }),
      );
      up = true;
      const u = await vagrant(['up', '--provider', 'libvirt', '--no-tty'], { timeout: ctx.timeouts.boot + 60 });
      if (u.exitCode !== 0) {
        const why = u.timedOut ? `vagrant up did not finish within ${ctx.timeouts.boot + 60}s` : `vagrant up failed: ${lastMeaningful(u.out)}`;
        throw new CellEnd('error', 'boot', why, undefined, facts);
      }
      await clock.end(true, `${box.name}@${box.version}`);

      // build: in the box, against its own headers (cached by box and driver tree)
      await clock.start('build');
      const driver = cell.driver === 'ebpf' ? 'ebpf' : cell.driver === 'kmod' ? 'kmod' : undefined;
      let artifact: string | undefined;
      let buildDetail: string | undefined;
      if (driver) {
        const buildLog = path.join(ctx.dir, 'build.log');
        facts.logs = { ...facts.logs, build: rel(buildLog) };
        const key = { box, driver, tree: fetched.tree.origin, treeHash: treeHash(fetched.tree.dir), script: boxBuildScript(driver) };
        let fresh = false;
        const out = await cached('box-builds', key, async (dir) => {
          fresh = true;
          const tarball = path.join(dir, 'tree.tar');
          await execa('tar', ['-c', '-f', tarball, '-C', fetched.tree.dir, '.']);
          await writeFile(path.join(dir, 'build.sh'), boxBuildScript(driver));
          const b = await vagrant(['ssh', '--no-tty', '-c', `sudo sh -c ${shq(boxBuildScript(driver))}`], { timeout: BOX_BUILD_TIMEOUT, stdin: tarball, log: path.join(dir, 'build.log') });
          await rm(tarball);
          // killed, timed out or no exit code: nothing is known of the driver, and nothing is cached
          ranToExit(b, 'the in-box build');
          const ok = b.exitCode === 0;
          if (ok) {
            const got = await vagrant(['ssh', '--no-tty', '-c', `sudo base64 -w0 ${ARTIFACT_IN_BOX[driver]}`], { timeout: 300, log: path.join(dir, 'fetch.log') });
            if (got.exitCode !== 0) throw new Error(`could not read the built driver back from the box: ${lastMeaningful(got.out)}`);
            const b64 = got.stdout.trim().split('\n').pop() ?? '';
            await writeFile(path.join(dir, path.basename(ARTIFACT_IN_BOX[driver])), Buffer.from(b64, 'base64'));
          }
          await writeFile(path.join(dir, 'result.json'), JSON.stringify({ ok }));
        }).catch((e: unknown) => {
          throw new CellEnd('error', 'build', `in-box build infrastructure failed: ${errorLine(e)}`, undefined, facts);
        });
        await copyFile(path.join(out, 'build.log'), buildLog);
        const ok = (JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as { ok: boolean }).ok;
        if (!ok) {
          const what = driver === 'kmod' ? 'kernel module' : 'eBPF probe';
          throw new CellEnd('fail', 'build', `the ${what} did not build in the box`, firstCompilerError(readFileSync(buildLog, 'utf8')) ?? 'build failed', facts);
        }
        artifact = path.join(out, path.basename(ARTIFACT_IN_BOX[driver]));
        buildDetail = fresh ? 'built in the box' : 'cached (built in the box)';
      }
      await clock.end(true, buildDetail);

      // load → capture: the guest init over vagrant ssh, chrooted into the consumer's image
      const reader = new GuestReader();
      const rootTar = await guestRootTar(plan, artifact && driver ? { [driver === 'kmod' ? moduleInGuest(plan.env.module) : ARTIFACT_IN_GUEST[driver]!]: artifact } : {});
      await clock.start('load');
      let steps = Promise.resolve();
      const budget = ctx.timeouts.load + ctx.timeouts.capture + 30;
      const r = await runLogged(session.inNetns(['vagrant', 'ssh', '--no-tty', '-c', `sudo sh -c ${shq(BOX_RUN_SCRIPT)}`]), {
        cwd: project,
        timeout: budget,
        stdin: rootTar,
        log: consoleLog,
        append: true,
        onLine: (line) => {
          const msg = reader.feed(line);
          if (!msg) return;
          steps = steps.then(async () => {
            if (msg.verb === 'insmod' && reader.report.insmod?.rc !== 0) await clock.end(false);
            else if (msg.verb === 'attached') {
              await clock.end(true);
              await clock.start('capture');
            }
          });
        },
      });
      await steps;
      await rm(path.dirname(rootTar), { recursive: true, force: true });
      const v = judge(reader.report, cell.driver, cell.consumer.kind, plan.nonce, { timedOut: r.timedOut, phase: clock.phase ?? 'load' }, judging(plan));
      if (!reader.report.boot) {
        // no facts from the box at all: ssh or the box failed, not the driver
        throw new CellEnd('error', 'load', `vagrant ssh ended without the guest's facts: ${lastMeaningful(r.out) || `exit ${r.exitCode}`}`, undefined, facts);
      }
      const rel2 = reader.report.boot.release;
      facts.kernel = { release: rel2, version: /^(\d+\.\d+\.\d+)/.exec(rel2)?.[1] ?? fetched.kernel.version };
      facts.evidence = evidenceOf(v);
      if (v.oops) facts.oops = v.oops;
      const at = clock.phase;
      if (at && at !== v.phase && PHASES.indexOf(v.phase) > PHASES.indexOf(at)) {
        await clock.end(true);
        await clock.start(v.phase);
      }
      // the phase ends here, as the runner would end it: destroying the box is not part of it
      await clock.end(v.status === 'pass', v.reason);
      return { verdict: v, report: reader.report, facts };
    } catch (e) {
      const end = e instanceof CellEnd ? e : new CellEnd('error', clock.phase ?? 'boot', `Vagrant infrastructure failed: ${errorLine(e)}`, undefined, facts);
      await clock.end(end.status === 'skip', end.reason);
      throw end;
    } finally {
      if (up && session && !this.aborted) {
        const d = await vagrant(['destroy', '-f', '--no-tty'], { timeout: DESTROY_TIMEOUT });
        if (d.exitCode !== 0) {
          // vagrant could not: libvirt removes the cell's domains and their volumes itself
          const names = (await session.virsh(['list', '--all', '--name'])).out.split('\n').map((x) => x.trim()).filter((x) => x.startsWith(`kmatrix-${process.pid}-`));
          for (const n of names) {
            await session.virsh(['destroy', n]);
            await session.virsh(['undefine', n, '--remove-all-storage']);
          }
        }
      }
    }
  }
}

/** Quote for sh -c. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The consumer's guest image as a tar for the box: the cached base archive
 * unpacked, with the init, cell.env (mode box: no poweroff at the end) and the
 * cell's files on top.
 */
async function guestRootTar(plan: GuestPlan, extra: Record<string, string>): Promise<string> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'kmatrix-box-'));
  const root = path.join(tmp, 'root');
  await mkdir(path.join(root, 'kmatrix'), { recursive: true });
  await execa('sh', ['-c', 'cd "$1" && cpio --quiet -i -d -m --no-absolute-filenames < "$2"', 'sh', root, plan.base.cpio]);
  await copyFile(guestInit(), path.join(root, 'init'));
  await chmod(path.join(root, 'init'), 0o755);
  await writeFile(path.join(root, 'kmatrix', 'cell.env'), cellEnvFile({ ...plan.env, mode: 'box' }));
  for (const [to, from] of Object.entries({ ...plan.files, ...extra })) {
    await mkdir(path.dirname(path.join(root, to)), { recursive: true });
    await copyFile(from, path.join(root, to));
  }
  const tar = path.join(tmp, 'root.tar');
  await execa('tar', ['-c', '-f', tar, '-C', root, '.']);
  await rm(root, { recursive: true, force: true });
  return tar;
}

interface Logged {
  /** None when it was killed (signal) or did not start. */
  exitCode?: number;
  signal?: string;
  cause?: unknown;
  timedOut: boolean;
  /** Everything printed (stdout and stderr). */
  out: string;
  stdout: string;
}

const running = new Set<ResultPromise>();
process.on('exit', () => running.forEach((p) => p.kill('SIGKILL')));

/** Run a command, its output appended to a log (and stdout lines to onLine), within a timeout. */
async function runLogged(
  cmd: string[],
  o: { cwd: string; timeout: number; stdin?: string; log: string; append?: boolean; onLine?: (line: string) => void },
): Promise<Logged> {
  await mkdir(path.dirname(o.log), { recursive: true });
  const log = createWriteStream(o.log, { flags: o.append === false ? 'w' : 'a' });
  log.write(`# ${cmd.join(' ')}\n`);
  const proc = execa(cmd[0]!, cmd.slice(1), {
    cwd: o.cwd,
    env: vagrantEnv(),
    reject: false,
    buffer: false,
    stdin: o.stdin ? { file: o.stdin } : 'ignore',
  });
  running.add(proc);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    log.write(`\n# kmatrix: timeout after ${o.timeout}s\n`);
    proc.kill('SIGKILL');
  }, o.timeout * 1000);
  let out = '';
  let stdout = '';
  const keep = (s: string) => (out.length < 1 << 20 ? (out += s) : out);
  const closed = (rl: ReturnType<typeof createInterface>) => new Promise<void>((resolve) => rl.on('close', resolve));
  const outLines = createInterface({ input: proc.stdout! });
  const errLines = createInterface({ input: proc.stderr! });
  const drained = Promise.all([closed(outLines), closed(errLines)]);
  outLines.on('line', (line) => {
    log.write(line + '\n');
    keep(line + '\n');
    if (stdout.length < 16 << 20) stdout += line + '\n';
    o.onLine?.(line);
  });
  errLines.on('line', (line) => {
    log.write(`# stderr: ${line}\n`);
    keep(line + '\n');
  });
  const r = await proc;
  await drained;
  clearTimeout(timer);
  running.delete(proc);
  await new Promise<void>((resolve) => log.end(resolve));
  return { exitCode: r.exitCode, signal: r.signal, cause: r.cause, timedOut, out, stdout };
}
