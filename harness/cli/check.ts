// `kmatrix check`: which Falco driver works on one kernel (harness/check.ts),
// run like `kmatrix run` (its run directory under reports/, the same runner).
import { CommanderError, type Command } from 'commander';
import path from 'node:path';
import { writeFileAtomic } from '../atomic.js';
import { answerText, checkAnswer, checkCells, checkFragment, checkKernel, sourceOf, type CheckKernelOptions } from '../check.js';
import { UserError } from '../errors.js';
import { requireTools } from '../host.js';
import { abortOnSignals } from '../interrupt.js';
import { importKernels } from '../kernels/store.js';
import { loadMatrix } from '../matrix.js';
import { writeReport } from '../reports/index.js';
import { resultsWriter } from '../results.js';
import { runCells } from '../run.js';
import { terminalUi } from '../ui.js';

interface CheckFlags extends CheckKernelOptions {
  document?: boolean;
  profile: string[];
  driver: string[];
  json?: boolean;
  jobs: number;
}

const collect = (v: string, all: string[]) => [...all, v];

export function checkCommand(program: Command, positive: (v: string) => number): void {
  const check = program
    .command('check')
    .description("which Falco driver works on one kernel: today's Falco's drivers (and with --document the document's) built, loaded and judged on it under each profile")
    .argument('[packages...]', "the kernel's package files (.deb or .rpm: image, headers, modules), imported into the kernel store")
    .option('--apt <url>', 'an apt repository (Debian/Ubuntu layout)')
    .option('--suite <suite>', 'its suite, e.g. noble-updates')
    .option('--component <component>', 'its component (default main)')
    .option('--key <keyring>', 'the keyring file the repository is signed with')
    .option('--release <release>', "the kernel: its uname -r (apt) or its package's version (yum)")
    .option('--flavour <flavour>', "apt: the newest kernel of a flavour (linux-image-<flavour>), e.g. azure")
    .option('--yum <url>', 'a yum repository (repeatable: pooled, e.g. BaseOS and AppStream)', (v: string, all?: string[]) => [...(all ?? []), v])
    .option('--mirrorlist <url>', 'a yum repository named by a mirror list')
    .option('--newest <package>', 'yum: the newest version of a package, e.g. kernel')
    .option('--arch <arch>', 'the kernel\'s arch for a repository (amd64, arm64, armhf; default amd64)')
    .option('--machine <machine>', 'the machine that boots it (default: the QEMU machine of its arch)')
    .option('--document', "the document's drivers too (matrix.yaml document:)")
    .option('--profile <id>', 'only this profile (repeatable; default every profile of the matrix)', collect, [])
    .option('--driver <id>', 'only this driver (repeatable)', collect, [])
    .option('-j, --jobs <n>', 'cells in parallel', positive, 2)
    .option('--json', 'print the answer as JSON')
    .action(async (files: string[], o: CheckFlags) => {
      // the options first: a wrong command line is answered before anything is read
      const repo = checkFragment(o, files);
      const m = loadMatrix(program.opts().matrix);
      let kernel;
      if (repo) {
        kernel = checkKernel(sourceOf(repo.kind, repo.fragment), o.arch, o.machine, String(repo.fragment.release ?? repo.fragment.flavour ?? repo.fragment.newest));
      } else {
        const { imported } = await importKernels(files);
        if (imported.length !== 1)
          throw new UserError(`kmatrix check: the packages hold ${imported.length} kernels (${imported.map((e) => `${e.release} ${e.arch}`).join(', ')}): give the packages of one.`);
        const e = imported[0]!;
        if (o.arch && o.arch !== e.arch) throw new UserError(`kmatrix check: --arch ${o.arch}, but the packages are ${e.arch}'s.`);
        kernel = checkKernel(sourceOf('store', { release: e.release, arch: e.arch }), e.arch, o.machine, e.release);
      }
      const { cells, era } = checkCells(m, kernel, { document: o.document, profiles: o.profile, drivers: o.driver });
      await requireTools([kernel.machine]);
      const reports = path.resolve(program.opts().reports);
      const signal = abortOnSignals((sig) => console.error(`\n${sig}: stopping the check's VMs and builds`));
      let html = '';
      const { run, results } = await runCells({ matrix: m, cells, reportsDir: reports, jobs: o.jobs, signal }, [
        terminalUi({ reportsDir: reports }),
        resultsWriter(reports, { onEnd: async (file, runDir) => void (html = await writeReport(file, runDir)) }),
      ]);
      const answer = checkAnswer(results, era);
      const runDir = path.join(reports, run.id);
      await writeFileAtomic(path.join(runDir, 'check.json'), JSON.stringify(answer, null, 2) + '\n');
      if (o.json) console.log(JSON.stringify({ ...answer, run: path.relative(process.cwd(), runDir) || runDir }, null, 2));
      else console.log(`${answerText(answer, m.today?.falco)}\nreport: ${path.relative(process.cwd(), html)} (the answer: ${path.relative(process.cwd(), path.join(runDir, 'check.json'))})`);
      process.exitCode = run.interrupted ? 130 : answer.answers.some((a) => a.use) ? 0 : 1;
    });
  // bad flags are bad input: one paragraph from kmatrix, not commander's own exit
  check.configureOutput({ outputError: () => undefined });
  check.exitOverride((e: CommanderError) => {
    if (e.exitCode === 0) process.exit(0);
    throw new UserError(`kmatrix check: ${e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').replace(/\.$/, '')}. See kmatrix check --help.`);
  });
}
