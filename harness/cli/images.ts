// `kmatrix images build-box`: the local Vagrant box, built from Debian packages and added to the harness's VAGRANT_HOME.
import type { Command } from 'commander';
import { Debian, debianMirror } from '../apt.js';
import { loadMatrix } from '../matrix.js';
import { buildLocalBox, vagrantHome } from '../images/box.js';

export function imagesCommands(program: Command): void {
  const images = program.command('images').description('images the harness builds itself');
  images
    .command('build-box')
    .description('build the local libvirt Vagrant box (bookworm, Debian 6.1 kernel + headers, build tools) and `vagrant box add` it')
    .action(async () => {
      const m = loadMatrix(program.opts().matrix);
      const t0 = Date.now();
      const box = await buildLocalBox(new Debian(debianMirror(m.mirror), m.suites), (l) => console.log(`build-box: ${l}`));
      console.log(`box ${box.name} ${box.version} (kernel ${box.release}) in ${vagrantHome()}: ${box.file} [${((Date.now() - t0) / 1000).toFixed(0)}s]`);
    });
}
