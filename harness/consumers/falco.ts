// Falco itself as the consumer: Falco built from git in a builder root of its
// suite against its own libs and driver trees (FALCOSECURITY_LIBS_SOURCE_DIR,
// DRIVER_SOURCE_DIR; Debian's -dev packages, nothing bundled, falcoctl off,
// the container plugin's download turned off), run in the guest with
// kmatrix's configuration: the engine set per cell, JSON alerts on stdout and
// one rule that fires on the cell's marker open (the nonce in the file name).
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { builderRoot, builtOrThrow, runBuildScript, runtimePackagesOf } from '../builder.js';
import { cached } from '../cache/cache.js';
import { CellSkip } from '../errors.js';
import { copyCheckout, copyLibsWithDriver, gitCheckout } from '../git.js';
import { guestImage } from '../images/guest.js';
import { hostDebianArch } from '../machines.js';
import type { Arch, ConsumerAssets, ConsumerSpec, DriverId } from '../types.js';

/**
 * Falco's build dependencies from Debian (trixie: bookworm's libbpf 1.1 cannot
 * build the modern probe); also the root of every native scap-open of the
 * suite, hence dpkg-dev (dpkg-source) for those built from a source package.
 */
export const FALCO_BUILD_DEPS = [
  'cmake', 'g++', 'make', 'pkg-config', 'dpkg-dev', 'libyaml-cpp-dev', 'nlohmann-json3-dev', 'libcxxopts-dev', 'libre2-dev', 'libjsoncpp-dev', 'libtbb-dev',
  'libvalijson-dev', 'libelf-dev', 'libbpf-dev', 'bpftool', 'libcurl4-openssl-dev', 'libssl-dev', 'zlib1g-dev', 'clang', 'llvm', 'libzstd-dev', 'uthash-dev',
];

/**
 * Injected right after `project(falco)` (CMAKE_PROJECT_falco_INCLUDE): libs'
 * container_plugin.cmake adds its download only `if(NOT TARGET
 * container_plugin)`, so an empty target of that name makes `make falco`
 * download nothing — the smallest change, and no edit of Falco's tree.
 */
export const NO_CONTAINER_PLUGIN = [
  '# kmatrix: no container plugin (its ExternalProject would download a release)',
  'if(NOT TARGET container_plugin)',
  '  add_custom_target(container_plugin)',
  'endif()',
  '',
].join('\n');

/** Where the guest finds Falco's configuration and the rule template (init.sh writes the nonce into it). */
export const FALCO_CONFIG_IN_GUEST = 'etc/falco/falco.yaml';
export const FALCO_RULES_IN_GUEST = 'etc/falco/kmatrix_rules.yaml.in';
/** The rule's name: its alert is the cell's evidence. */
export const MARKER_RULE = 'kmatrix marker opened';

/** The CMake flags, and why: see the README of the build (nothing bundled, no falcoctl, modern eBPF on, the driver not built here). */
export function falcoCmakeFlags(version: string): string[] {
  return [
    // Falco's libs module turns these on by itself: Debian's packages instead
    '-DUSE_BUNDLED_DEPS=OFF', '-DUSE_BUNDLED_TBB=OFF', '-DUSE_BUNDLED_JSONCPP=OFF', '-DUSE_BUNDLED_VALIJSON=OFF', '-DUSE_BUNDLED_RE2=OFF', '-DUSE_BUNDLED_UTHASH=OFF',
    // without it Falco wants cpp-httplib as a CMake package, which Debian lacks; it leaves modern eBPF off unless asked
    '-DMINIMAL_BUILD=ON', '-DBUILD_FALCO_MODERN_BPF=ON',
    '-DADD_FALCOCTL_DEPENDENCY=OFF', '-DBUILD_DRIVER=OFF', '-DCMAKE_BUILD_TYPE=Release', '-DBUILD_WARNINGS_AS_ERRORS=OFF',
    // a shallow checkout has no tags: falco --version would say 0.0.0
    `-DFALCO_VERSION=${version}`,
    '-DCMAKE_PROJECT_falco_INCLUDE=/work/no-container-plugin.cmake',
    '-DFALCOSECURITY_LIBS_SOURCE_DIR=/work/libs',
    '-DDRIVER_SOURCE_DIR=/work/libs/driver',
    '-DFALCOSECURITY_RULES_FALCO_PATH=/work/kmatrix_rules.yaml',
  ];
}

export function falcoBuildScript(version: string): string {
  return [
    'set -e',
    `cmake -S /work/falco -B /work/build ${falcoCmakeFlags(version).join(' ')}`,
    'make -C /work/build -j"$(nproc)" falco',
    'bin=/work/build/userspace/falco/falco',
    'mkdir -p /work/out',
    runtimePackagesOf('$bin', '/work/out/runtime-packages'),
    // stripped: 175 MB → 14 MB of initramfs, which every boot under TCG pays for
    'strip -o /work/out/falco $bin',
    '/work/out/falco --version | head -n 1 > /work/out/version',
  ].join('\n');
}

/**
 * Falco's configuration in the guest: one rule file, no plugins, no
 * webserver, no file watching; JSON alerts on stdout, unbuffered; logs on
 * stderr; drops logged (their counters are printed at exit). The engine
 * (`engine.kind`) is set per cell on the command line.
 */
