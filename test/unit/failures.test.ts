// Failure classes (harness/failures.ts): each class from a real line — the
// first errors and reasons of real runs (kmatrix runs 20261130-110906Z, 119
// cells, and 20261130-101026Z / -103533Z, TCG), of real build logs (the
// cache's builds/<key>/build.log), or, where no run here produced the class,
// the literal message of the program that prints it (named in a comment) —;
// the verifier's reason in a rejected program's first error, from real
// guest logs (test/fixtures/verifier); expectations with a class; and the
// class in the report, JUnit, mochawesome and the history.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkExpectations, loadExpectations, mismatchLines } from '../../harness/ci/expectations.js';
import { noArtifact } from '../../harness/drivers/build.js';
import { classCounts, classify, classOf, FAILURE_CLASS_NAMES, FAILURE_CLASSES, isFailureClass, PAIRING_NOTE, type Classifiable } from '../../harness/failures.js';
import { GuestReader, judge, verifierReason } from '../../harness/guest.js';
import { diffRuns, historyEntry, historySection, type History } from '../../harness/reports/history.js';
import { renderReport } from '../../harness/reports/html.js';
import { renderJUnit } from '../../harness/reports/junit.js';
import { loadMatrix } from '../../harness/matrix.js';
import { mochawesomeData } from '../../harness/reports/mochawesome.js';
import type { ResultsFile } from '../../harness/results.js';
import { tempDir } from '../tmp.js';
import type { CellResult, FailureClass, RunInfo } from '../../harness/types.js';

