// The kmatrix command line: list, run, report, doctor, kernel.
import { Command, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { setCacheDir, cacheDir } from './cache.js';
import { isUserError } from './errors.js';
import { checkTools, installCommand, requireTools } from './host.js';
import { filterCells, loadMatrix } from './matrix.js';
import { writeReport } from './report.js';
import { matrixVerdicts, readResults, resultsWriter } from './results.js';
import { runCells, kmatrixVersion } from './run.js';
import { terminalUi } from './ui.js';
import { existsSync } from 'node:fs';
import { kernelCommands } from './kernels/cli.js';

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
    .option('-j, --jobs <n>', 'cells in parallel', positive, 2)
    .option('--attempts <n>', 'attempts for a cell ending in an infrastructure error', positive, 2)
    .action(async (o: { cell: string[]; jobs: number; attempts: number }) => {
      const m = loadMatrix(program.opts().matrix);
      const cells = filterCells(m.cells, o.cell);
      await requireTools([...new Set(cells.map((c) => c.kernel.machine))]);
      const reports = path.resolve(program.opts().reports);
      let html = '';
      const { results } = await runCells({ matrix: m, cells, reportsDir: reports, jobs: o.jobs, attempts: o.attempts }, [
        terminalUi(),
        resultsWriter(reports, {
          verdicts: matrixVerdicts(m),
          onEnd: async (file, runDir) => {
            html = await writeReport(file, runDir);
          },
        }),
      ]);
      console.log(`report: ${path.relative(process.cwd(), html)} (also ${path.relative(process.cwd(), path.join(reports, 'latest', 'index.html'))})`);
      if (results.some((r) => r.status === 'error')) process.exitCode = 3;
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
