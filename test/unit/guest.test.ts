import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GuestReader, judge, markerEvents, parseGuestLine, firstErrorLine, cellEnvFile, loopWatchdog, overheadOf, pdigWarnings } from '../../harness/guest.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const logLine = (name: string, text: string) => `KMATRIX v1 log ${name} ${b64(text).length} ${b64(text)}`;
const NONCE = 'abc123';
const captured = `KMEVT 10 < openat cat /tmp/kmatrix-marker-${NONCE}\nKMEVT 11 < close cat /tmp/kmatrix-marker-${NONCE}\n`;

/** The real battery of debian-6.1-amd64/kmod@0.23.2 (test/fixtures/battery), its nonce made this file's: what a cell whose consumer prints parameters reports beside the marker. */
function batteryLines(): string[] {
  const [script, events] = ['script', 'events'].map((x) => readFileSync(`test/fixtures/battery/kmod@0.23.2.${x}`, 'utf8'));
  const theirs = /kmatrix-battery-(\w+)/.exec(script!)![1]!;
  return ['KMATRIX v1 battery rc=0 seconds=1.5 alive=1', logLine('battery', script!.replaceAll(theirs, NONCE)), logLine('battery-events', events!.replaceAll(theirs, NONCE))];
}

function read(lines: string[]) {
  const r = new GuestReader();
  lines.forEach((l) => r.feed(l));
  return r.report;
}

describe('guest console protocol', () => {
  it('parses verbs and fields, ignoring anything else', () => {
    assert.deepEqual(parseGuestLine('KMATRIX v1 boot release=6.1.0-50-amd64 btime=12'), { verb: 'boot', fields: { release: '6.1.0-50-amd64', btime: '12' } });
    assert.deepEqual(parseGuestLine('[    1.2] random kernel line'), undefined);
    assert.deepEqual(parseGuestLine('KMATRIX v2 boot'), undefined);
    assert.deepEqual(parseGuestLine('KMATRIX v1 reboot now'), undefined);
    assert.deepEqual(parseGuestLine('\u0000\u00ff garbage KMATRIX'), undefined);
    assert.deepEqual(parseGuestLine('KMATRIX v1 done\r'), { verb: 'done' });
  });

  it('finds a message behind console noise on the same line', () => {
    assert.deepEqual(parseGuestLine('[  2.0] foo KMATRIX v1 insmod rc=0'), { verb: 'insmod', fields: { rc: '0' } });
  });

  it('decodes logs and rejects truncated or corrupted ones', () => {
    const full = logLine('consumer', 'Unable to load the driver\n');
    assert.deepEqual(parseGuestLine(full), { verb: 'log', name: 'consumer', text: 'Unable to load the driver\n' });
    assert.equal(parseGuestLine(full.slice(0, -3)), undefined, 'truncated');
    assert.equal(parseGuestLine(full.replace(/.$/, '!')), undefined, 'not base64');
    assert.equal(parseGuestLine('KMATRIX v1 log consumer x abc'), undefined, 'no length');
  });

  it('quotes cell.env values for the guest shell', () => {
    const env = cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'n', engineArgs: "--bpf='/x y'", runAs: '', captureTimeout: 5 });
    assert.match(env, /^KM_ENGINE_ARGS='--bpf='\\''\/x y'\\'''$/m);
    assert.match(env, /^KM_CAPTURE_TIMEOUT='5'$/m);
  });
});

