// The kmatrix command line: list, run, report, doctor, kernel.
import { Command, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { setCacheDir, cacheDir } from './cache.js';
import { isUserError } from './errors.js';
import { checkTools, installCommand, requireTools } from './host.js';
import { filterCells, loadMatrix } from './matrix.js';
import { writeReport } from './report.js';
import { benchOverhead, matrixVerdicts, readResults, resultsWriter, resumeState, type ResumeState } from './results.js';
import { cacheSizes, pruneCache, prunePlan } from './cache-usage.js';
import { abortOnSignals } from './interrupt.js';
import { autoJobs } from './scheduler.js';
import { UserError } from './errors.js';
import type { Cell } from './types.js';
import { runCells, kmatrixVersion } from './run.js';
import { terminalUi } from './ui.js';
import { existsSync } from 'node:fs';
import { kernelCommands } from './kernels/cli.js';

function jobsOption(v: string): number | 'auto' {
  return v === 'auto' ? 'auto' : positive(v);
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

const collect = (v: string, all: string[]) => [...all, v];

export async function main(argv: string[]): Promise<void> {
  const program = new Command('kmatrix')
    .description('Kernel-matrix integration tests for the Falco drivers')
    .version(await kmatrixVersion())
    .option('-m, --matrix <file>', 'matrix file', 'matrix.yaml')
    .option('--cache-dir <dir>', 'cache directory (default $XDG_CACHE_HOME/kmatrix)')
    .option('--reports <dir>', 'reports directory', 'reports')
    .hook('preAction', (cmd) => setCacheDir(cmd.opts().cacheDir));

  program
    .command('list')
    .description('list cell ids (optionally filtered by --cell globs)')
    .option('-c, --cell <glob>', 'cell id or glob (repeatable)', collect, [])
    .action((o: { cell: string[] }) => {
      const m = loadMatrix(program.opts().matrix);
      for (const c of filterCells(m.cells, o.cell)) console.log(c.id);
    });

  program
    .command('run')
    .description('run the matrix (or the cells matching --cell) and write reports/<run-id>/')
    .option('-c, --cell <glob>', 'cell id or glob (repeatable)', collect, [])
    .option('-j, --jobs <n|auto>', 'cells in parallel ("auto": from cores and memory)', jobsOption, 2)
    .option('--attempts <n>', 'attempts for a cell ending in an infrastructure error', positive, 2)
    .option('--resume <run-id>', 'run only the cells of that run missing from its results.jsonl')
    .action(async (o: { cell: string[]; jobs: number | 'auto'; attempts: number; resume?: string }) => {
      const reports = path.resolve(program.opts().reports);
      const resume = o.resume ? await resumeState(reports, o.resume) : undefined;
      const m = loadMatrix(resume && !program.getOptionValueSource('matrix')?.startsWith('cli') ? resume.run.matrix.path : program.opts().matrix);
      const cells = resume ? missingCells(m.cells, resume) : filterCells(m.cells, o.cell);
      await requireTools([...new Set(cells.map((c) => c.kernel.machine))]);
      const jobs = o.jobs === 'auto' ? autoJobs(cells) : o.jobs;
      if (resume) console.error(`resuming ${resume.run.id}: ${resume.previous.length} cell(s) finished, ${cells.length} to run`);
      const signal = abortOnSignals((sig) => console.error(`\n${sig}: stopping — no new cells; ending the running VMs and builds; writing what finished (again to leave at once)`));
      let html = '';
      const { run, results } = await runCells({ matrix: m, cells, reportsDir: reports, jobs, attempts: o.attempts, signal, resume }, [
        terminalUi(),
        resultsWriter(reports, {
          verdicts: matrixVerdicts(m, benchOverhead(reports)),
          onEnd: async (file, runDir) => {
            html = await writeReport(file, runDir);
          },
        }),
      ]);
      console.log(`report: ${path.relative(process.cwd(), html)} (also ${path.relative(process.cwd(), path.join(reports, 'latest', 'index.html'))})`);
      if (run.interrupted) {
        console.error(`interrupted: ${results.length} cell(s) recorded; finish with: kmatrix run --resume ${run.id}`);
        process.exitCode = 130;
      } else if (results.some((r) => r.status === 'error')) process.exitCode = 3;
    });

  const cache = program.command('cache').description('the cache: its size by kind (`cache prune` removes what no recent run used)');
  cache.action(async () => {
    const sizes = await cacheSizes();
    console.log(`cache ${cacheDir()}`);
    for (const k of sizes) console.log(`${humanBytes(k.bytes).padStart(9)}  ${k.kind.padEnd(12)} ${k.entries} entr${k.entries === 1 ? 'y' : 'ies'}`);
    console.log(`${humanBytes(sizes.reduce((a, k) => a + k.bytes, 0)).padStart(9)}  total`);
  });
  cache
    .command('prune')
    .description('remove cache entries no run among the last N used (each run records what it used), and half-made entries of dead processes')
    .option('--keep-runs <n>', 'an entry is current if one of the last N runs used it', positive, 5)
    .option('-n, --dry-run', 'only list what would be removed')
    .action(async (o: { keepRuns: number; dryRun?: boolean }) => {
      const plan = prunePlan(o.keepRuns);
      const before = (await cacheSizes()).reduce((a, k) => a + k.bytes, 0);
      for (const e of plan.remove) console.log(`${o.dryRun ? 'would remove' : 'remove'} ${e}`);
      if (!o.dryRun) await pruneCache(plan);
      const after = (await cacheSizes()).reduce((a, k) => a + k.bytes, 0);
      console.log(`${plan.remove.length} removed${o.dryRun ? ' (dry run)' : ''}, ${plan.keep} kept (used by the last ${plan.keepRuns.length} run(s)); ${humanBytes(before)} → ${humanBytes(after)}`);
    });

  program
    .command('report')
    .description('rebuild the HTML report of a run from its results.json')
    .argument('[run-dir]', 'a run directory', 'reports/latest')
    .action(async (dir: string) => {
      const data = readResults(path.join(dir, 'results.json'));
      console.log(await writeReport(data, dir));
    });

  program
    .command('doctor')
    .description('check host tools and acceleration; print the install command for what is missing')
    .action(async () => {
      const checks = await checkTools();
      for (const t of checks) console.log(`${t.ok ? 'ok     ' : 'MISSING'} ${t.command.padEnd(20)} ${t.package.padEnd(16)} ${t.why}`);
      console.log(`kvm     ${existsSync('/dev/kvm') ? '/dev/kvm present: used only if a probe boot succeeds (else TCG)' : 'no /dev/kvm: TCG emulation'}`);
      console.log(`cache   ${cacheDir()}`);
      const missing = checks.filter((t) => !t.ok);
      if (missing.length) {
        console.log(`\nInstall what is missing (as root):\n  ${installCommand(missing)}`);
        process.exitCode = 1;
      }
    });

  // kmatrix kernel import|list|rm (harness/kernels/cli.ts)
  kernelCommands(program);

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (isUserError(e)) {
      console.error(`kmatrix: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** The cells of a run being resumed that have no result yet. */
function missingCells(all: Cell[], r: ResumeState): Cell[] {
  const byId = new Map(all.map((c) => [c.id, c]));
  const unknown = r.cells.filter((id) => !byId.has(id));
  if (unknown.length)
    throw new UserError(`Cannot resume run ${r.run.id}: the matrix (${r.run.matrix.path}) no longer has ${unknown.length} of its cells (${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ', …' : ''}). Resume with the matrix it ran (--matrix), or start a new run.`);
  const done = new Set(r.previous.map((c) => c.id));
  return r.cells.filter((id) => !done.has(id)).map((id) => byId.get(id)!);
}