const FIXTURES = path.resolve('test/fixtures/verifier');
const fixture = (f: string) => readFileSync(path.join(FIXTURES, f), 'utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const logLine = (name: string, text: string) => `KMATRIX v1 log ${name} ${b64(text).length} ${b64(text)}`;
const BOOT = 'KMATRIX v1 boot release=6.12.117+deb13-amd64 btime=1796033645 nproc=1';
const NONCE = 'n0nce';

function guest(lines: string[]) {
  const r = new GuestReader();
  for (const l of lines) r.feed(l);
  return r.report;
}

const fail = (phase: CellResult['phase'], reason: string, firstError?: string): Classifiable => ({ status: 'fail', phase, reason, firstError });
const error = (phase: CellResult['phase'], reason: string, firstError?: string): Classifiable => ({ status: 'error', phase, reason, firstError });

function cell(id: string, status: CellResult['status'], more: Partial<CellResult> = {}): CellResult {
  const [kernel] = id.split('/');
  return {
    id,
    kernel: { id: kernel!, arch: 'amd64', machine: 'q35', release: '6.12.117+deb13-amd64', version: '6.12.117' },
    driver: { id: id.includes('modern-ebpf') ? 'modern-ebpf' : 'kmod', source: '10.2.0' },
    profile: id.split('/')[2]!,
    status,
    durations: { fetch: 1 },
    logs: {},
    attempts: 1,
    ...more,
  };
}
const run = (id: string): RunInfo => ({ id, startedAt: `2026-11-30T0${id.slice(-1)}:00:00Z`, host: 'h', accel: 'tcg', kmatrixVersion: '0', matrix: { path: 'm', hash: 'x' }, mirror: 'm', expiredSuitesAccepted: [] });

describe('failure classes', () => {
  describe('the vocabulary', () => {
    it('is one fixed list, each with a meaning, and docs/failure-classes.md lists exactly it', () => {
      assert.ok(FAILURE_CLASS_NAMES.length >= 20 && FAILURE_CLASS_NAMES.length <= 40);
      for (const k of FAILURE_CLASS_NAMES) {
        assert.match(k, /^(build|load|capture|kernel|control|pairing|infra):[a-z-]+$/);
        assert.ok(FAILURE_CLASSES[k].length > 10, k);
      }
      const page = readFileSync('docs/failure-classes.md', 'utf8');
      const table = page.slice(page.indexOf('| class | meaning |'));
      const listed = [...table.matchAll(/^\| `([a-z]+:[a-z-]+)` \|/gm)].map((m) => m[1]);
      assert.deepEqual(listed, FAILURE_CLASS_NAMES);
      assert.equal(isFailureClass('load:verifier'), true);
      assert.equal(isFailureClass('load:nonsense'), false);
    });

    it('a pass and a skip have none; an error is always infra:*, a fail never', () => {
      assert.equal(classify({ status: 'pass', phase: 'capture', reason: 'marker seen in 1 event(s)' }), undefined);
      assert.equal(classify({ status: 'skip', phase: 'fetch', reason: 'this driver source has no legacy eBPF probe (removed upstream in libs 0.24.0 / driver 10.0.0)' }), undefined);
      // an error that reads like a driver failure is still infrastructure
      assert.equal(classify(error('load', 'QEMU was ended from outside (signal SIGKILL) during load', 'Key was rejected by service')), 'infra:qemu-died');
      assert.equal(classify(error('build', 'something new')), 'infra:other');
      assert.equal(classify(fail('load', 'something new')), 'load:other');
      assert.equal(classify(fail('capture', 'something new')), 'capture:other');
    });
  });

  describe('each class from a real line', () => {
    const cases: [FailureClass, Classifiable, string][] = [
      // run 20261130-110906Z, store-4.9-arm64-virt/ebpf@0.20.0/host (and store-4.9-amd64: the same line)
      ['build:kernel-version-check', fail('build', 'the eBPF probe did not build', '/build/bpf/quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled'), 'quirks.h, 4.9'],
      // cache builds/60e97b69e660211d/build.log (store-4.9-amd64 probe): builder.ts's first error of a failed configure sanity check
      ['build:kernel-version-check', fail('build', 'the eBPF probe did not build', 'configure sanity check failed: /build/bpf/configure/0__SANITY/../../quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled'), 'sanity check, 4.9'],
      // cache builds/f12cdea14555b459/build.log (0.1.1dev's module on 6.12.117+deb13-amd64)
      ['build:compiler', fail('build', 'the kernel module did not build', '/build/main.c:1495:22: error: implicit declaration of function ‘fd_is_open’; did you mean ‘finish_open’? [-Wimplicit-function-declaration]'), 'fd_is_open'],
      // cache builds/4a4c1db61238ce4d/build.log (an old module on 6.1.0-50-amd64)
      ['build:compiler', fail('build', 'the kernel module did not build', '/build/ppm_events.c:91:54: error: macro "access_ok" passed 3 arguments, but takes just 2'), 'access_ok'],
      // cache consumers/f4f84d8616bda5a5.failed.log (a Falco build's CMake configure)
      ['build:configure', fail('build', 'the consumer with the modern eBPF probe did not build', 'CMake Error at cmake/modules/cxxopts.cmake:34 (message):'), 'CMake'],
      // drivers/build.ts's own words when make exits 0 without the artifact (falco-0.26.0's probe on 6.x)
      ['build:no-artifact', fail('build', 'the eBPF probe did not build', noArtifact('bpf/probe.o', '/nonexistent')), 'no probe.o'],
      // pdig.ts's fallback when the log has no error line
      ['build:other', fail('build', 'pdig did not build', 'build failed'), 'no line'],
      // run 20261130-110906Z, debian-5.10-amd64/kmod@10.2.0/locked-down (module.sig_enforce=1)
      ['load:signature', fail('load', 'insmod failed (exit 129)', "insmod: can't insert '/kmatrix/scap.ko': Key was rejected by service"), 'sig_enforce'],
      // run 20261130-110906Z, debian-5.10-amd64/kmod@10.2.0/ptrace-only
      ['load:permission', fail('load', 'insmod failed (exit 1)', "insmod: can't insert '/kmatrix/scap.ko': Operation not permitted"), 'insmod EPERM'],
      // run 20261130-110906Z, debian-5.10-amd64/modern-ebpf@10.2.0/ptrace-only: libpman says "not supported", errno 1 is the capability
      ['load:permission', fail('load', 'the consumer exited (code 95) without capturing', 'libpman: ring buffer map type is not supported (errno: 1 | message: Operation not permitted)'), 'libpman EPERM'],
      // run 20261130-110906Z, store-4.9-amd64/modern-ebpf@falco-0.44.1/host: 4.9 has no ring buffer
      ['load:unsupported-map', fail('load', 'the consumer exited (code 1) without capturing', 'libpman: ring buffer map type is not supported (errno: 22 | message: Invalid argument)'), '4.9 ringbuf'],
      // not seen in a run yet: the probe's own version check (quirks.h's words) said when the consumer opens it
      ['load:kernel-version-check', fail('load', 'the consumer exited (code 1) without capturing', "The CAPTURE_SCHED_PROC_FORK support requires 'raw_tracepoints' so kernel versions greater or equal than '4.17'"), 'refused at open'],
      // run 20261130-110906Z, debian-6.1-arm64-virt/ebpf@0.20.0/host and debian-6.12-arm64-virt/ebpf@0.20.0/host
      ['load:mmap', fail('load', 'the consumer exited (code 1) without capturing', "unable to mmap the perf-buffer for cpu '0': Cannot allocate memory (1)"), 'ENOMEM'],
      ['load:mmap', fail('load', 'the consumer exited (code 1) without capturing', "unable to mmap the perf-buffer for cpu '0': Invalid argument (1)"), 'EINVAL'],
      // run 20261130-110906Z, debian-6.12-amd64/modern-ebpf@10.2.0/host (the first error's form before " — ")
      ['load:verifier', fail('load', 'the consumer exited (code 13) without capturing', "libbpf: prog 'signal_deliver': failed to load: -13 (verifier: R9 invalid mem access 'scalar')"), 'old form'],
      // run 20261130-101026Z, debian-6.12-amd64/modern-ebpf@falco-0.44.1/host: Falco's line, no verifier reason yet
      ['load:verifier', fail('load', 'the consumer exited (code 1) without capturing', "Mon Nov 30 10:14:26 2026: [libs]: libbpf: prog 'signal_deliver': BPF program load failed: Permission denied"), 'Falco EACCES'],
      // run 20261130-103533Z, debian-6.1-arm64-raspi3b-sd/ebpf@0.20.0/host: no first error at all
      ['load:timeout', fail('load', 'no result before the load timeout'), 'raspi3b'],
      // busybox 1.37's insmod (Debian trixie's busybox-static: "can't insert '%s': %s", ENOEXEC → "invalid module format")
      ['load:vermagic', fail('load', 'insmod failed (exit 1)', "insmod: can't insert '/kmatrix/scap.ko': invalid module format"), 'ENOEXEC'],
      // the kernel's module loader (kernel/module/version.c) on a module of another kernel
      ['load:vermagic', fail('load', 'insmod failed (exit 1)', 'scap: disagrees about version of symbol module_layout'), 'modversions'],
      // libscap's version check (userspace/libscap/scap.c of the libs in the cache's git checkouts)
      ['load:api-mismatch', fail('load', 'the consumer exited (code 1) without capturing', 'Driver supports API version 8.0.0, but running version needs 9.0.0'), 'API'],
      // libbpf's rewrite of a failed CO-RE relocation in the verifier log (fixup_log_failed_core_relo)
      ['load:btf', fail('load', 'the consumer exited (code 1) without capturing', "libbpf: prog 'pf_kernel': failed to load: -22 — failed to resolve CO-RE relocation <byte_off> [42] struct kernfs_node.parent (0:3 @ offset 0)"), 'CO-RE'],
      // the kernel verifier's own words (kernel/bpf/verifier.c: "BPF program is too large. Processed %d insn")
      ['load:verifier-limit', fail('load', 'the consumer exited (code 13) without capturing', "libbpf: prog 'sys_enter': failed to load: -7 — BPF program is too large. Processed 1000001 insn"), 'too large'],
      // guest.ts's verdicts (judge) from the guest's report
      ['capture:no-marker', fail('capture', 'marker not found in 4242 captured event(s) after 25s'), 'no marker'],
      ['capture:consumer-died', fail('load', 'the consumer was killed by signal 7 (SIGBUS) without capturing'), 'SIGBUS'],
      ['capture:timeout', fail('capture', 'no result before the capture timeout'), 'capture timeout'],
      // the kernel module's own printk (driver/main.c of the libs in the cache: "corrupted filler for event type %d (added %u args, should have added %u)")
      ['capture:corrupt-event', fail('capture', 'marker not found in 12 captured event(s) after 30s', 'corrupted filler for event type 293 (added 2 args, should have added 3)'), 'filler'],
      // guest.ts's verdicts on the battery (battery.ts's describeProblem: its own examples) and on events the consumer could not parse
      ['capture:wrong-params', fail('capture', 'marker seen, but the battery has 1 call(s) wrong and 0 missing', 'battery: write #3: size expected 29, saw 64'), 'battery field'],
      ['capture:missing-events', fail('capture', 'marker seen, but the battery has 0 call(s) wrong and 1 missing', 'battery: renameat2 #8: no event'), 'battery call'],
      ['capture:missing-events', fail('capture', 'marker seen, but the battery has 1 call(s) wrong and 0 missing', 'battery: read #6: no enter event'), 'battery enter'],
      ['capture:corrupt-event', fail('capture', 'marker seen, but 2 event(s) could not be parsed', 'could not parse param 1 for event 293'), 'parse errors'],
      // guest.ts's verdicts on a workload not run whole (battery.ts scriptProblem's words), on drops, on a consumer gone during the soak
      ['capture:workload-incomplete', fail('capture', 'marker seen, but the battery did not run its whole script', 'battery: stopped after 7 of 20 calls (exit 1)'), 'battery cut'],
      ['capture:workload-incomplete', fail('capture', 'marker seen, but the guest reported no battery', 'battery: the guest reported no battery'), 'no battery'],
      ['capture:workload-incomplete', fail('capture', 'marker seen, but the soak ran no battery in 5 s', 'soak: 0 battery run(s) in 5 s'), 'soak without runs'],
      ['capture:drops', fail('capture', 'marker seen, but the driver dropped 200 of 10100 event(s) (1.98%), above workload.maxDropRatio 1%', 'drops: the driver dropped 200 of 10100 event(s) (1.98%), above workload.maxDropRatio 1%'), 'drops'],
      ['capture:consumer-died', fail('capture', 'the consumer exited (code 1) during the soak', 'sysdig exited (code 1)'), 'exit during the soak'],
      ['capture:consumer-died', fail('capture', 'the consumer was killed by signal 9 (SIGKILL) during the battery', 'sysdig was killed by signal 9 (SIGKILL)'), 'killed during the battery'],
      // init.sh's `battery rc=127 missing=1`: the harness did not deliver the program
      ['infra:harness', error('capture', 'harness error: the battery program is not in the guest (/kmatrix/kmbattery)', 'battery: /kmatrix/kmbattery missing from the guest (rc 127)'), 'no battery program'],
      // pdig fc679b8 built against libs e5c53d6 (run 20261130-120546Z, debian-6.1-amd64/pdig@pdig-fc679b8/host): its stderr's line, judge()'s attribution
      ['pairing:schema-mismatch', fail('capture', `marker seen, but 1 event(s) could not be parsed (${PAIRING_NOTE})`, 'corrupted filler for event type 293 (added 19 args, should have added 20)'), 'pdig vs its tree'],
      ['kernel:oops', fail('load', 'kernel BUG while loading the driver', 'BUG: kernel NULL pointer dereference, address: 0000000000000010'), 'BUG'],
      ['kernel:oops', fail('capture', 'kernel WARNING while capturing', 'WARNING: CPU: 0 PID: 77 at kernel/tracepoint.c:1 foo+0x1/0x2'), 'WARN'],
      // controls.ts's verdict for a kernel that took another kernel's module
      ['control:accepted', fail('load', 'kernel debian-6.1-amd64 (6.1.0-50-amd64) accepted a kernel module built for debian-5.10-amd64 (5.10.0-30-amd64) (insmod exit 0): the load phase cannot tell a foreign module'), 'control'],
      // guest.ts / backends' infrastructure reasons
      ['infra:boot-timeout', error('boot', 'the guest did not reach init before the boot timeout'), 'boot timeout'],
      ['infra:boot-crash', error('boot', 'the kernel crashed before init reported (panic)', 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000'), 'panic before init'],
      ['infra:boot-module', error('boot', "the guest could not load the kernel's module vxlan (insmod exit 1)", "insmod: can't insert '/kmatrix/modules/02-vxlan.ko': unknown symbol in module, or unknown parameter"), 'guest module'],
      ['infra:boot-module', error('build', "guest modules: kernel debian-trixie-amd64 (6.12.117+deb13-amd64) has no module nosuchmod: neither in its modules.builtin nor among its packages' modules (KMATRIX_GUEST_MODULES=nosuchmod)"), 'missing module'],
      ['infra:boot-no-console', error('boot', "the guest ended without init's report on the console: its output did not reach the serial console (the kernel had no console to give init); the console's last lines: \"Warning: unable to open an initial console.\""), 'no console'],
      ['infra:qemu-died', error('boot', 'QEMU exited (exit code 1) before the guest reached init'), 'QEMU exit'],
      ['infra:tool', error('build', 'build infrastructure failed: the build of scap.ko was killed by SIGKILL'), 'killed build'],
      ['infra:tool', error('boot', 'VM infrastructure failed: spawn qemu-system-aarch64 ENOENT'), 'VM'],
      ['infra:fetch', error('fetch', 'fetch failed: apt-get download failed: 503 Service Unavailable'), 'mirror'],
      ['infra:consumer-build', error('build', 'the consumer did not build: sysdig did not build (log: /x/build.log)', 'CMake Error at cmake/modules/cxxopts.cmake:34 (message):'), 'consumer'],
      ['infra:harness', error('load', "harness error: Cannot read properties of undefined (reading 'rc')"), 'bug'],
    ];
    for (const [want, r, what] of cases)
      it(`${want} (${what})`, () => {
        assert.equal(classify(r), want, `${r.reason} | ${r.firstError ?? ''}`);
      });

    it('every class of the vocabulary has a case (the *:other fallbacks: in the test of errors above)', () => {
      const covered = new Set<string>([...cases.map((c) => c[0]), 'load:other', 'capture:other', 'infra:other']);
      assert.deepEqual(FAILURE_CLASS_NAMES.filter((k) => !covered.has(k)), []);
    });

    it("the filler check's words alone are no pairing: a kernel module's fillers and table are one tree", () => {
      // without judge()'s attribution (pdig cells only) it stays the driver's corrupt event, and the note needs the line
      assert.equal(classify(fail('capture', 'marker seen, but 1 event(s) could not be parsed', 'corrupted filler for event type 293 (added 19 args, should have added 20)')), 'capture:corrupt-event');
      assert.equal(classify(fail('capture', `marker seen, but 1 event(s) could not be parsed (${PAIRING_NOTE})`, 'could not parse param 1 for event 293')), 'capture:corrupt-event');
    });

    it('a build whose first error says too little is classed from its build log', () => {
      // cache builds/60e97b69e660211d/build.log (store-4.9-amd64 probe), its lines as the log has them
      const log = [
        "[configure-bpf] Build system is broken, please see above errors",
        '/build/bpf//configure/0__SANITY/Makefile.inc:21: *** The build system is broken, please see above errors.  Stop.',
        'make[1]: *** [Makefile:1546: _module_/build/bpf] Error 2',
        '/build/bpf/configure/0__SANITY/../../quirks.h:16:2: error: Kernel version must be >= 4.14 with eBPF enabled',
      ].join('\n');
      const r = fail('build', 'the eBPF probe did not build', 'build failed');
      assert.equal(classify(r), 'build:other');
      assert.equal(classify(r, { build: log }), 'build:kernel-version-check', 'the log names the version check');
      assert.equal(classify(r, { build: log.split('\n').slice(0, 3).join('\n') }), 'build:configure', 'without it: the broken configure');
    });
  });

  describe("the verifier's reason in the first error", () => {
    const exit = { timedOut: false, phase: 'load' as const };

    it('Falco on 6.12: libbpf\'s line — the reason above "processed N insns", not an instruction', () => {
      const r = guest([BOOT, 'KMATRIX v1 consumer started pid=146', logLine('consumer', fixture('falco-6.12-amd64-consumer.txt')), 'KMATRIX v1 capture found=0 alive=0 rc=1 seconds=13 untraced=0']);
      const v = judge(r, 'modern-ebpf', 'falco', NONCE, exit);
      // the reason's origin further up the log: instruction 0 loaded arg1 into R9, and the verifier made it a scalar
      assert.equal(v.firstError, "libbpf: prog 'signal_deliver': BPF program load failed: Permission denied — R9 invalid mem access 'scalar' (R9 is arg1: marking pointer arg1 as scalar as it may encode error)");
      assert.equal(classify({ ...v, status: 'fail' }), 'load:verifier');
    });

    it("scap-open 0.20.0 on 6.12 arm64: its stderr says only ' (13)'; the reason is in its output", () => {
      const r = guest([BOOT, logLine('consumer', fixture('scap-open-0.20.0-6.12-arm64-consumer.txt')), logLine('stats', fixture('scap-open-0.20.0-6.12-arm64-stats.txt')), 'KMATRIX v1 capture found=0 alive=0 rc=13 seconds=17']);
      const v = judge(r, 'modern-ebpf', 'scap-open', NONCE, exit);
      assert.equal(v.firstError, "libbpf: prog 'signal_deliver': failed to load: -13 — R5 invalid mem access 'scalar'");
    });

    it('never an instruction or register line: a log whose reason is cut gives the loader line alone', () => {
      const cut = fixture('falco-6.12-amd64-consumer.txt').replace("R9 invalid mem access 'scalar'\n", '');
      const lines = cut.split('\n').map((l) => l.replace(/^[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \d{4}: (\[libs\]: )?/, ''));
      assert.equal(verifierReason(lines, 'signal_deliver'), undefined);
      const r = guest([BOOT, logLine('consumer', cut), 'KMATRIX v1 capture found=0 alive=0 rc=1 seconds=13']);
      assert.equal(judge(r, 'modern-ebpf', 'falco', NONCE, exit).firstError, "libbpf: prog 'signal_deliver': BPF program load failed: Permission denied");
    });

    it("the limit: the verifier's own words, classed apart", () => {
      const big = fixture('falco-6.12-amd64-consumer.txt').replace("R9 invalid mem access 'scalar'", 'BPF program is too large. Processed 1000001 insn');
      const r = guest([BOOT, logLine('consumer', big), 'KMATRIX v1 capture found=0 alive=0 rc=1 seconds=13']);
      const v = judge(r, 'modern-ebpf', 'falco', NONCE, exit);
      assert.equal(v.firstError, "libbpf: prog 'signal_deliver': BPF program load failed: Permission denied — BPF program is too large. Processed 1000001 insn");
      assert.equal(classify({ ...v, status: 'fail' }), 'load:verifier-limit');
    });

    it("the failed program's own log, when libbpf printed another program's first", () => {
      // two logs: a program libbpf may drop (its "helper call is not allowed in probe", run 20261130-110906Z, 5.10), then the one that failed
      const lines = [
        "libbpf: prog 'dump_task_file': -- BEGIN PROG LOAD LOG --",
        '34628: (85) call bpf_d_path#147',
        'helper call is not allowed in probe',
        'processed 355 insns (limit 1000000) max_states_per_insn 0 total_states 25 peak_states 25 mark_read 13',
        '-- END PROG LOAD LOG --',
        "libbpf: prog 'signal_deliver': -- BEGIN PROG LOAD LOG --",
        '130: (61) r2 = *(u32 *)(r9 +0)',
        "R9 invalid mem access 'scalar'",
        'processed 127 insns (limit 1000000) max_states_per_insn 0 total_states 9 peak_states 9 mark_read 7',
        '-- END PROG LOAD LOG --',
      ];
      assert.equal(verifierReason(lines, 'signal_deliver'), "R9 invalid mem access 'scalar'");
      assert.equal(verifierReason(lines, 'dump_task_file'), 'helper call is not allowed in probe');
    });
  });

  describe('expectations with a class', () => {
    const dir = tempDir('kmatrix-cls-');
    const file = path.join(dir, 'expectations.yaml');
    const IDS = ['k6.12/modern-ebpf@10.2.0/host', 'k6.12/modern-ebpf@10.2.0/ptrace-only', 'k6.12/kmod@10.2.0/host', 'a'];
    const verifierFailure = (id: string) =>
      cell(id, 'fail', { phase: 'load', reason: 'the consumer exited (code 13) without capturing', firstError: "libbpf: prog 'signal_deliver': failed to load: -13 — R9 invalid mem access 'scalar'" });

    it('a cell failing as the expected class matches; as another, it is a mismatch naming both', () => {
      writeFileSync(file, 'expected:\n  - cell: "k6.12/modern-ebpf@*/*"\n    reason: the verifier rejects signal_deliver\n    class: load:verifier\n  - cell: "k6.12/kmod@*/*"\n    reason: fd_is_open undeclared\n    class: build:compiler\n');
      const exp = loadExpectations(file, IDS);
      assert.equal(exp[0]!.class, 'load:verifier');
      const ok = verifierFailure('k6.12/modern-ebpf@10.2.0/host');
      // the same cell failing another way: the ring buffer refused for the capability (ptrace-only's line)
      const other = cell('k6.12/modern-ebpf@10.2.0/ptrace-only', 'fail', { phase: 'load', reason: 'the consumer exited (code 95) without capturing', firstError: 'libpman: ring buffer map type is not supported (errno: 1 | message: Operation not permitted)', class: 'load:permission' });
      const anyway = cell('k6.12/kmod@10.2.0/host', 'fail', { phase: 'build', reason: 'the kernel module did not build', firstError: 'x.c:1:2: error: y' });
      const ms = checkExpectations([ok, other, anyway], exp);
      assert.deepEqual(ms.map((m) => [m.kind, m.cell]), [['unexpected-class', 'k6.12/modern-ebpf@10.2.0/ptrace-only']]);
      assert.match(ms[0]!.why, /^fails, but as load:permission not load:verifier/);
      assert.match(mismatchLines(ms)[0]!, /^UNEXPECTED CLASS: k6\.12\/modern-ebpf@10\.2\.0\/ptrace-only/);
    });

    it('a result written before classes is classed from its first error', () => {
      writeFileSync(file, 'expected:\n  - cell: "k6.12/modern-ebpf@*/*"\n    reason: r\n    class: load:mmap\n');
      const ms = checkExpectations([verifierFailure('k6.12/modern-ebpf@10.2.0/host')], loadExpectations(file, IDS));
      assert.deepEqual(ms.map((m) => m.kind), ['unexpected-class']);
      assert.match(ms[0]!.why, /as load:verifier not load:mmap/);
    });

    it('an unknown class, or a class on a skip, is a one-paragraph error with file and line', () => {
      writeFileSync(file, 'expected:\n  - cell: a\n    reason: r\n    class: load:verifer\n');
      assert.throws(() => loadExpectations(file, IDS), (e: Error) => e.name === 'UserError' && /expectations.yaml:2 \(expected.0\): class must be one of .*load:verifier.* not load:verifer/.test(e.message));
      writeFileSync(file, 'expected:\n  - cell: a\n    reason: r\n    status: skip\n    class: load:verifier\n');
      assert.throws(() => loadExpectations(file, IDS), (e: Error) => e.name === 'UserError' && /a class is for a failure/.test(e.message));
    });

    it('the committed expectations.yaml gives classes, each of the vocabulary', () => {
      const committed = loadExpectations('expectations.yaml', loadMatrix('matrix.yaml').cells.map((c) => c.id));
      const classed = committed.filter((e) => e.class);
      assert.ok(classed.length >= 3, 'some expectations name their class');
      assert.ok(classed.some((e) => e.cell.startsWith('debian-6.12-') && e.cell.includes('modern-ebpf') && e.class === 'load:verifier'));
      for (const e of classed) for (const c of [e.class].flat()) assert.ok(isFailureClass(c), e.cell);
    });
  });

  describe('in the reports', () => {
    const cells = [
      cell('k6.12/modern-ebpf@10.2.0/host', 'fail', { phase: 'load', reason: 'the consumer exited (code 13) without capturing', firstError: "libbpf: prog 'signal_deliver': failed to load: -13 — R9 invalid mem access 'scalar'", class: 'load:verifier' }),
      cell('k6.12/kmod@10.2.0/locked-down', 'fail', { phase: 'load', reason: 'insmod failed (exit 129)', firstError: "insmod: can't insert '/kmatrix/scap.ko': Key was rejected by service", class: 'load:signature' }),
      // written before classes: no class field, computed for the report
      cell('k6.12/kmod@10.2.0/host', 'error', { phase: 'boot', reason: 'the guest did not reach init before the boot timeout' }),
      cell('k6.12/kmod@10.2.0/ptrace-only', 'skip', { reason: 'not here' }),
      cell('k6.1/kmod@10.2.0/host', 'pass'),
    ];
    const data: ResultsFile = { run: run('r2'), cells };

    it('the grid shows each non-pass cell\'s class, and a class filter with counts', () => {
      const html = renderReport(data);
      assert.match(html, /class="st fail">fail · load<span class="cls">load:verifier<\/span><\/summary>/);
      assert.match(html, /class="st error">error · boot<span class="cls">infra:boot-timeout<\/span>/);
      assert.match(html, /data-status="fail" data-class="load:signature"/);
      assert.match(html, /data-status="pass" data-class=""/);
      assert.match(html, /<select data-filter="class"><option value="">all<\/option><option value="infra:boot-timeout" title="[^"]+">infra:boot-timeout \(1\)<\/option>/);
      assert.match(html, /<option value="load:verifier" title="the BPF verifier rejected a program[^"]*">load:verifier \(1\)<\/option>/);
      assert.match(html, /td\.dataset\.class===f\.cls/, 'the page script filters on it');
      assert.deepEqual(classCounts(cells), [['infra:boot-timeout', 1], ['load:signature', 1], ['load:verifier', 1]]);
    });

    it("JUnit gives the class as the failure's and the error's type", () => {
      const xml = renderJUnit(data);
      assert.match(xml, /<failure message="load: the consumer exited \(code 13\) without capturing" type="load:verifier">/);
      assert.match(xml, /<error message="boot: the guest did not reach init before the boot timeout" type="infra:boot-timeout"\/>/);
      assert.doesNotMatch(xml, /<skipped[^>]*type=/);
    });

    it("mochawesome has it in the test's context and error", () => {
      const m = mochawesomeData(data) as { results: { suites: { tests: { title: string; context: string; err: { estack?: string } }[] }[] }[] };
      const tests = m.results[0]!.suites.flatMap((s) => s.tests);
      const t = tests.find((x) => x.title === 'k6.12/kmod@10.2.0/locked-down')!;
      assert.deepEqual(JSON.parse(t.context)[1], { title: 'class', value: 'load:signature' });
      assert.match(t.err.estack!, /^class: load:signature\n/);
      const passed = tests.find((x) => x.title === 'k6.1/kmod@10.2.0/host')!;
      assert.doesNotMatch(passed.context, /"class"/);
    });

    it('the history counts regressions by class', () => {
      const before: ResultsFile = { run: run('r1'), cells: cells.map((c) => ({ ...c, status: 'pass' as const, class: undefined })) };
      const h: History = { runs: [historyEntry(before), historyEntry(data)] };
      assert.equal(h.runs[1]!.classes?.['k6.12/kmod@10.2.0/locked-down'], 'load:signature');
      assert.equal(h.runs[1]!.classes?.['k6.1/kmod@10.2.0/host'], undefined);
      const d = diffRuns(h.runs[0], h.runs[1]!);
      assert.deepEqual(d.regressions, ['k6.12/kmod@10.2.0/locked-down', 'k6.12/modern-ebpf@10.2.0/host']);
      assert.deepEqual(d.regressionsByClass, [['load:signature', 1], ['load:verifier', 1]]);
      const html = historySection(h, (id) => `runs/${id}/`);
      assert.match(html, /Regressions by class: <code>load:signature<\/code> 1 · <code>load:verifier<\/code> 1/);
      assert.match(html, /<code>k6\.12\/modern-ebpf@10\.2\.0\/host<\/code><\/a> <span class="rel">fail for 1 run\(s\)<\/span> <code class="cls">load:verifier<\/code>/);
      // an entry written before classes: its regressions are "unclassified"
      const old = { ...h.runs[1]!, classes: undefined };
      assert.deepEqual(diffRuns(h.runs[0], old).regressionsByClass, [['unclassified', 2]]);
    });

    it('classOf keeps a class the result carries and computes one it lacks', () => {
      assert.equal(classOf({ status: 'fail', phase: 'load', reason: 'x', class: 'load:btf' }), 'load:btf');
      assert.equal(classOf({ status: 'fail', phase: 'load', reason: 'insmod failed (exit 1)', firstError: "insmod: can't insert '/kmatrix/scap.ko': Operation not permitted" }), 'load:permission');
      assert.equal(classOf({ status: 'pass', phase: 'capture', reason: 'ok' }), undefined);
    });
  });
});