describe('cell verdict from the guest report', () => {
  const boot = 'KMATRIX v1 boot release=6.1.0-50-amd64 btime=1795868213';
  const exit = { timedOut: false, phase: 'capture' as const };

  it('passes only when an open of the marker file was captured (and, sysdig printing parameters, the battery reported)', () => {
    const r = read([boot, 'KMATRIX v1 insmod rc=0', ...batteryLines(), logLine('captured', captured), 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=2 lines=2', 'KMATRIX v1 done']);
    const v = judge(r, 'kmod', 'sysdig', NONCE, exit);
    assert.equal(v.status, 'pass', v.reason);
    assert.equal(v.events, 2);
    assert.equal(v.marker, true);
    assert.deepEqual(v.lines, [`KMEVT 10 < openat cat /tmp/kmatrix-marker-${NONCE}`]);
    // the marker alone is no pass
    const alone = judge(read([boot, 'KMATRIX v1 insmod rc=0', logLine('captured', captured), 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=2 lines=2', 'KMATRIX v1 done']), 'kmod', 'sysdig', NONCE, exit);
    assert.deepEqual([alone.status, alone.marker, alone.firstError], ['fail', true, 'battery: the guest reported no battery']);
  });

  it('a captured line naming another nonce is not the marker', () => {
    const r = read([boot, 'KMATRIX v1 insmod rc=0', logLine('captured', captured.replaceAll(NONCE, 'zzz999')), 'KMATRIX v1 capture found=0 alive=1 rc=0 seconds=90 lines=2']);
    const v = judge(r, 'kmod', 'sysdig', NONCE, exit);
    assert.equal(v.status, 'fail');
    assert.equal(v.phase, 'capture');
    assert.match(v.reason, /marker not found in 2 captured event/);
  });

  it("no boot line is an infrastructure error, with the timeout named and the console's last lines (or that it printed none)", () => {
    assert.deepEqual(
      [judge(read(['garbage']), 'kmod', 'sysdig', NONCE, { timedOut: true, phase: 'boot' })].map((v) => [v.status, v.phase, v.reason]),
      [['error', 'boot', `the guest did not reach init before the boot timeout; the console's last lines: "garbage"`]],
    );
    assert.equal(judge(read([]), 'kmod', 'sysdig', NONCE, { timedOut: true, phase: 'boot' }).reason, 'the guest did not reach init before the boot timeout (the console printed nothing)');
    // only the last five lines, timestamps cut; the guest's own reports are not console lines
    const many = read([...Array.from({ length: 9 }, (_, i) => `[    ${i}.000000] line ${i}`), 'KMATRIX v1 module name=x rc=0']);
    assert.match(judge(many, 'kmod', 'sysdig', NONCE, { timedOut: true, phase: 'boot' }).reason, /last lines: "line 4" \| "line 5" \| "line 6" \| "line 7" \| "line 8"$/);
    assert.equal(many.consoleLines, 9);
  });

  it("a boot that ended by itself without init's report says init's output never reached the console; VFS and init failures are the first error", () => {
    const quiet = judge(read([]), 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'boot' });
    assert.match(quiet.reason, /^the guest ended without init's report on the console: .*no console driver for it in the kernel, or the console on another port\) \(the console printed nothing\)$/);
    const noInit = judge(read(['[    1.5] Failed to execute /init (error -8)', '[    1.6] Kernel panic - not syncing: No working init found.']), 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'boot' });
    assert.equal(noInit.firstError, 'Kernel panic - not syncing: No working init found.');
    const hang = judge(read(['[    1.5] VFS: Unable to mount root fs via NFS', '[    9.0] random: crng init done']), 'kmod', 'sysdig', NONCE, { timedOut: true, phase: 'boot' });
    assert.equal(hang.firstError, 'VFS: Unable to mount root fs via NFS');
  });

  it("a module of the kernel that init.sh could not insert ends the cell as an error at boot, naming it and insmod's words", () => {
    const r = read(['KMATRIX v1 module name=udp_tunnel rc=0', logLine('module-vxlan', "insmod: can't insert '/kmatrix/modules/02-vxlan.ko': unknown symbol in module, or unknown parameter\n"), 'KMATRIX v1 module name=vxlan rc=1', boot, 'KMATRIX v1 done']);
    assert.deepEqual(r.modules, [{ name: 'udp_tunnel', rc: 0 }, { name: 'vxlan', rc: 1 }]);
    const v = judge(r, 'kmod', 'sysdig', NONCE, exit);
    assert.deepEqual([v.status, v.phase, v.reason], ['error', 'boot', "the guest could not load the kernel's module vxlan (insmod exit 1)"]);
    assert.match(v.firstError!, /unknown symbol in module/);
  });

  it('insmod refusal fails at load with the error line', () => {
    const r = read([boot, logLine('insmod', 'insmod: ERROR: could not insert module /kmatrix/scap.ko: Key was rejected by service\n'), 'KMATRIX v1 insmod rc=1', 'KMATRIX v1 done']);
    const v = judge(r, 'kmod', 'sysdig', NONCE, exit);
    assert.deepEqual([v.status, v.phase], ['fail', 'load']);
    assert.match(v.firstError!, /Key was rejected by service/);
  });

  it('a consumer that dies without events fails at load with its error', () => {
    const r = read([boot, 'KMATRIX v1 insmod rc=0', logLine('consumer', 'some banner\nmmap (3): Cannot allocate memory\n'), 'KMATRIX v1 capture found=0 alive=0 rc=1 seconds=3 lines=0']);
    const v = judge(r, 'ebpf', 'sysdig', NONCE, exit);
    assert.deepEqual([v.status, v.phase, v.firstError, v.reason], ['fail', 'load', 'mmap (3): Cannot allocate memory', 'the consumer exited (code 1) without capturing']);
  });

  it('a kernel panic after boot is the driver failing at its phase, not infrastructure', () => {
    const r = read([boot, '[   3.1] BUG: kernel NULL pointer dereference, address: 0000000000000010', '[   3.2] Kernel panic - not syncing: Fatal exception']);
    const v = judge(r, 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'load' });
    assert.deepEqual([v.status, v.phase], ['fail', 'load']);
    assert.match(v.firstError!, /BUG: kernel NULL pointer dereference/);
  });

  it('console watching keeps the Oops block as an excerpt, up to the end of its trace', () => {
    const oops = [
      '[    9.1] BUG: kernel NULL pointer dereference, address: 0000000000000000',
      '[    9.1] #PF: supervisor write access in kernel mode',
      '[    9.1] Oops: 0002 [#1] PREEMPT SMP NOPTI',
      '[    9.1] RIP: 0010:oops_init+0x5/0x1000 [scap]',
      '[    9.2] ---[ end trace 0000000000000000 ]---',
      '[    9.2] Kernel panic - not syncing: Fatal exception',
    ];
    const r = read([boot, 'KMATRIX v1 consumer started pid=9', ...oops]);
    const v = judge(r, 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'load' });
    assert.deepEqual([v.status, v.phase, v.reason], ['fail', 'load', 'kernel BUG while loading the driver']);
    assert.match(v.firstError!, /^BUG: kernel NULL pointer dereference/);
    assert.equal(v.oops, oops.slice(0, 5).join('\n'), 'the block from the headline to its end-of-trace line');
  });

  it('a WARN while capturing fails the cell at capture even with the marker seen', () => {
    const r = read([boot, 'KMATRIX v1 insmod rc=0', 'KMATRIX v1 attached seconds=1', '[ 5.0] WARNING: CPU: 0 PID: 77 at kernel/tracepoint.c:1 foo+0x1/0x2', '[ 5.0] Tainted: G        W  O', logLine('captured', captured), 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=1 lines=2']);
    const v = judge(r, 'kmod', 'sysdig', NONCE, exit);
    assert.deepEqual([v.status, v.phase, v.reason], ['fail', 'capture', 'kernel WARNING while capturing']);
    assert.match(v.oops!, /Tainted: G +W/);
  });

  it('a panic before init reported is infrastructure, named as a crash; QEMU ended from outside is infrastructure too', () => {
    const p = judge(read(['[ 1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000']), 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'boot' });
    assert.deepEqual([p.status, p.phase, p.reason], ['error', 'boot', `the kernel crashed before init reported (panic); the console's last lines up to the crash: "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"`]);
    assert.match(p.firstError!, /Attempted to kill init/);
    const k = judge(read([boot]), 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'load', killed: 'signal SIGKILL' });
    assert.deepEqual([k.status, k.phase, k.reason], ['error', 'load', 'QEMU was ended from outside (signal SIGKILL) during load']);
  });

  it("QEMU's own refusal of an image: its words in the reason and as the first error, not an empty console", () => {
    const said = 'qemu: linux kernel too old to load a ram disk';
    const q = judge(read([]), 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'boot', killed: 'exit code 1', said });
    assert.deepEqual([q.status, q.phase, q.reason, q.firstError], ['error', 'boot', `QEMU exited (exit code 1) before the guest reached init: QEMU said "${said}"`, said]);
    // a guest that printed something keeps its console's tail in the reason; with no known last words of the kernel, QEMU's words are the first error
    const c = judge(read(['[ 0.5] Booting the kernel.']), 'kmod', 'sysdig', NONCE, { timedOut: false, phase: 'boot', killed: 'exit code 1', said });
    assert.deepEqual([c.reason, c.firstError], ['QEMU exited (exit code 1) before the guest reached init; the console\'s last lines: "Booting the kernel."', said]);
    // a timeout is not QEMU's refusal: whatever QEMU said last is not the first error
    const t = judge(read([]), 'kmod', 'sysdig', NONCE, { timedOut: true, phase: 'boot', said: 'warning: host does not support x' });
    assert.deepEqual([t.reason, t.firstError], ['the guest did not reach init before the boot timeout (the console printed nothing)', undefined]);
  });

  it('marker lines need an open-family syscall and the marker file of the nonce', () => {
    const m = `/tmp/kmatrix-marker-${NONCE}`;
    assert.deepEqual(markerEvents(`KMEVT 1 > openat cat ${m}\nKMEVT 2 < read cat ${m}\nKMEVT 3 < openat2 cat ${m}\nKMEVT 4 < openat cat /tmp/kmatrix-untraced-${NONCE}`, NONCE), [
      `KMEVT 1 > openat cat ${m}`,
      `KMEVT 3 < openat2 cat ${m}`,
    ]);
  });

  it('scap-open: the marker is an openat exit parameter holding the nonce path; events from its stats', () => {
    const out = `------ PARAMS\nPARAM 0: 3\nPARAM 2: /tmp/kmatrix-marker-${NONCE}\nPARAM 2: /etc/passwd\n`;
    assert.deepEqual(markerEvents(out, NONCE, 'scap-open'), [`PARAM 2: /tmp/kmatrix-marker-${NONCE}`]);
    const r = read([boot, logLine('captured', `PARAM 2: /tmp/kmatrix-marker-${NONCE}`), logLine('stats', 'Number of `SCAP_SUCCESS` (events correctly captured): 4242\n'), 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=25']);
    const v = judge(r, 'modern-ebpf', 'scap-open', NONCE, exit);
    assert.deepEqual([v.status, v.events], ['pass', 4242]);
  });

  it('a mute consumer error is explained from its output (the BPF verifier rejecting a program)', () => {
    const stats = "120: (61) r8 = *(u32 *)(r5 +0)\nR5 invalid mem access 'scalar'\nprocessed 117 insns (limit 1000000)\nlibbpf: prog 'signal_deliver': failed to load: -13\nlibpman: failed to load BPF object (errno: 13 | message: Permission denied)\n";
    const r = read([boot, logLine('consumer', ' (13)\n'), logLine('stats', stats), 'KMATRIX v1 capture found=0 alive=0 rc=13 seconds=17']);
    const v = judge(r, 'modern-ebpf', 'scap-open', NONCE, exit);
    assert.deepEqual([v.status, v.phase, v.firstError], ['fail', 'load', "libbpf: prog 'signal_deliver': failed to load: -13 — R5 invalid mem access 'scalar'"]);
  });

  it("the legacy probe's verifier rejection is named with the verifier's reason", () => {
    const err = "bpf_load_program() err=13 event=filler/sys_autofill message=0: R1=ctx(off=0,imm=0) R10=fp0\n0: (bf) r6 = r1\n313: (79) r5 = *(u64 *)(r2 +0)\ndereference of modified ctx ptr R2 off=16 disallowed\nprocessed 7492 insns (limit 1000000)\n";
    const r = read([boot, 'KMATRIX v1 insmod rc=0', logLine('consumer', err), 'KMATRIX v1 capture found=0 alive=0 rc=1 seconds=30']);
    assert.equal(judge(r, 'ebpf', 'sysdig', NONCE, exit).firstError, 'bpf_load_program() err=13 event=filler/sys_autofill — dereference of modified ctx ptr R2 off=16 disallowed');
  });

  it('a consumer killed by a signal says which', () => {
    const r = read([boot, 'KMATRIX v1 insmod rc=0', 'KMATRIX v1 capture found=0 alive=0 rc=135 seconds=1']);
    assert.equal(judge(r, 'kmod', 'sysdig', NONCE, exit).reason, 'the consumer was killed by signal 7 (SIGBUS) without capturing');
  });

  it('picks the first error-looking line of a log', () => {
    assert.equal(firstErrorLine('starting\nError: Unable to open /dev/scap0\nmore'), 'Error: Unable to open /dev/scap0');
    assert.equal(firstErrorLine('just text'), 'just text');
    assert.equal(firstErrorLine(''), undefined);
  });
});

describe('pdig cells: scope and cost', () => {
  const boot = 'KMATRIX v1 boot release=6.1.0-50-amd64 btime=1795868213';
  const exit = { timedOut: false, phase: 'capture' as const };
  const traced = `KMEVT 17 < openat pdig /tmp/kmatrix-marker-${NONCE}\n`;
  const untraced = `KMEVT 9 < openat cat /tmp/kmatrix-untraced-${NONCE}\n`;
  const loops = ['KMATRIX v1 loop mode=untraced state=start', 'KMATRIX v1 loop mode=untraced rc=0 count=5000 ns=100000000', 'KMATRIX v1 loop mode=pdig rc=0 count=5000 ns=2500000000', 'KMATRIX v1 loop mode=kmod rc=0 count=5000 ns=125000000'];

  it('passes on the traced marker; the untraced one is recorded, not mistaken for it', () => {
    const r = read([boot, 'KMATRIX v1 consumer started pid=9', ...batteryLines(), logLine('captured', traced), ...loops, 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=3 untraced=3', 'KMATRIX v1 done']);
    const v = judge(r, 'pdig', 'sysdig', NONCE, exit);
    assert.deepEqual([v.status, v.marker, v.untracedMarker], ['pass', true, false]);
    const wide = judge(read([boot, logLine('captured', traced + untraced), 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=3 untraced=3']), 'pdig', 'sysdig', NONCE, exit);
    assert.equal(wide.untracedMarker, true);
    const only = judge(read([boot, logLine('captured', untraced), 'KMATRIX v1 capture found=0 alive=1 rc=0 seconds=90 untraced=90']), 'pdig', 'sysdig', NONCE, exit);
    assert.deepEqual([only.status, only.marker, only.untracedMarker], ['fail', false, true], 'the untraced marker alone is no pass');
  });

  it('no untraced open, no claim about it', () => {
    const v = judge(read([boot, logLine('captured', traced), 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=3 untraced=0']), 'pdig', 'sysdig', NONCE, exit);
    assert.equal(v.untracedMarker, undefined);
  });

  it('pdig failing to run its command is the first error', () => {
    const v = judge(read([boot, logLine('pdig', 'pdig: ptrace(PTRACE_SEIZE): Operation not permitted\n'), 'KMATRIX v1 capture found=0 alive=1 rc=0 seconds=90 untraced=90']), 'pdig', 'sysdig', NONCE, exit);
    assert.deepEqual([v.status, v.phase, v.firstError], ['fail', 'capture', 'pdig: ptrace(PTRACE_SEIZE): Operation not permitted']);
  });

  it('times the loop untraced, under pdig and with kmod, and gives the ratios', () => {
    const r = read([boot, ...loops]);
    assert.deepEqual(overheadOf(r.loops), { count: 5000, untracedNs: 100000000, kmodNs: 125000000, pdigNs: 2500000000, pdigVsKmod: 20, pdigSlowdown: 25, kmodSlowdown: 1.25 });
    const failed = read([boot, loops[1]!, logLine('loop-pdig', 'pdig: cannot attach\n'), 'KMATRIX v1 loop mode=pdig rc=1 count=5000 ns=', 'KMATRIX v1 loop mode=kmod rc=-1 why=insmod-failed']);
    assert.deepEqual(overheadOf(failed.loops), { count: 5000, untracedNs: 100000000, notes: ['pdig: pdig: cannot attach', 'kmod: insmod-failed'] });
    assert.equal(overheadOf({}), undefined);
  });

  it('keeps pdig\'s complaints, counted', () => {
    assert.deepEqual(pdigWarnings('corrupted filler for event type 293\ncorrupted filler for event type 293\nother\n'), ['pdig: corrupted filler for event type 293 (×2)', 'pdig: other']);
  });

  it('the host waits for a loop in proportion to its length', () => {
    assert.ok(loopWatchdog(100000) >= 500 && loopWatchdog(5000) < 120);
    assert.match(cellEnvFile({ driver: 'pdig', consumer: 'sysdig', nonce: 'n', engineArgs: '-u', runAs: '', captureTimeout: 5, loopCount: 5000 }), /^KM_LOOP_COUNT='5000'$/m);
  });
});
