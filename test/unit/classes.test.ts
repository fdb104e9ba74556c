// Every failure class through the code that produces it: the guest's classes
// through judge() on a guest report (console lines fed to GuestReader; real
// captured output where test/fixtures has one), then the class and cause a
// result is finalized with (causes.ts classAndCause, as run.ts does); build and
// infrastructure classes through the build and fetch phases' own functions.
// A class of the vocabulary without a case here fails the suite. Also: the
// kernel's facts (features.ts) and the causes they give, and the toolchain
// read from a builder root's dpkg status.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Debian } from '../../harness/apt.js';
import { firstCompilerError } from '../../harness/builder.js';
import { classAndCause, kernelCause, type CauseInput } from '../../harness/causes.js';
import { judgeControl } from '../../harness/controls.js';
import { noArtifact } from '../../harness/drivers/build.js';
import { BuildFailure, errorLine, InfraError } from '../../harness/errors.js';
import { FAILURE_CLASS_NAMES } from '../../harness/failures.js';
import { GuestReader, judge, type GuestReport } from '../../harness/guest.js';
import { featuresLine, featuresOf, kernelFeatures } from '../../harness/kernels/features.js';
import { KINDS } from '../../harness/kernels/index.js';
import { buildEnd } from '../../harness/phases/build.js';
import { fetchPhase } from '../../harness/phases/fetch.js';
import { CellEnd } from '../../harness/plan.js';
import { renderReport } from '../../harness/reports/html.js';
import { consumerToolchain, driverToolchain, installed, parseDpkgStatus, toolchainLine } from '../../harness/toolchain.js';
import { tempDir } from '../tmp.js';
import type { Arch, Cell, CellResult, ConsumerKind, DriverId, FailureClass, Phase } from '../../harness/types.js';

