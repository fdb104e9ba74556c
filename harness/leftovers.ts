// VMs a run leaves behind. Every VM gets a pid file in its run directory
// (pids/<pid>: its start time and the harness's pid) for as long as it runs;
// QEMU also runs under `setpriv --pdeathsig KILL`. If the harness is killed
// with SIGKILL, the next run finds the pid files whose harness is gone and
// ends what is still running there — only if the pid still names the same
// process (same start time), never a reused pid.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or undefined if it is gone. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export interface PidRecord {
  pid: number;
  start: string;
  harness: number;
  harnessStart: string;
  what: string;
}

export async function writePidFile(dir: string, pid: number, what: string): Promise<string | undefined> {
  const start = processStart(pid);
  if (!start) return undefined;
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, String(pid));
  const rec: PidRecord = { pid, start, harness: process.pid, harnessStart: processStart(process.pid)!, what };
  // written beside pids/ and renamed in: a reader (the next run, a test) never sees it half written
  const tmp = path.join(dir, '..', `.pid-${pid}.tmp-${process.pid}`);
  await writeFile(tmp, JSON.stringify(rec) + '\n');
  await rename(tmp, file);
  return file;
}

/** End the leftover VMs of runs whose harness is gone; returns what was ended. */
export async function reapLeftovers(reportsDir: string): Promise<string[]> {
  const ended: string[] = [];
  if (!existsSync(reportsDir)) return ended;
  for (const run of readdirSync(reportsDir)) {
    const dir = path.join(reportsDir, run, 'pids');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      let rec: PidRecord;
      try {
        rec = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as PidRecord;
      } catch {
        await rm(path.join(dir, f), { force: true });
        continue;
      }
      if (processStart(rec.harness) === rec.harnessStart) continue; // its harness still runs: not ours to end
      if (processStart(rec.pid) === rec.start) {
        try {
          process.kill(rec.pid, 'SIGKILL');
          ended.push(`${run}: pid ${rec.pid} (${rec.what})`);
        } catch {
          /* gone meanwhile */
        }
      }
      await rm(path.join(dir, f), { force: true });
    }
  }
  return ended;
}
