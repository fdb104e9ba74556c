// `kmatrix explain <cell>`: what a cell would run — kernel packages, builder,
// driver build command, consumer, QEMU command line, guest steps — from the
// matrix alone: nothing is fetched, built or booted. What only the run can
// know (the suite's current ABI, the kernel's compiler) is shown as <…>.
import { Backends } from '../backends/index.js';
import { kernelBuilderPackages } from '../builder.js';
import { buildRecipe } from '../drivers/build.js';
import { describeConsumer, engineArgs } from '../consumers/index.js';
import { ARTIFACT_IN_GUEST, moduleInGuest, runAsPrefix } from '../guest.js';
import { describeKernel } from '../kernels/index.js';
import { hostDebianArch, MACHINES } from '../machines.js';
import type { Matrix } from '../matrix.js';
import { guestSteps, planGuest } from '../phases/vm.js';
import type { Built } from '../plan.js';
import type { Cell, DriverTree, GuestImage, KernelTree } from '../types.js';

export async function explainCell(m: Matrix, cell: Cell): Promise<string> {
  const k = cell.kernel;
  const machine = MACHINES[k.machine]!;
  const described = describeKernel(k, m.kernelSettings ?? {});
  // a negative control's module is built for its other kernel (A): its headers and builder
  const from = cell.control ? describeKernel(cell.control.from, m.kernelSettings ?? {}) : undefined;
  const forBuild = from ?? described;
  const release = described.release;
  const cache = '<cache>';
  const kroot = `${cache}/kernels/<key>`;
  const kernel: KernelTree = {
    release, version: '<version>', origin: '<origin>', arch: k.arch, root: kroot,
    headers: `usr/src/linux-headers-${release}`, image: k.image ?? `${kroot}/boot/vmlinuz-${release}`,
    dtbDir: machine.dtb ? `${kroot}/${described.dtbDir ?? '<device-tree dir>'}` : undefined, sdModules: [], compiler: '<compiler of the kernel>',
    builder: { suite: described.builder.suite, compiler: 'gcc' }, packages: [],
    // q35 enters the image's ELF at its PVH entry, where the kernel has one (images/pvh.ts)
    ...(machine.pvh && !k.image ? { pvh: `${cache}/pvh/<key>/vmlinux (the image's ELF, if it has a PVH entry; else the image)` } : {}),
  };
  const tree = { dir: `${cache}/sources/${cell.source.id}` } as DriverTree;
  const runAs = runAsPrefix(cell.profile);
  const told = describeConsumer(cell.consumer, runAs, engineArgs(cell.consumer.kind, cell.driver), k.arch);
  const consumerImage = { cpio: `${cache}/guests/${told.image}.cpio` } as GuestImage;
  const built = {
    artifact: cell.driver === 'kmod' || cell.driver === 'ebpf' ? `${cache}/builds/<key>/src/${cell.driver === 'kmod' ? 'scap.ko' : 'bpf/probe.o'}` : undefined,
    consumer: { image: consumerImage, files: cell.consumer.libs ? { 'usr/bin/scap-open': `${cache}/consumers/<key>/scap-open` } : {}, version: '<version>', openatExit: -1 },
    card: k.sdcard ? { kernel: '<SD card FAT: kernel>', dtb: '<SD card FAT: dtb>', image: `${cache}/sdcards/<key>.img` } : undefined,
    cached: false,
    facts: {},
  } as unknown as Built;
  const plan = planGuest(cell, { kernel, tree }, built, { timeouts: m.timeouts, dir: '<run>/cells/<cell>', nonce: '<nonce>', loopCount: m.workload.loopCount, soakSeconds: m.workload.soakSeconds });
  // the tree is not fetched: its module's name is the one the source is configured with
  if (cell.driver === 'kmod' && cell.source.name) plan.env.module = cell.source.name;
  // the backend the kernel's machine names (QEMU's command line, or the Vagrant steps)
  const boot = await new Backends().for(plan.machine).describe(plan);

  const s = cell.source;
  const src = s.debian
    ? `${s.debian.package} from ${s.debian.suite} (its configured driver tree)`
    : s.git
      ? `git ${s.git.url}@${s.git.commit}: its driver/ configured as its CMake does (module ${s.name ?? 'scap'})${s.libs ? `, with the libs tree ${s.libs.url}@${s.libs.commit}` : ''}`
      : `local tree ${s.dir}`;
  // the compiler is known once the kernel is fetched: its package name stands in
  const builder = kernelBuilderPackages(kernel, hostDebianArch()).map((p) => (/^gcc(-|$)/.test(p) ? p.replace(/^gcc/, forBuild.builder.compiler) : p));
  const build =
    cell.driver === 'kmod' || cell.driver === 'ebpf'
      ? (() => {
          const r = buildRecipe(cell.driver, { headers: from ? `usr/src/linux-headers-${from.release}` : kernel.headers, arch: k.arch, version: '0' });
          return [
            `bwrap (builder root read-only, no network; /kernel = kernel packages, /build = a copy of the driver tree) -- sh -c 'cd ${r.cwd} && ${r.cmd.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}'`,
            ...(cell.driver === 'ebpf' ? ['  (kernels ≥ 7: clang also gets -fms-extensions, and -DCC_USING_FENTRY on amd64)'] : []),
            `artifact: ${r.artifact} → guest /${cell.driver === 'kmod' ? moduleInGuest(plan.env.module) : ARTIFACT_IN_GUEST[cell.driver]}`,
          ];
        })()
      : cell.driver === 'modern-ebpf'
        ? [`built into the consumer: ${told.what}`]
        : ['pdig: not packaged in Debian (a source tree configured by hand is needed)'];
  const env = plan.env;
  const steps = [
    'mount /proc, /sys, /dev, /tmp, debugfs, tracefs; print `KMATRIX v1 boot release=… btime=…`',
    ...(k.sdcard ? ['load the SD card modules, mount /dev/mmcblk0p2 read-only and check it is this card'] : []),
    ...(cell.driver === 'kmod' ? [`${runAs ? runAs + ' ' : ''}insmod /${moduleInGuest(plan.env.module)} (its output and rc reported)`] : []),
    `start the consumer: ${told.command}`,
    `open /tmp/kmatrix-marker-<nonce> every quarter second until the consumer shows it (window ${m.timeouts.capture} s${env.consumer === 'scap-open' ? `; without coreutils' libstdbuf in the guest: a fixed ${Math.min(25, m.timeouts.capture)} s, read at the end` : ''})`,
    'stop the consumer (SIGINT, then SIGKILL after 10 s); report its stderr, the captured marker lines and `KMATRIX v1 capture found=…`',
    ...(cell.driver === 'kmod' ? [`rmmod ${env.module ?? 'scap'}`] : []),
    'report dmesg, `KMATRIX v1 done`, poweroff',
  ];
  // a negative control stops after insmod: no consumer, no capture
  const controlSteps = cell.control && [
    steps[0]!,
    `insmod /${moduleInGuest(plan.env.module)}: the module built for ${cell.control.from.id} (its output and rc reported)`,
    'refused (insmod exit ≠ 0): report dmesg, `KMATRIX v1 done`, poweroff — the control passes, with the kernel\'s words',
    `accepted (insmod exit 0): rmmod ${env.module ?? 'scap'}, report dmesg, \`KMATRIX v1 done\`, poweroff — the control fails`,
  ];
  const section = (t: string, lines: string[]) => `${t}\n${lines.map((l) => `  ${l}`).join('\n')}`;
  return [
    `cell ${cell.id}: ${cell.driver} from ${cell.source.id}, profile ${cell.profile.id}${cell.profile.cmdline?.length ? ` (kernel args ${cell.profile.cmdline.join(' ')})` : ''}${cell.profile.capabilities ? ` (driver steps with only ${cell.profile.capabilities.join(', ')})` : ''}`,
    section(`kernel packages (${k.source.kind})`, [
      ...described.source,
      ...(k.image ? [`booted image replaced by ${k.image}`] : []),
      ...(k.sdcard ? [`booted from a Pi SD card: ${k.sdcard.firmware.package} (${k.sdcard.firmware.suite}), kernel and DTB on its FAT partition`] : []),
    ]),
    ...(cell.control && from
      ? [
          section('negative control', [
            `the kernel module built for ${cell.control.from.id} (${from.release}: ${from.source[0]}) — the same cached build as that kernel's kmod cells — is inserted into ${k.id}`,
            `pass: ${k.id} refuses it (insmod fails: "Invalid module format", version magic or symbol versions in dmesg); fail: ${k.id} accepts it; a module that did not build for ${cell.control.from.id}: a skip`,
            'never driver evidence for a platform or the table: it decides the claim kmod-tied-to-kernel',
          ]),
        ]
      : []),
    section('driver source', [src]),
    section('builder', [`mmdebstrap --mode=unshare --variant=apt ${forBuild.builder.suite} with: ${builder.join(' ')}`]),
    section('driver build', build),
    section('consumer', [told.what]),
    section(plan.machine.backend === 'qemu' ? 'QEMU command line' : 'Vagrant', boot),
    section('guest steps (images/guest/init.sh, cell.env)', (controlSteps || steps).map((s, i) => `${i + 1}. ${s}`)),
    section('cell.env', guestSteps(plan).trimEnd().split('\n')),
    'Nothing was run. `kmatrix run ' + cell.id + '` runs it; `--shell` boots it with the driver loaded and gives a shell.',
  ].join('\n');
}
