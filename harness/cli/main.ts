// The kmatrix command line: list, run (--shell), merge, explain, report, cache, doctor, kernel, images.
import { Command, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { setCacheDir, cacheDir } from '../cache/cache.js';
import { isUserError, UserError } from '../errors.js';
import { imagesCommands } from './images.js';
import { checkTools, installCommand, requireTools } from '../host.js';
import { filterCells, loadMatrix } from '../matrix.js';
import { publish, writeReport } from '../reports/index.js';
import { progressiveReport } from '../reports/progress.js';
import { benchOverhead, matrixVerdicts, readResults, resultsWriter, resumeState, type ResumeState } from '../results.js';
import { cacheSizes, pruneCache, prunePlan } from '../cache/usage.js';
import { abortOnSignals } from '../interrupt.js';
import { autoJobs } from '../scheduler.js';
import { runCells, kmatrixVersion } from '../run.js';
import { terminalUi } from '../ui.js';
import { existsSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic.js';
import { checkExpectations, exitCodeFor, knownFailures, loadExpectations, mismatchLines } from '../ci/expectations.js';
import { explainCell } from './explain.js';
import { mergeShards } from '../ci/merge.js';
import { expectedCost, parseShard, selectionOf, shardCells } from '../ci/shard.js';
import { shellCell } from './shell.js';
import { platformLine } from '../verdicts.js';
import { kernelCommands } from './kernels.js';
import { checkCommand } from './check.js';
import { planLines, planRun } from './plan.js';
import type { Matrix } from '../matrix.js';
import type { Cell, CellResult } from '../types.js';

interface RunFlags {
  cell: string[];
  jobs: number | 'auto';
  resume?: string;
  attempts: number;
  shard?: string;
  runId?: string;
  previous: string;
  expectations?: string;
  shell?: boolean;
}

/** Exactly one cell of the matrix (for --shell and explain). */
function oneCell(m: Matrix, patterns: string[]): Cell {
  const cells = filterCells(m.cells, patterns);
  if (cells.length !== 1)
    throw new UserError(`Expected exactly one cell, ${patterns.join(', ') || '(none given)'} matches ${cells.length}${cells.length ? `: ${cells.slice(0, 5).map((c) => c.id).join(', ')}${cells.length > 5 ? ', …' : ''}` : ''}. Give one cell id (see \`kmatrix list\`).`);
  return cells[0]!;
}

/** The previous run's cells (durations, statuses), if that file exists. */
function readPrevious(file: string): CellResult[] {
  return file && existsSync(file) ? readResults(file).cells : [];
}

const expectationsFile = (m: Matrix, file: string | undefined) => file ?? path.join(path.dirname(m.file), 'expectations.yaml');

/** The expectations, checked against every cell of the matrix (controls too). */
const expectationsOf = (m: Matrix, file: string | undefined) => loadExpectations(expectationsFile(m, file), m.cells.map((c) => c.id), path.relative(process.cwd(), m.file) || m.file);

/** Check a run against expectations.yaml; print what does not match; the exit code. */
function judgeRun(m: Matrix, file: string | undefined, results: CellResult[], previous: CellResult[]): number {
  const f = expectationsFile(m, file);
  const mismatches = checkExpectations(results, expectationsOf(m, file), previous);
  for (const l of mismatchLines(mismatches)) console.log(l);
  if (mismatches.length) console.log(`${mismatches.length} cell(s) do not match ${path.relative(process.cwd(), f)}`);
  return exitCodeFor(mismatches, results);
}

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
    .description('run the matrix (or one cell, or the cells matching --cell) and write reports/<run-id>/')
    .argument('[cell-id]', 'one cell id or glob (same as --cell)')
    .option('-c, --cell <glob>', 'cell id or glob (repeatable)', collect, [])
    .option('-j, --jobs <n|auto>', 'cells in parallel ("auto": from cores and memory)', jobsOption, 2)
    .option('--attempts <n>', 'attempts for a cell ending in an infrastructure error', positive, 2)
    .option('--resume <run-id>', 'run only the cells of that run missing from its results.jsonl')
    .option('--shard <i/N>', 'run only shard i of N (deterministic, balanced by the previous run\'s durations)')
    .option('--run-id <id>', 'run id (shards of one run share it)')
    .option('--previous <results.json>', 'the previous run (durations for --shard and the ETA; regressions)', '')
    .option('--expectations <file>', 'cells known to fail (default: expectations.yaml beside the matrix)')
    .option('--shell', 'boot the cell with its driver built and loaded, and give a shell on its serial console')
    .action(async (id: string | undefined, o: RunFlags) => {
      const reports = path.resolve(program.opts().reports);
      const resume = o.resume ? await resumeState(reports, o.resume) : undefined;
      const m = loadMatrix(resume && !program.getOptionValueSource('matrix')?.startsWith('cli') ? resume.run.matrix.path : program.opts().matrix);
      const patterns = [...(id ? [id] : []), ...o.cell];
      if (o.shell) {
        const cell = oneCell(m, patterns);
        await requireTools([cell.kernel.machine], [cell.kernel.source.kind]);
        process.exitCode = await shellCell(m, cell);
        return;
      }
      // a bad expectations.yaml stops the run before it starts, not after hours of it
      const expectations = expectationsOf(m, o.expectations);
      let cells = resume ? missingCells(m.cells, resume) : filterCells(m.cells, patterns);
      const shard = o.shard ? parseShard(o.shard) : undefined;
      // shards split by the same inputs on every job: only an explicit --previous, never this machine's latest run
      const previous = readPrevious(o.previous || (shard ? '' : path.join(reports, 'latest', 'results.json')));
      const selection = selectionOf(cells);
      if (shard) {
        cells = shardCells(cells, shard, expectedCost(previous));
        console.log(`shard ${shard.index}/${shard.total}: ${cells.length} cell(s)`);
      }
      await requireTools([...new Set(cells.map((c) => c.kernel.machine))], [...new Set(cells.map((c) => c.kernel.source.kind))]);
      const jobs = o.jobs === 'auto' ? autoJobs(cells) : o.jobs;
      // early answers: cheap cells first, one per platform row and claim, the heavy builds in a background slot
      const { plan, estimates } = planRun(m, cells);
      if (resume) console.error(`resuming ${resume.run.id}: ${resume.previous.length} cell(s) finished, ${cells.length} to run`);
      const signal = abortOnSignals((sig) => console.error(`\n${sig}: stopping — no new cells; ending the running VMs and builds; writing what finished (again to leave at once)`));
      let html = '';
      const verdicts = matrixVerdicts(m, benchOverhead(reports));
      const { run, results } = await runCells(
        {
          matrix: m, cells, reportsDir: reports, jobs, attempts: o.attempts, signal, resume, plan,
          knownFailure: knownFailures(expectations),
          ...(o.runId ? { runId: o.runId } : {}),
          ...(shard ? { shard: { ...shard, cells: cells.map((c) => c.id), of: selection } } : {}),
        },
        [
          terminalUi({ previous, reportsDir: reports, jobs, builds: { estimates, gated: plan.builds.flatMap((b) => b.cells.map((c) => c.id)) } }),
          // before the results writer: it stops rewriting the page before the final one is written
          progressiveReport(reports, { verdicts, previous, ...(resume ? { resumed: resume.previous } : {}) }),
          resultsWriter(reports, {
            verdicts,
            onEnd: async (file, runDir) => {
              html = await writeReport(file, runDir);
            },
          }),
        ],
      );
      // the rows this run had cells for (under the row's profile, on the kernels it was judged on)
      const rows = (matrixVerdicts(m, benchOverhead(reports))?.(results)?.platforms ?? []).filter((v) => results.some((r) => r.profile === v.profile && v.kernels.includes(r.kernel.id)));
      for (const v of rows) console.log(`  ${platformLine(v)}`);
      console.log(`report: ${path.relative(process.cwd(), html)} (also mochawesome.html, junit.xml; ${path.relative(process.cwd(), path.join(reports, 'latest'))} points at it)`);
      if (run.interrupted) {
        console.error(`interrupted: ${results.length} cell(s) recorded; finish with: kmatrix run --resume ${run.id}`);
        process.exitCode = 130;
      } else if (shard) {
        // a shard's cells are judged against the expectations once merged
        process.exitCode = results.some((r) => r.status === 'error') ? 3 : 0;
      } else process.exitCode = judgeRun(m, o.expectations, results, previous);
    });

  program
    .command('merge')
    .description('join the results of a sharded run\'s shards into one run (no cell lost or duplicated; conflicts refused)')
    .argument('<shard-dirs...>', 'shard run directories (each with results.json and cells/)')
    .option('-o, --out <dir>', 'the merged run directory (default reports/<run-id>)')
    .option('--previous <results.json>', 'the previous run (regressions)', '')
    .option('--expectations <file>', 'cells known to fail (default: expectations.yaml beside the matrix)')
    .action(async (dirs: string[], o: { out?: string; previous: string; expectations?: string }) => {
      const m = loadMatrix(program.opts().matrix);
      const shards = dirs.map((d) => ({ source: d, file: readResults(path.join(d, 'results.json')) }));
      const merged = mergeShards(shards);
      const reports = path.resolve(program.opts().reports);
      const out = path.resolve(o.out ?? path.join(reports, merged.run.id));
      await mkdir(out, { recursive: true });
      for (const d of dirs) if (existsSync(path.join(d, 'cells'))) await cp(path.join(d, 'cells'), path.join(out, 'cells'), { recursive: true, dereference: true });
      const file = { run: merged.run, cells: merged.cells, verdicts: matrixVerdicts(m, benchOverhead(reports))?.(merged.cells) };
      await writeFileAtomic(path.join(out, 'results.json'), JSON.stringify(file, null, 2) + '\n');
      const html = await writeReport(file, out);
      console.log(`merged ${shards.length} shard(s), ${merged.cells.length} cell(s) → ${path.relative(process.cwd(), html)}`);
      process.exitCode = judgeRun(m, o.expectations, merged.cells, readPrevious(o.previous));
    });

  program
    .command('plan')
    .description('the order a run would take (early answers: cheap cells first, one per platform row and claim; heavy builds in the background) and when each row and claim gets its first cell, simulated — without running anything')
    .option('-c, --cell <glob>', 'cell id or glob (repeatable)', collect, [])
    .option('-j, --jobs <n>', 'cells in parallel', positive, 2)
    .option('--cold', 'as on an empty cache (times still from produced.log where it has them)')
    .option('--previous <results.json>', 'the previous run (its durations for the VMs)', '')
    .action((o: { cell: string[]; jobs: number; cold?: boolean; previous: string }) => {
      const m = loadMatrix(program.opts().matrix);
      const reports = path.resolve(program.opts().reports);
      const previous = readPrevious(o.previous || path.join(reports, 'latest', 'results.json'));
      for (const l of planLines(m, filterCells(m.cells, o.cell), { jobs: o.jobs, cold: Boolean(o.cold), previous })) console.log(l);
    });

  program
    .command('explain')
    .description('what a cell would run — kernel packages, builder, driver build, QEMU command line, guest steps — without running it')
    .argument('<cell-id>', 'one cell id')
    .action(async (id: string) => {
      const m = loadMatrix(program.opts().matrix);
      console.log(await explainCell(m, oneCell(m, [id])));
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
      const left = o.dryRun ? [] : await pruneCache(plan);
      for (const e of left) console.log(`left ${e}: another kmatrix process holds or uses it`);
      const after = (await cacheSizes()).reduce((a, k) => a + k.bytes, 0);
      console.log(`${plan.remove.length - left.length} removed${o.dryRun ? ' (dry run)' : ''}, ${plan.keep} kept (used by the last ${plan.keepRuns.length} run(s)); ${humanBytes(before)} → ${humanBytes(after)}`);
    });

  program
    .command('report')
    .description('rebuild a run\'s reports from its results.json; --publish adds it to a static site with history')
    .argument('[run-dir]', 'a run directory', 'reports/latest')
    .option('--publish <site-dir>', 'add the run to the site in this directory (runs/<id>/, history.json, index.html)')
    .action(async (dir: string, o: { publish?: string }) => {
      if (o.publish) {
        const { index, history } = await publish(dir, o.publish);
        console.log(`${index} (${history.runs.length} run(s) published)`);
        return;
      }
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

  // kmatrix images build-box (harness/images/cli.ts)
  imagesCommands(program);
  // kmatrix kernel import|list|rm (harness/kernels/cli.ts)
  kernelCommands(program);
  // kmatrix check: which driver works on one kernel (harness/cli/check.ts)
  checkCommand(program, positive);

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
