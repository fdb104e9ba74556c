// Child processes a suite starts (the CLI, the nightly glue, a nested build or
// test run). A hook or test that times out leaves them running — mocha only
// stops waiting — so `after` ends them, with everything they started (the
// harness's builds, apt, QEMU), and waits until they are gone before it removes
// the directories they work in.
import { execa, type Options, type ResultPromise } from 'execa';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

interface Proc {
  pid: number;
  ppid: number;
  /** start time in clock ticks since boot: a pid is the same process only with the same start */
  start: string;
}

/** Every live (not zombie) process, from /proc. */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] !== 'Z') out.push({ pid: Number(d), ppid: Number(f[1]), start: f[19]! });
    } catch {
      /* gone */
    }
  }
  return out;
}

const key = (p: Proc) => `${p.pid}@${p.start}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Children {
  readonly #started: { pid: number; running: boolean; done: Promise<unknown> }[] = [];
  #ended = false;

  /** execa(file, args, options), remembered for endAll(). */
  start<O extends Options = {}>(file: string, args: readonly string[], options?: O): ResultPromise<{} & O> {
    if (this.#ended) throw new Error(`not starting ${file} ${args.join(' ')}: this suite's processes were ended (a hook or test timed out)`);
    const p = execa(file, args, options);
    if (p.pid === undefined) return p;
    const child = { pid: p.pid, running: true, done: p.then(() => undefined, () => undefined) };
    (p as unknown as ChildProcess).once('exit', () => (child.running = false));
    this.#started.push(child);
    return p;
  }

  /**
   * End the processes started here that still run, and all their descendants
   * (found before any of them dies: an orphan is still tracked): SIGTERM (the
   * CLI then ends its VMs and builds and writes what finished), SIGKILL after
   * `graceMs`. Resolves once none of them is left. Nothing starts afterwards.
   */
  async endAll(graceMs = 30_000): Promise<void> {
    this.#ended = true;
    const tracked = new Map<string, Proc>();
    const roots = new Set(this.#started.filter((s) => s.running).map((s) => s.pid));
    /** Adds the live descendants of what is tracked (and the roots); returns what is still alive. */
    const refresh = (): Proc[] => {
      const all = processes();
      const alive = new Set(all.map(key));
      for (const [k] of tracked) if (!alive.has(k)) tracked.delete(k);
      for (let grew = true; grew; ) {
        grew = false;
        for (const p of all)
          if (!tracked.has(key(p)) && (roots.has(p.pid) || [...tracked.values()].some((t) => t.pid === p.ppid))) (tracked.set(key(p), p), (grew = true));
      }
      roots.clear(); // from now on by pid and start time only
      return [...tracked.values()];
    };
    const signal = (sig: NodeJS.Signals) =>
      refresh().forEach((p) => {
        try {
          process.kill(p.pid, sig);
        } catch {
          /* gone */
        }
      });
    signal('SIGTERM');
    for (const [sig, ms] of [['SIGKILL', graceMs], [undefined, 10_000]] as const) {
      for (const t0 = Date.now(); refresh().length && Date.now() - t0 < ms; ) await sleep(200);
      if (sig) signal(sig);
    }
    const left = refresh();
    if (left.length) throw new Error(`processes left after SIGKILL: ${left.map((p) => p.pid).join(' ')}`);
    await Promise.all(this.#started.map((s) => s.done));
  }
}
