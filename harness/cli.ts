// The kmatrix command line: list, run, report, doctor.
import { Command, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { setCacheDir, cacheDir } from './cache.js';
import { isUserError } from './errors.js';
import { checkTools, installCommand, requireTools } from './host.js';
import { filterCells, loadMatrix } from './matrix.js';
import { publish, writeReport } from './reports/index.js';
import { matrixVerdicts, readResults, resultsWriter } from './results.js';
import { runCells, kmatrixVersion } from './run.js';
import { terminalUi } from './ui.js';
import { existsSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { UserError } from './errors.js';
import { checkExpectations, exitCodeFor, loadExpectations, mismatchLines } from './expectations.js';
import { explainCell } from './explain.js';
import { mergeShards } from './merge.js';
import { expectedCost, parseShard, shardCells } from './shard.js';
import { shellCell } from './shell.js';
import type { Matrix } from './matrix.js';
import type { Cell, CellResult } from './types.js';

interface RunFlags {
  cell: string[];
  jobs: number;
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

/** Check a run against expectations.yaml; print what does not match; the exit code. */
function judgeRun(m: Matrix, file: string | undefined, results: CellResult[], previous: CellResult[]): number {
  const f = file ?? path.join(path.dirname(m.file), 'expectations.yaml');
  const mismatches = checkExpectations(results, loadExpectations(f), previous);
  for (const l of mismatchLines(mismatches)) console.log(l);
  if (mismatches.length) console.log(`${mismatches.length} cell(s) do not match ${path.relative(process.cwd(), f)}`);
  return exitCodeFor(mismatches, results);
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
    .option('-j, --jobs <n>', 'cells in parallel', positive, 2)
    .option('--attempts <n>', 'attempts for a cell ending in an infrastructure error', positive, 2)
    .option('--shard <i/N>', 'run only shard i of N (deterministic, balanced by the previous run\'s durations)')
    .option('--run-id <id>', 'run id (shards of one run share it)')
    .option('--previous <results.json>', 'the previous run (durations for --shard and the ETA; regressions)', '')
    .option('--expectations <file>', 'cells known to fail (default: expectations.yaml beside the matrix)')
    .option('--shell', 'boot the cell with its driver built and loaded, and give a shell on its serial console')
    .action(async (id: string | undefined, o: RunFlags) => {
      const m = loadMatrix(program.opts().matrix);
      const patterns = [...(id ? [id] : []), ...o.cell];
      if (o.shell) {
        const cell = oneCell(m, patterns);
        await requireTools([cell.kernel.machine]);
        process.exitCode = await shellCell(m, cell);
        return;
      }
      let cells = filterCells(m.cells, patterns);
      const reports = path.resolve(program.opts().reports);
      const previous = readPrevious(o.previous || path.join(reports, 'latest', 'results.json'));
      const shard = o.shard ? parseShard(o.shard) : undefined;
      if (shard) {
        cells = shardCells(cells, shard, expectedCost(previous));
        console.log(`shard ${shard.index}/${shard.total}: ${cells.length} cell(s)`);
      }
      await requireTools([...new Set(cells.map((c) => c.kernel.machine))]);
      let html = '';
      const { results } = await runCells(
        {
          matrix: m, cells, reportsDir: reports, jobs: o.jobs, attempts: o.attempts,
          ...(o.runId ? { runId: o.runId } : {}),
          ...(shard ? { shard: { ...shard, cells: cells.map((c) => c.id) } } : {}),
        },
        [
          terminalUi({ previous, reportsDir: reports }),
          resultsWriter(reports, {
            verdicts: matrixVerdicts(m),
            onEnd: async (file, runDir) => {
              html = await writeReport(file, runDir);
            },
          }),
        ],
      );
      console.log(`report: ${path.relative(process.cwd(), html)} (also mochawesome.html, junit.xml; ${path.relative(process.cwd(), path.join(reports, 'latest'))} points at it)`);
      // a shard's cells are judged against the expectations once merged
      process.exitCode = shard ? (results.some((r) => r.status === 'error') ? 3 : 0) : judgeRun(m, o.expectations, results, previous);
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
      const file = { run: merged.run, cells: merged.cells, verdicts: matrixVerdicts(m)?.(merged.cells) };
      await writeFile(path.join(out, 'results.json'), JSON.stringify(file, null, 2) + '\n');
      const html = await writeReport(file, out);
      console.log(`merged ${shards.length} shard(s), ${merged.cells.length} cell(s) → ${path.relative(process.cwd(), html)}`);
      process.exitCode = judgeRun(m, o.expectations, merged.cells, readPrevious(o.previous));
    });

  program
    .command('explain')
    .description('what a cell would run — kernel packages, builder, driver build, QEMU command line, guest steps — without running it')
    .argument('<cell-id>', 'one cell id')
    .action(async (id: string) => {
      const m = loadMatrix(program.opts().matrix);
      console.log(await explainCell(m, oneCell(m, [id])));
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
