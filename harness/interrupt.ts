// Interruption: SIGINT/SIGTERM stop the run (no new cells, every VM and
// process tree of the harness ended, what finished written); a second signal
// leaves at once.
import { readdirSync, readFileSync } from 'node:fs';
import { stopAllVms } from './machines.js';

/** Every process below `root` (children first found, then theirs), from /proc. */
export function descendants(root = process.pid): number[] {
  const parent = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(ppid, [...(parent.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => (parent.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(root);
  return out;
}

/** End every VM and every process the harness started (builds, apt, mmdebstrap). */
export function endEverything(): void {
  stopAllVms();
  for (const pid of descendants()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** An AbortSignal raised by the first SIGINT/SIGTERM; the second one exits at once. */
export function abortOnSignals(onFirst: (sig: string) => void): AbortSignal {
  const ac = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (ac.signal.aborted) {
        endEverything();
        process.exit(130);
      }
      onFirst(sig);
      ac.abort(sig);
    });
  return ac.signal;
}
