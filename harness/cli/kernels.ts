// `kmatrix kernel import|list|rm`: the kernel store from the command line.
import type { Command } from 'commander';
import path from 'node:path';
import { UserError } from '../errors.js';
import { importKernels, listStore, removeFromStore, storeDir } from '../kernels/store.js';

export function kernelCommands(program: Command): void {
  const kernel = program.command('kernel').description('the kernel store: kernels given as packages (e.g. `make bindeb-pkg` output), named in matrix.yaml as store: { release }');
  kernel
    .command('import')
    .description('import linux-image + linux-headers (+ linux-modules) .deb files, kernel or kernel-core (+ kernel-modules) + kernel-devel .rpm files, or directories of them')
    .argument('<paths...>', '.deb or .rpm files, or directories')
    .action(async (paths: string[]) => {
      const { imported, ignored } = await importKernels(paths);
      for (const e of imported) console.log(`imported ${e.release} ${e.arch} (${e.packages.map((p) => p.name).join(', ')}) → in matrix.yaml: store: { release: ${e.release}, arch: ${e.arch} }`);
      if (ignored.length) console.log(`not kernel packages of an imported kernel, ignored: ${ignored.join(', ')}`);
    });
  kernel
    .command('list')
    .description('list the kernels in the store')
    .action(() => {
      const all = listStore();
      if (!all.length) console.log(`the kernel store (${storeDir()}) is empty; add one with kmatrix kernel import <debs or dir>`);
      for (const e of all) console.log(`${e.release.padEnd(28)} ${e.arch.padEnd(6)} ${e.packages.map((p) => p.name).join(', ')}  (imported ${e.importedAt} from ${e.from.map((f) => path.relative(process.cwd(), f) || '.').join(', ')})`);
    });
  kernel
    .command('rm')
    .description('remove a kernel from the store (every arch of the release unless --arch)')
    .argument('<release>')
    .option('--arch <arch>', 'only this arch')
    .action(async (release: string, o: { arch?: string }) => {
      const gone = await removeFromStore(release, o.arch);
      if (!gone.length) throw new UserError(`no kernel ${release}${o.arch ? ` (${o.arch})` : ''} in the store; kmatrix kernel list shows what is there.`);
      console.log(`removed ${gone.join(', ')}`);
    });
}