const fixture = (f: string) => readFileSync(path.resolve('test/fixtures', f), 'utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const logLine = (name: string, text: string) => `KMATRIX v1 log ${name} ${b64(text).length} ${b64(text)}`;
const boot = (release: string) => `KMATRIX v1 boot release=${release} btime=1796033645 nproc=1`;

function report(lines: string[]): GuestReport {
  const r = new GuestReader();
  for (const l of lines) r.feed(l);
  return r.report;
}

// The kernels' facts, from their real .config lines (Debian's: CONFIG_DEBUG_INFO_BTF=y, CONFIG_MODULE_SIG=y,
// "# CONFIG_MODULE_SIG_FORCE is not set"; the 4.9.229 store kernel: "# CONFIG_MODULE_SIG is not set", no BTF)
const DEBIAN_CONFIG = 'CONFIG_BPF_SYSCALL=y\nCONFIG_MODULE_SIG=y\n# CONFIG_MODULE_SIG_FORCE is not set\nCONFIG_DEBUG_INFO_BTF=y\n';
const STORE_49_CONFIG = 'CONFIG_BPF_SYSCALL=y\n# CONFIG_MODULE_SIG is not set\n# CONFIG_DEBUG_INFO is not set\n';
const NO_BTF_CONFIG = 'CONFIG_BPF_SYSCALL=y\nCONFIG_MODULE_SIG=y\n# CONFIG_DEBUG_INFO_BTF is not set\n';
const kernel = (version: string, config = DEBIAN_CONFIG, arch: Arch = 'amd64') => ({ version, arch, features: featuresOf(config, version) });

/** A guest report judged, then finalized as run.ts does. */
function judged(
  r: GuestReport,
  driver: DriverId,
  kind: ConsumerKind,
  opts: { nonce?: string; timedOut?: boolean; phase?: Phase; killed?: string; kernel?: CauseInput['kernel']; cmdline?: string[] } = {},
) {
  const v = judge(r, driver, kind, opts.nonce ?? 'n0nce', { timedOut: opts.timedOut ?? false, phase: opts.phase ?? 'capture', killed: opts.killed });
  return { v, ...classAndCause({ ...v, driver, kernel: opts.kernel ?? kernel('6.1.158'), cmdline: opts.cmdline }) };
}

/** A phase's CellEnd, finalized as run.ts does (a build's log where it has one). */
function ended(e: CellEnd, driver: DriverId, k: CauseInput['kernel'] = kernel('6.1.158'), build?: string) {
  return classAndCause({ status: e.status === 'pass' ? 'pass' : e.status, phase: e.phase, reason: e.reason, firstError: e.firstError, driver, kernel: k }, build ? { build } : {});
}

const battery = (cell: string) => {
  const script = fixture(`battery/${cell}.script`);
  return { script, events: fixture(`battery/${cell}.events`), nonce: /kmatrix-battery-(\w+)/.exec(script)![1]! };
};
/** A sysdig capture that saw the marker (its event line as sysdig prints it), with the battery's logs. */
const markerSeen = (nonce: string, logs: string[]) => [
  boot('6.1.0-50-amd64'),
  'KMATRIX v1 insmod rc=0',
  'KMATRIX v1 consumer started pid=99',
  'KMATRIX v1 attached seconds=2',
  'KMATRIX v1 battery rc=0 seconds=1.50',
  ...logs,
  logLine('captured', `KMEVT 900 < openat cat /tmp/kmatrix-marker-${nonce} pid=130 :: fd=3(<f>/tmp/kmatrix-marker-${nonce}) name=/tmp/kmatrix-marker-${nonce}\n`),
  'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=3 untraced=0',
];
const consumerDied = (release: string, consumer: string, rc: number, more: string[] = []) => [boot(release), 'KMATRIX v1 consumer started pid=146', logLine('consumer', consumer), ...more, `KMATRIX v1 capture found=0 alive=0 rc=${rc} seconds=13 untraced=0`];
const insmodFailed = (text: string) => [boot('6.1.0-50-amd64'), 'KMATRIX v1 insmod rc=1', logLine('insmod', text)];

interface Case {
  cls: FailureClass;
  what: string;
  run: () => { class?: FailureClass; reason?: string };
  /** The reason must say this too (the kernel's cause). */
  says?: RegExp;
}

const cases: Case[] = [
  // ---- the guest: judge() on its report
  { cls: 'infra:boot-timeout', what: 'no boot line before the boot timeout', run: () => judged(report([]), 'kmod', 'sysdig', { timedOut: true, phase: 'boot' }) },
  {
    cls: 'infra:boot-crash',
    what: 'a panic before init reported',
    run: () => judged(report(['Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', '---[ end Kernel panic - not syncing: VFS ]---']), 'kmod', 'sysdig', { phase: 'boot' }),
  },
  {
    cls: 'infra:boot-module',
    what: "a module of the kernel init.sh inserted before anything else refused (it stops there)",
    run: () => judged(report(['KMATRIX v1 module name=udp_tunnel rc=0', logLine('module-vxlan', "insmod: can't insert '/kmatrix/modules/02-vxlan.ko': unknown symbol in module\n"), 'KMATRIX v1 module name=vxlan rc=1', boot('6.12.117+deb13-amd64')]), 'kmod', 'sysdig', { phase: 'load' }),
  },
  { cls: 'infra:boot-module', what: 'a module the user asked for that the kernel has not (build phase)', run: () => ended(new CellEnd('error', 'build', "guest modules: kernel debian-trixie-amd64 (6.12.117+deb13-amd64) has no module nosuchmod: neither in its modules.builtin nor among its packages' modules (KMATRIX_GUEST_MODULES=nosuchmod)"), 'kmod') },
  { cls: 'infra:boot-no-console', what: 'QEMU ended by itself with nothing from init (a serial driver the kernel lacks)', run: () => judged(report(['[    0.000000] Linux version 6.12.117+deb13-amd64', '[    1.201000] Warning: unable to open an initial console.']), 'kmod', 'sysdig', { phase: 'boot' }), says: /the kernel had no console to give init\); the console's last lines: .*"Warning: unable to open an initial console\."$/ },
  { cls: 'infra:boot-crash', what: 'VFS: no root (the console tail in the reason)', run: () => judged(report(['[    2.100000] List of all partitions:', '[    2.100001] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', '[    2.100002] CPU: 0 UID: 0 PID: 1 Comm: swapper/0', '[    2.100003] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---']), 'kmod', 'sysdig', { phase: 'boot' }), says: /before init reported \(panic\); the console's last lines up to the crash: "List of all partitions:" \| "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block\(0,0\)"$/ },
  { cls: 'infra:qemu-died', what: "QEMU's own refusal (exit code)", run: () => judged(report([]), 'kmod', 'sysdig', { phase: 'boot', killed: 'exit code 1' }) },
  { cls: 'infra:qemu-died', what: 'QEMU ended from outside after boot', run: () => judged(report([boot('6.1.0-50-amd64')]), 'kmod', 'sysdig', { phase: 'load', killed: 'signal SIGKILL' }) },
  {
    cls: 'kernel:oops',
    what: 'a BUG while the module loads',
    run: () => judged(report([boot('6.1.0-50-amd64'), 'BUG: kernel NULL pointer dereference, address: 0000000000000010', '---[ end trace 0000000000000000 ]---']), 'kmod', 'sysdig', { timedOut: true, phase: 'load' }),
  },
  // run 20261130-110906Z, debian-5.10-amd64/kmod@10.2.0/locked-down: busybox insmod's words
  {
    cls: 'load:signature',
    what: 'module.sig_enforce=1 (locked-down)',
    run: () => judged(report(insmodFailed("insmod: can't insert '/kmatrix/scap.ko': Key was rejected by service\n")), 'kmod', 'sysdig', { cmdline: ['module.sig_enforce=1'] }),
    says: /— this kernel enforces module signatures \(module\.sig_enforce=1 on its command line\) and the module is unsigned$/,
  },
  // busybox 1.37 (trixie's busybox-static) on a module of another kernel
  { cls: 'load:vermagic', what: 'invalid module format', run: () => judged(report(insmodFailed("insmod: can't insert '/kmatrix/scap.ko': invalid module format\n")), 'kmod', 'sysdig') },
  // run 20261130-110906Z, debian-5.10-amd64/kmod@10.2.0/ptrace-only
  { cls: 'load:permission', what: 'insmod without CAP_SYS_MODULE', run: () => judged(report(insmodFailed("insmod: can't insert '/kmatrix/scap.ko': Operation not permitted\n")), 'kmod', 'sysdig', { cmdline: [] }) },
  { cls: 'load:timeout', what: 'no answer from insmod', run: () => judged(report([boot('6.1.0-50-amd64')]), 'kmod', 'sysdig', { timedOut: true, phase: 'load' }) },
  { cls: 'load:timeout', what: 'the consumer never attached before the load timeout', run: () => judged(report([boot('6.1.0-50-amd64'), 'KMATRIX v1 consumer started pid=99']), 'modern-ebpf', 'scap-open', { timedOut: true, phase: 'load' }) },
  // libscap's version check (userspace/libscap/scap.c: "Driver supports API version %s, but running version needs %s")
  {
    cls: 'load:api-mismatch',
    what: "the consumer refuses the driver's API",
    run: () => judged(report([boot('6.1.0-50-amd64'), 'KMATRIX v1 insmod rc=0', ...consumerDied('6.1.0-50-amd64', 'Driver supports API version 8.0.0, but running version needs 9.0.0\n', 1).slice(1)]), 'kmod', 'sysdig'),
  },
  // run 20261130-110906Z, debian-6.12-amd64/modern-ebpf@falco-0.44.1/host: Falco's real stderr
  { cls: 'load:verifier', what: "Falco on 6.12: the verifier's reason traced up its log", run: () => judged(report(consumerDied('6.12.117+deb13-amd64', fixture('verifier/falco-6.12-amd64-consumer.txt'), 1)), 'modern-ebpf', 'falco') },
  // run 20261130-110906Z, debian-6.12-arm64-virt/modern-ebpf@0.20.0/host: scap-open's stderr says " (13)", its stdout the log
  {
    cls: 'load:verifier',
    what: 'scap-open 0.20.0 on 6.12 arm64',
    run: () =>
      judged(report(consumerDied('6.12.117+deb13-arm64', fixture('verifier/scap-open-0.20.0-6.12-arm64-consumer.txt'), 13, [logLine('stats', fixture('verifier/scap-open-0.20.0-6.12-arm64-stats.txt'))])), 'modern-ebpf', 'scap-open', {
        kernel: kernel('6.12.117', DEBIAN_CONFIG, 'arm64'),
      }),
  },
  // the kernel verifier's own words (kernel/bpf/verifier.c: "BPF program is too large. Processed %d insn") in Falco's real log
  {
    cls: 'load:verifier-limit',
    what: 'program too large',
    run: () => judged(report(consumerDied('6.12.117+deb13-amd64', fixture('verifier/falco-6.12-amd64-consumer.txt').replace("R9 invalid mem access 'scalar'", 'BPF program is too large. Processed 1000001 insn'), 1)), 'modern-ebpf', 'falco'),
  },
  // libbpf's rewrite of a failed CO-RE relocation in the verifier log (fixup_log_failed_core_relo), e.g. kernfs_node.parent on 7.x
  {
    cls: 'load:btf',
    what: 'a CO-RE relocation the kernel cannot satisfy',
    run: () =>
      judged(
        report(
          consumerDied(
            '7.0.0-1-amd64',
            [
              "libbpf: prog 'pf_kernel': BPF program load failed: Invalid argument",
              "libbpf: prog 'pf_kernel': -- BEGIN PROG LOAD LOG --",
              '0: R1=ctx() R10=fp0',
              '5: <invalid CO-RE relocation>',
              'failed to resolve CO-RE relocation <byte_off> [42] struct kernfs_node.parent (0:3 @ offset 0)',
              'processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
              '-- END PROG LOAD LOG --',
              "libbpf: prog 'pf_kernel': failed to load: -22",
              '',
            ].join('\n'),
            1,
          ),
        ),
        'modern-ebpf',
        'scap-open',
      ),
  },
  // libpman's pman_check_support() (userspace/libpman/src/configuration.c of driver 10.2.0) on a 5.8+ kernel without BTF:
  // "prog 'BPF_TRACE_RAW_TP' is not supported" alone is load:other; the kernel's facts name the cause
  {
    cls: 'load:btf',
    what: "libpman's BPF_TRACE_RAW_TP on a kernel without BTF",
    run: () =>
      judged(report(consumerDied('5.10.0-30-amd64', 'libpman: prog \'BPF_TRACE_RAW_TP\' is not supported (errno: 0 | message: Success)\n', 1)), 'modern-ebpf', 'scap-open', { kernel: kernel('5.10.237', NO_BTF_CONFIG) }),
    says: /— this kernel has no BTF \(CONFIG_DEBUG_INFO_BTF is not set\): modern eBPF needs it$/,
  },
  // run 20261130-110906Z, store-4.9-amd64/modern-ebpf@falco-0.44.1/host
  {
    cls: 'load:unsupported-map',
    what: 'no BPF ring buffer on 4.9',
    run: () =>
      judged(report(consumerDied('4.9.229', 'libpman: ring buffer map type is not supported (errno: 22 | message: Invalid argument)\n', 1)), 'modern-ebpf', 'falco', { kernel: kernel('4.9.229', STORE_49_CONFIG) }),
    says: /— this kernel \(4\.9\.229\) has no BPF ring buffer \(5\.8\): modern eBPF needs it; this kernel has no BTF/,
  },
  // not seen in a run yet: the probe's version check (quirks.h's words), said by the consumer when it opens the probe
  { cls: 'load:kernel-version-check', what: 'the kernel refused as too old at open', run: () => judged(report(consumerDied('6.1.0-50-arm64', 'Kernel version must be >= 4.14 with eBPF enabled\n', 1)), 'ebpf', 'scap-open') },
  // run 20261130-110906Z, debian-6.1-arm64-virt/ebpf@0.20.0/host
  { cls: 'load:mmap', what: "the legacy probe's perf buffer", run: () => judged(report(consumerDied('6.1.0-50-arm64', "unable to mmap the perf-buffer for cpu '0': Cannot allocate memory (1)\n", 1)), 'ebpf', 'scap-open') },
  { cls: 'load:other', what: 'an error no rule knows', run: () => judged(report(consumerDied('6.1.0-50-amd64', 'scap-open: something new went wrong\n', 1)), 'modern-ebpf', 'scap-open') },
  // run 20261130-110906Z, debian-6.1-armhf-raspi2b/kmod@0.1.1dev/host: sysdig 0.29 killed by SIGBUS (rc 135)
  { cls: 'capture:consumer-died', what: 'the consumer killed by SIGBUS', run: () => judged(report([boot('6.1.0-50-armmp'), 'KMATRIX v1 insmod rc=0', 'KMATRIX v1 capture found=0 alive=0 rc=135 seconds=4 untraced=0']), 'kmod', 'sysdig') },
  { cls: 'capture:timeout', what: 'attached, then no result', run: () => judged(report([boot('6.1.0-50-amd64'), 'KMATRIX v1 insmod rc=0', 'KMATRIX v1 attached seconds=2']), 'kmod', 'sysdig', { timedOut: true }) },
  {
    cls: 'capture:no-marker',
    what: 'events, never the marker',
    run: () => judged(report([boot('6.1.0-50-amd64'), 'KMATRIX v1 insmod rc=0', 'KMATRIX v1 attached seconds=2', logLine('captured', 'KMEVT 1 < openat cat /etc/passwd pid=1 :: fd=3\n'), 'KMATRIX v1 capture found=0 alive=1 rc=0 seconds=25 untraced=0']), 'kmod', 'sysdig'),
  },
  // run 20261130-120546Z, debian-6.1-amd64/pdig@pdig-fc679b8/host: pdig's real stderr — pdig built against libs
  // e5c53d6, a tree of another event schema than its own fillers': the matrix's pairing, not the driver
  {
    cls: 'pairing:schema-mismatch',
    what: "pdig's corrupted filler against its tree",
    run: () => {
      const f = battery('pdig@pdig-fc679b8');
      return judged(report(markerSeen(f.nonce, [logLine('pdig', fixture('battery/pdig@pdig-fc679b8.pdig-stderr')), logLine('consumer', fixture('battery/pdig@pdig-fc679b8.pdig-stderr'))])), 'pdig', 'sysdig', { nonce: f.nonce });
    },
  },
  // the same consumer words about a kernel module's events: its fillers and event table are one tree, the driver's fault
  {
    cls: 'capture:corrupt-event',
    what: "the consumer's corrupted filler for a kernel module",
    run: () => {
      const f = battery('kmod@0.23.2');
      return judged(report(markerSeen(f.nonce, [logLine('battery', f.script), logLine('battery-events', f.events), logLine('consumer', fixture('battery/pdig@pdig-fc679b8.pdig-stderr'))])), 'kmod', 'sysdig', { nonce: f.nonce });
    },
  },
  // guest.ts: the battery cut short (init.sh's battery rc after a SIGPIPE), and a soak that ran nothing
  {
    cls: 'capture:workload-incomplete',
    what: 'the battery cut after 7 calls',
    run: () => {
      const f = battery('kmod@0.23.2');
      const cut = f.script.split('\n').filter((l) => !/^KMB (\d+)/.test(l) || Number(/^KMB (\d+)/.exec(l)![1]) <= 7).join('\n');
      return judged(report(markerSeen(f.nonce, [logLine('battery', cut), logLine('battery-events', f.events)]).map((l) => l.replace('battery rc=0', 'battery rc=141'))), 'kmod', 'sysdig', { nonce: f.nonce });
    },
  },
  // Falco's exit counters with its drops above workload.maxDropRatio (default 1%)
  {
    cls: 'capture:drops',
    what: 'Driver Drops above 1% of the events',
    run: () => {
      const f = battery('kmod@0.23.2');
      const stats = 'Driver Events:10000\nDriver Drops:500\n';
      const alert = JSON.stringify({ rule: 'kmatrix marker opened', output_fields: { 'fd.name': `/tmp/kmatrix-marker-${f.nonce}`, 'evt.type': 'openat' } });
      const lines = markerSeen(f.nonce, [logLine('battery', f.script), logLine('battery-events', f.events), logLine('stats', stats)]).map((l) => (l.startsWith('KMATRIX v1 log captured ') ? logLine('captured', `${alert}\n`) : l));
      return judged(report(lines), 'kmod', 'falco', { nonce: f.nonce });
    },
  },
  // run 20261130-120546Z, debian-6.1-amd64/kmod@0.23.2/host: its real battery, one parameter changed
  {
    cls: 'capture:wrong-params',
    what: 'a battery parameter reported wrong',
    run: () => {
      const f = battery('kmod@0.23.2');
      const events = f.events.replace(/(< read kmbattery \S+ pid=\d+ :: .*) size=64/, '$1 size=32');
      return judged(report(markerSeen(f.nonce, [logLine('battery', f.script), logLine('battery-events', events)])), 'kmod', 'sysdig', { nonce: f.nonce });
    },
  },
  // run 20261130-120546Z, debian-6.1-amd64/pdig@pdig-fc679b8/host: the traced battery loses its calls (no parse errors here)
  {
    cls: 'capture:missing-events',
    what: 'battery calls not captured',
    run: () => {
      const f = battery('pdig@pdig-fc679b8');
      return judged(report(markerSeen(f.nonce, [logLine('battery', f.script), logLine('battery-events', f.events)])), 'kmod', 'sysdig', { nonce: f.nonce });
    },
  },
  {
    cls: 'capture:other',
    what: 'the guest stopped while capturing, before its report',
    run: () => judged(report([boot('6.1.0-50-amd64'), 'KMATRIX v1 insmod rc=0', 'KMATRIX v1 attached seconds=2', logLine('consumer', 'sysdig: something new went wrong\n')]), 'kmod', 'sysdig'),
  },
  // controls.ts's verdict on the guest's report: a kernel that took another kernel's module
  {
    cls: 'control:accepted',
    what: 'a foreign module accepted',
    run: () => {
      const r = report([boot('6.1.0-50-amd64'), 'KMATRIX v1 insmod rc=0', logLine('insmod', ''), 'KMATRIX v1 rmmod rc=0']);
      const v = judge(r, 'kmod', 'sysdig', 'n0nce', { timedOut: false, phase: 'load' });
      const c = judgeControl(r, v, 'debian-6.1-amd64', { id: 'debian-5.10-amd64', release: '5.10.0-30-amd64' });
      return classAndCause({ ...c.verdict, driver: 'kmod', kernel: kernel('6.1.158') });
    },
  },
  // ---- the build: its first error as builder.ts reads it from a real log, the CellEnd the build phase makes
  {
    // cache builds/f12cdea14555b459/build.log (0.1.1dev's module on 6.12.117+deb13-amd64)
    cls: 'build:compiler',
    what: 'fd_is_open undeclared',
    run: () => {
      const log = "  CC [M]  /build/main.o\n/build/main.c:1495:22: error: implicit declaration of function ‘fd_is_open’; did you mean ‘finish_open’? [-Wimplicit-function-declaration]\nmake[2]: *** [scripts/Makefile.build:243: /build/main.o] Error 1\nexit 2\n";
      return ended(new CellEnd('fail', 'build', 'the kernel module did not build', firstCompilerError(log)), 'kmod', kernel('6.12.117'), log);
    },
  },
  {
    // cache builds/60e97b69e660211d/build.log (store-4.9-amd64 probe): the sanity check's own log names the version check
    cls: 'build:kernel-version-check',
    what: 'the legacy probe below 4.14',
    run: () => {
      const log = [
        "[configure-bpf] Build system is broken, please see above errors",
        'Build output for HAS_0__SANITY:',
        '/build/bpf//configure/0__SANITY/Makefile.inc:21: *** The build system is broken, please see above errors.  Stop.',
        '--- bpf/configure/0__SANITY/build.log',
        '/build/bpf/configure/0__SANITY/../../quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled',
      ].join('\n');
      return ended(new CellEnd('fail', 'build', 'the eBPF probe did not build', firstCompilerError(log)), 'ebpf', kernel('4.9.229', STORE_49_CONFIG), log);
    },
    says: /— this kernel is 4\.9\.229: the legacy eBPF probe needs 4\.14/,
  },
  {
    // driver/bpf/quirks.h of scap 0.23.2 (Debian's falcosecurity-scap-dkms): arm64 captures sched_process_fork with raw tracepoints
    cls: 'build:kernel-version-check',
    what: "the legacy probe on arm64 4.14 (raw tracepoints' #error)",
    run: () => {
      const log = "/build/bpf/quirks.h:38:2: error: The CAPTURE_SCHED_PROC_FORK support requires 'raw_tracepoints' so kernel versions greater or equal than '4.17'.\nexit 2\n";
      return ended(new CellEnd('fail', 'build', 'the eBPF probe did not build', firstCompilerError(log)), 'ebpf', kernel('4.14.336', STORE_49_CONFIG, 'arm64'), log);
    },
    says: /— this kernel is 4\.14\.336: the legacy eBPF probe on arm64 needs raw tracepoints \(4\.17\)$/,
  },
  // cache consumers/f4f84d8616bda5a5.failed.log (a Falco build's CMake configure): the build phase's end of a consumer that did not build
  { cls: 'build:configure', what: "the modern probe's consumer, CMake", run: () => ended(buildEnd(new BuildFailure('Falco 0.44.1 did not build', 'CMake Error at cmake/modules/cxxopts.cmake:34 (message):'), 'modern-ebpf'), 'modern-ebpf') },
  { cls: 'build:no-artifact', what: 'make exited 0 without probe.o', run: () => ended(new CellEnd('fail', 'build', 'the eBPF probe did not build', noArtifact('bpf/probe.o', '/nonexistent')), 'ebpf') },
  { cls: 'build:other', what: 'a log with no error line', run: () => ended(new CellEnd('fail', 'build', 'pdig did not build', firstCompilerError('exit 2\n') ?? 'build failed'), 'pdig', kernel('6.1.158'), 'exit 2\n') },
  // ---- infrastructure: the phases' own ends
  { cls: 'infra:tool', what: 'the compiler killed (build phase)', run: () => ended(buildEnd(new InfraError('make in the builder had its compiler killed (out of memory?)'), 'kmod'), 'kmod') },
  { cls: 'infra:consumer-build', what: "sysdig's build failed (not the driver's)", run: () => ended(buildEnd(new BuildFailure('sysdig did not build (log: /x/build.log)', 'CMake Error at cmake/modules/cxxopts.cmake:34 (message):'), 'kmod'), 'kmod') },
  // run.ts's catch-all (runCell: `harness error: ${errorLine(e)}`)
  { cls: 'infra:harness', what: 'a bug of the harness', run: () => ended(new CellEnd('error', 'load', `harness error: ${errorLine(new TypeError("Cannot read properties of undefined (reading 'rc')"))}`), 'kmod') },
  // backends/vagrant.ts: a run interrupted while its box came up
  { cls: 'infra:other', what: 'an interrupted box', run: () => ended(new CellEnd('error', 'boot', 'the run was interrupted'), 'kmod') },
];

describe('every failure class, through the code that produces it', () => {
  for (const c of cases)
    it(`${c.cls}: ${c.what}`, () => {
      const r = c.run();
      assert.equal(r.class, c.cls, r.reason);
      if (c.says) assert.match(r.reason ?? '', c.says);
    });

  it('infra:fetch: the fetch phase on a kernel source that fails (not one the archive lacks)', async () => {
    const dir = tempDir('kmatrix-classes-');
    writeFileSync(path.join(dir, 'driver_config.h'), '#define DRIVER_VERSION "1.0.0"\n');
    const broken = { kind: 'test-broken', schema: {}, parse: (f: any) => f, fetch: () => Promise.reject(new Error('apt-get download failed: 503 Service Unavailable')) };
    KINDS.push(broken);
    try {
      const cell = { id: 'k/kmod@x/host', driver: 'kmod', kernel: { id: 'k', arch: 'amd64', machine: 'q35', source: { kind: 'test-broken' } }, source: { id: 'x', dir, consumer: 'c' }, profile: { id: 'host' } } as unknown as Cell;
      const e = await fetchPhase(cell, { debian: {} as Debian, kernelSettings: {} }).then(
        () => assert.fail('fetched'),
        (x: unknown) => x as CellEnd,
      );
      assert.ok(e instanceof CellEnd);
      assert.deepEqual([e.status, e.reason], ['error', 'fetch failed: apt-get download failed: 503 Service Unavailable']);
      assert.equal(ended(e, 'kmod').class, 'infra:fetch');
      cases.push({ cls: 'infra:fetch', what: 'fetch phase', run: () => ended(e, 'kmod') });
    } finally {
      KINDS.splice(KINDS.indexOf(broken), 1);
    }
  });

  it('every class of the vocabulary has a case here', () => {
    const covered = new Set(cases.map((c) => c.cls));
    assert.deepEqual(FAILURE_CLASS_NAMES.filter((k) => !covered.has(k)), []);
  });
});

describe("the kernel's facts and the causes they give", () => {
  it('read from a .config and the version: Debian 6.1, Debian 5.10, the 4.9 store kernel', () => {
    assert.deepEqual(featuresOf(DEBIAN_CONFIG, '6.1.158'), { bpf: true, btf: true, ringbuf: true, btfTracing: true, rawTracepoints: true, moduleSig: true, sigForce: false });
    assert.deepEqual(featuresOf(DEBIAN_CONFIG, '5.10.237'), { bpf: true, btf: true, ringbuf: true, btfTracing: true, rawTracepoints: true, moduleSig: true, sigForce: false });
    assert.deepEqual(featuresOf(STORE_49_CONFIG, '4.9.229'), { bpf: true, btf: false, ringbuf: false, btfTracing: false, rawTracepoints: false, moduleSig: false, sigForce: false });
    assert.equal(featuresOf('CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_FORCE=y\n', '6.1.1').sigForce, true);
    assert.match(featuresLine(featuresOf(STORE_49_CONFIG, '4.9.229')), /BTF no · BPF ring buffer \(5\.8\) no .* module signatures not checked \(no CONFIG_MODULE_SIG\)$/);
  });

  it("read once per kernel tree, from its headers' .config; none without one (a box)", async () => {
    const root = tempDir('kmatrix-kfeat-');
    const headers = 'usr/src/linux-headers-4.9.229';
    mkdirSync(path.join(root, headers), { recursive: true });
    writeFileSync(path.join(root, headers, '.config'), STORE_49_CONFIG);
    const k = { root, headers, version: '4.9.229' };
    assert.equal((await kernelFeatures(k))?.ringbuf, false);
    writeFileSync(path.join(root, headers, '.config'), DEBIAN_CONFIG); // read once: the tree's first answer stays
    assert.equal((await kernelFeatures(k))?.btf, false);
    assert.equal(await kernelFeatures({ root: '', headers: '', version: '5.4', box: { name: 'b', version: '1', local: true } }), undefined);
  });

  it('never turns a pass into a fail, nor changes a class the message decided', () => {
    const k49 = kernel('4.9.229', STORE_49_CONFIG);
    assert.equal(kernelCause({ status: 'pass', phase: 'capture', driver: 'modern-ebpf', kernel: k49 }), undefined);
    // ptrace-only on a kernel without a ring buffer: the capability is the class; the kernel's lack is said beside it only where the class may be the kernel's
    assert.equal(kernelCause({ status: 'fail', phase: 'load', class: 'load:permission', driver: 'modern-ebpf', kernel: k49 }), undefined);
    assert.deepEqual(kernelCause({ status: 'fail', phase: 'load', class: 'load:unsupported-map', driver: 'modern-ebpf', kernel: k49 })?.class, undefined);
    // a kernel that has everything says nothing
    assert.equal(kernelCause({ status: 'fail', phase: 'load', class: 'load:other', driver: 'modern-ebpf', kernel: kernel('6.1.158') }), undefined);
    // the consumer failing after the module loaded is not the signature's doing
    assert.equal(kernelCause({ status: 'fail', phase: 'load', class: 'load:other', reason: 'the consumer exited (code 1) without capturing', driver: 'kmod', kernel: kernel('6.1.158'), cmdline: ['module.sig_enforce=1'] }), undefined);
    // insmod refused under enforcement with words no rule knows: the signature
    assert.equal(kernelCause({ status: 'fail', phase: 'load', class: 'load:other', reason: 'insmod failed (exit 1)', driver: 'kmod', kernel: kernel('6.1.158'), cmdline: ['module.sig_enforce=1'] })?.class, 'load:signature');
    // module.sig_enforce=1 on a kernel that cannot check signatures (the 4.9 store kernel) enforces nothing
    assert.equal(kernelCause({ status: 'fail', phase: 'load', class: 'load:other', reason: 'insmod failed (exit 1)', driver: 'kmod', kernel: k49, cmdline: ['module.sig_enforce=1'] }), undefined);
    // the legacy probe below 4.14 whose log kept only the broken configure: the version check it cannot pass (quirks.h)
    assert.equal(kernelCause({ status: 'fail', phase: 'build', class: 'build:configure', driver: 'ebpf', kernel: k49 })?.class, 'build:kernel-version-check');
    // the legacy probe's build on 4.14+ with another failure: not the kernel's version
    assert.equal(kernelCause({ status: 'fail', phase: 'build', class: 'build:compiler', driver: 'ebpf', kernel: kernel('4.14.336', STORE_49_CONFIG, 'arm64') }), undefined);
  });
});

describe('the toolchain that built a driver, from its builder root', () => {
  // the shape of a bookworm builder root's var/lib/dpkg/status (cache builders/fa5479757e791bdf: gcc-12 12.2.0-14+deb12u1, clang-14 1:14.0.6-12)
  const status = [
    'Package: clang\nStatus: install ok installed\nVersion: 1:14.0-55.7~deb12u1\nDepends: clang-14 (>= 14~)',
    'Package: clang-14\nStatus: install ok installed\nVersion: 1:14.0.6-12\nDepends: libc6 (>= 2.34), libclang-common-14-dev (= 1:14.0.6-12)',
    'Package: gcc-12\nStatus: install ok installed\nVersion: 12.2.0-14+deb12u1',
    'Package: gcc-12-aarch64-linux-gnu\nStatus: install ok installed\nVersion: 12.2.0-14cross1',
    'Package: gcc\nStatus: install ok installed\nVersion: 4:12.2.0-3\nDepends: cpp (= 4:12.2.0-3), gcc-12 (>= 12.2.0-1~)',
    'Package: bpftool\nStatus: install ok installed\nVersion: 7.1.0+6.1.158-1',
    'Package: libbpf-dev\nStatus: install ok installed\nVersion: 1:1.1.0-1\nDepends: libbpf1 (= 1:1.1.0-1)',
    'Package: removed-one\nStatus: deinstall ok config-files\nVersion: 1',
  ].join('\n\n');
  const pkgs = parseDpkgStatus(status);

  it('reads installed packages, following a metapackage to its versioned compiler', () => {
    assert.equal(pkgs.has('removed-one'), false);
    assert.equal(installed(pkgs, 'clang'), 'clang-14 1:14.0.6-12');
    assert.equal(installed(pkgs, 'gcc'), 'gcc-12 12.2.0-14+deb12u1');
    assert.equal(installed(pkgs, 'libbpf-dev'), 'libbpf-dev 1:1.1.0-1');
  });

  it("a module: the kernel's compiler (the cross one for arm64); a probe: clang; modern eBPF: its consumer's clang, bpftool and libbpf", () => {
    const builder = { suite: 'bookworm', compiler: 'gcc-12' };
    assert.deepEqual(driverToolchain(pkgs, 'kmod', 'bookworm', builder), { suite: 'bookworm', by: 'driver', compiler: 'gcc-12 12.2.0-14+deb12u1' });
    assert.deepEqual(driverToolchain(pkgs, 'kmod', 'bookworm', builder, 'arm64'), { suite: 'bookworm +cross arm64', by: 'driver', compiler: 'gcc-12-aarch64-linux-gnu 12.2.0-14cross1' });
    assert.equal(driverToolchain(pkgs, 'ebpf', 'bookworm', builder).compiler, 'clang-14 1:14.0.6-12');
    const modern = consumerToolchain(pkgs, 'bookworm');
    // a consumer whose modern probe did not build: the build phase's end keeps the toolchain that failed
    const root = tempDir('kmatrix-root-');
    mkdirSync(path.join(root, 'var/lib/dpkg'), { recursive: true });
    writeFileSync(path.join(root, 'var/lib/dpkg/status'), status);
    const end = buildEnd(new BuildFailure('scap-open did not build', "bpf/x.bpf.c:1: error: use of undeclared identifier 'BPF_F_MMAPABLE'", { suite: 'bookworm', root }), 'modern-ebpf');
    assert.deepEqual([end.status, end.facts.toolchain], ['fail', modern]);
    assert.equal(toolchainLine(modern), "bookworm: clang-14 1:14.0.6-12, bpftool 7.1.0+6.1.158-1, libbpf-dev 1:1.1.0-1 (Debian's) (built into the consumer)");
  });
});

describe("the cell's details in the report", () => {
  it("show the kernel package's version, the kernel's facts and the toolchain", () => {
    const c: CellResult = {
      id: 'store-4.9-amd64/modern-ebpf@0.23.2/host',
      kernel: { id: 'store-4.9-amd64', arch: 'amd64', machine: 'q35', release: '4.9.229', version: '4.9.229', packageVersion: '4.9.229-1', features: featuresOf(STORE_49_CONFIG, '4.9.229') },
      toolchain: { suite: 'sid', by: 'consumer', compiler: 'clang-19 1:19.1.7-3', bpftool: 'bpftool 7.5.0+6.12.17-1', libbpf: "libbpf-dev 1:1.5.0-3 (Debian's)" },
      driver: { id: 'modern-ebpf', source: '0.23.2' },
      profile: 'host',
      status: 'fail',
      phase: 'load',
      reason: 'the consumer exited (code 1) without capturing — this kernel (4.9.229) has no BPF ring buffer (5.8): modern eBPF needs it',
      class: 'load:unsupported-map',
      durations: {},
      logs: {},
      attempts: 1,
    };
    const html = renderReport({ run: { id: 'r', startedAt: '2026-12-02T00:00:00Z', host: 'h', accel: 'tcg', kmatrixVersion: '0', matrix: { path: 'm', hash: 'x' }, mirror: 'm', expiredSuitesAccepted: [] }, cells: [c] });
    assert.match(html, /<div class="kfacts">kernel package 4\.9\.229-1 · bpf\(\) yes · BTF no · BPF ring buffer \(5\.8\) no/);
    assert.match(html, /<div class="toolchain">driver built with sid: clang-19 1:19\.1\.7-3, bpftool 7\.5\.0\+6\.12\.17-1, libbpf-dev 1:1\.5\.0-3 \(Debian&#39;s\) \(built into the consumer\)<\/div>/);
    assert.match(html, /this kernel \(4\.9\.229\) has no BPF ring buffer/);
  });
});