export function falcoConfig(): string {
  return [
    '# kmatrix: Falco in a test guest — one rule, JSON alerts on stdout, nothing else',
    'config_files: []',
    'watch_config_files: false',
    'rules_files: [/tmp/kmatrix_rules.yaml]',
    'load_plugins: []',
    'plugins: []',
    'priority: debug',
    'json_output: true',
    'json_include_output_property: true',
    'json_include_output_fields_property: true',
    'json_include_tags_property: false',
    'buffered_outputs: false',
    'stdout_output: { enabled: true }',
    'syslog_output: { enabled: false }',
    'file_output: { enabled: false }',
    'http_output: { enabled: false }',
    'program_output: { enabled: false, program: "true" }',
    'webserver: { enabled: false }',
    'log_stderr: true',
    'log_syslog: false',
    'log_level: info',
    'engine:',
    '  kind: kmod',
    '  kmod: { buf_size_preset: 4, drop_failed_exit: false }',
    '  modern_ebpf: { cpus_for_each_buffer: 2, buf_size_preset: 4, drop_failed_exit: false }',
    'syscall_event_drops: { threshold: 0.1, actions: [log], rate: 0.03333, max_burst: 1 }',
    // every syscall Falco supports, also the high-volume ones (read, write…) the battery checks: Falco leaves them out by default
    'base_syscalls: { all: true }',
    'metrics: { enabled: false }',
    '',
  ].join('\n');
}

/** The battery's rule: every event of its processes, printed as sysdig prints them (harness/battery.ts reads both). */
export const BATTERY_RULE = 'kmatrix battery';

/**
 * kmatrix's rules: the open of the cell's marker file (init.sh puts the nonce
 * where KMATRIX_NONCE stands), and every event of the battery program with
 * its parameters (no evt.type: all of them, the battery's calls and its own start-up).
 */
export function falcoRules(): string {
  return [
    '- rule: ' + BATTERY_RULE,
    '  desc: an event of the battery program (images/guest/battery.c), with its parameters',
    '  condition: proc.name = kmbattery',
    '  output: "KMEVT %evt.num %evt.dir %evt.type %proc.name %fd.name pid=%proc.pid :: %evt.args"',
    '  priority: DEBUG',
    '  source: syscall',
    '',
    '- rule: ' + MARKER_RULE,
    '  desc: the harness opened its marker file, named with the nonce of this cell',
    '  condition: evt.type in (open, openat, openat2) and fd.name contains "kmatrix-marker-KMATRIX_NONCE"',
    '  output: kmatrix marker opened (proc=%proc.name file=%fd.name evt=%evt.type)',
    '  priority: WARNING',
    '  source: syscall',
    '',
  ].join('\n');
}

/** Falco's engine option for a driver. */
export function falcoEngine(driver: DriverId): string {
  return driver === 'modern-ebpf' ? '-o engine.kind=modern_ebpf' : driver === 'kmod' ? '-o engine.kind=kmod' : '';
}

export async function buildFalco(debian: Debian, spec: ConsumerSpec, arch: Arch, extra: string[]): Promise<ConsumerAssets> {
  const f = spec.falco!;
  if (arch !== hostDebianArch()) throw new CellSkip(`no ${arch} Falco here: Falco is built natively for ${hostDebianArch()} only (see the arm64 notes in docs/drivers-and-consumers.md)`);
  const [falco, libs, driver] = await Promise.all([gitCheckout(f.git), gitCheckout(f.libs), gitCheckout(f.driver)]);
  const root = await builderRoot(debian, f.suite, FALCO_BUILD_DEPS);
  const script = falcoBuildScript(f.version);
  const out = await cached('consumers', { falco: f.git.commit, libs: f.libs.commit, driver: f.driver.commit, script, root }, async (dir) => {
    const work = path.join(dir, 'work');
    await mkdir(work);
    // copies of their own (CMake writes into them); the driver's tree over the libs' driver/, so the modern probe built into Falco is that driver's
    await copyCheckout(falco, path.join(work, 'falco'));
    await copyLibsWithDriver(libs, driver, path.join(work, 'libs'));
    await writeFile(path.join(work, 'no-container-plugin.cmake'), NO_CONTAINER_PLUGIN);
    // the rules Falco installs as its default (unused: the guest gets its own configuration)
    await writeFile(path.join(work, 'kmatrix_rules.yaml'), falcoRules());
    await runBuildScript(dir, root, [{ host: work, guest: '/work', writable: true }], script, `builder: ${f.suite}; CMAKE_PROJECT_falco_INCLUDE=no-container-plugin.cmake: ${NO_CONTAINER_PLUGIN.split('\n')[0]}`);
    for (const tree of ['falco', 'libs', 'build']) await rm(path.join(work, tree), { recursive: true, force: true });
  });
  builtOrThrow(out, `Falco ${f.version}`, { suite: f.suite, root });
  // the guest's configuration and rule: not part of the build (changing them rebuilds nothing)
  const conf = await cached('falco-config', { config: falcoConfig(), rules: falcoRules() }, async (dir) => {
    await writeFile(path.join(dir, 'falco.yaml'), falcoConfig());
    await writeFile(path.join(dir, 'kmatrix_rules.yaml.in'), falcoRules());
  });
  const bin = path.join(out, 'work', 'out');
  const runtime = readFileSync(path.join(bin, 'runtime-packages'), 'utf8').split('\n').filter(Boolean);
  const image = await guestImage(debian, f.suite, arch, [...runtime, ...extra], [path.join(bin, 'falco')]);
  const said = readFileSync(path.join(bin, 'version'), 'utf8').trim();
  return {
    image,
    files: { 'usr/bin/falco': path.join(bin, 'falco'), [FALCO_CONFIG_IN_GUEST]: path.join(conf, 'falco.yaml'), [FALCO_RULES_IN_GUEST]: path.join(conf, 'kmatrix_rules.yaml.in') },
    version: `${said || `Falco ${f.version}`} (libs ${f.libs.commit.slice(0, 12)}, driver ${f.driver.commit.slice(0, 12)}; built in ${f.suite})`,
    builder: { suite: f.suite, root },
  };
}
