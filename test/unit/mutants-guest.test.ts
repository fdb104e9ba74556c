// The guest side (harness/guest.ts), the behaviour mutation testing found
// unchecked: cell.env's defaults, a profile's capabilities, the console's
// messages and crashes, the consumers' counts, warnings and errors, and the
// evidence a verdict keeps.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  GuestReader,
  capturedCount,
  cellEnvFile,
  consumerWarnings,
  crashKind,
  evidenceOf,
  judge,
  exitDescription,
  falcoAlerts,
  falcoStats,
  firstErrorLine,
  isMarkerAlert,
  loopWatchdog,
  markerEvents,
  moduleInGuest,
  overheadOf,
  parseErrors,
  parseGuestLine,
  pdigWarnings,
  profilePackages,
  runAsPrefix,
  untracedEvents,
  type GuestVerdict,
} from '../../harness/guest.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const read = (...lines: string[]) => {
  const g = new GuestReader();
  for (const l of lines) g.feed(l);
  return g.report;
};

describe('the guest (mutants)', () => {
  it("cell.env's defaults: no event type, no SD card, an ordinary cell, the default loop, no soak, the scap module", () => {
    const env = cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'n', engineArgs: '', runAs: '', captureTimeout: 30 });
    assert.equal(env, ["KM_DRIVER='kmod'", "KM_CONSUMER='sysdig'", "KM_NONCE='n'", "KM_ENGINE_ARGS=''", "KM_RUN_AS=''", "KM_CAPTURE_TIMEOUT='30'", "KM_EVT_TYPE='-1'", "KM_SDCARD='0'", "KM_MODE='cell'", "KM_LOOP_COUNT='100000'", "KM_SOAK='0'", "KM_MODULE='scap'", ''].join('\n'));
    const set = cellEnvFile({ driver: 'ebpf', consumer: 'scap-open', nonce: 'n', engineArgs: '', runAs: '', captureTimeout: 30, evtType: 7, sdcard: true, mode: 'control', loopCount: 5, soakSeconds: 9, module: 'falco' });
    for (const l of ["KM_EVT_TYPE='7'", "KM_SDCARD='1'", "KM_MODE='control'", "KM_LOOP_COUNT='5'", "KM_SOAK='9'", "KM_MODULE='falco'"]) assert.ok(set.split('\n').includes(l), l);
  });

  it("a profile's capabilities: setpriv by path, the bounding set cleared then the listed ones; util-linux for it", () => {
    assert.equal(runAsPrefix({ id: 'host' }), '');
    assert.equal(runAsPrefix({ id: 'p', capabilities: ['sys_ptrace', 'net_admin'] }), '/usr/bin/setpriv --bounding-set -all,+sys_ptrace,+net_admin --');
    assert.deepEqual(profilePackages({ id: 'host' }), []);
    assert.deepEqual(profilePackages({ id: 'p', capabilities: [] }), ['util-linux']);
    assert.equal(moduleInGuest(), 'kmatrix/scap.ko');
    assert.equal(moduleInGuest('falco'), 'kmatrix/falco.ko');
  });

  describe('console lines', () => {
    it('every verb with fields; `done` alone; fields without a name or `=` dropped', () => {
      for (const verb of ['boot', 'insmod', 'capture', 'rmmod', 'attached', 'consumer', 'sdcard', 'loop', 'soak', 'battery'])
        assert.deepEqual(parseGuestLine(`KMATRIX v1 ${verb} a=1 =2 b c=x=y\r`), { verb, fields: { a: '1', c: 'x=y' } }, verb);
      assert.deepEqual(parseGuestLine('KMATRIX v1 done'), { verb: 'done' });
      assert.equal(parseGuestLine('KMATRIX v1 done now'), undefined);
      assert.equal(parseGuestLine('KMATRIX v1 reboot a=1'), undefined);
      assert.equal(parseGuestLine('KMATRIX v2 boot a=1'), undefined);
    });

    it('a log: its name, its length, base64; an empty log is a log', () => {
      assert.deepEqual(parseGuestLine(`KMATRIX v1 log insmod 0 `), { verb: 'log', name: 'insmod', text: '' });
      const t = b64('hello');
      assert.deepEqual(parseGuestLine(`KMATRIX v1 log x ${t.length} ${t}`), { verb: 'log', name: 'x', text: 'hello' });
      assert.equal(parseGuestLine(`KMATRIX v1 log x ${t.length}x ${t}`), undefined);
      assert.equal(parseGuestLine(`KMATRIX v1 log x ${t.length} ${t}!`), undefined);
      assert.equal(parseGuestLine(`KMATRIX v1 log x ${t.length + 1} ${t}!`), undefined);
      assert.equal(parseGuestLine(`KMATRIX v1 log x 4 a=b=`), undefined, 'padding only at the end');
      assert.deepEqual(parseGuestLine(`KMATRIX v1 log x 4 YQ==`), { verb: 'log', name: 'x', text: 'a' });
      assert.equal(parseGuestLine(`KMATRIX v1 log x 4 Y===`), undefined);
    });

    it('the reader folds each message into the report', () => {
      const r = read(
        'KMATRIX v1 boot release=6.1.0-50-amd64 btime=17',
        'KMATRIX v1 sdcard partitions=mmcblk0p1,,mmcblk0p2 root=1',
        'KMATRIX v1 insmod rc=0',
        'KMATRIX v1 attached seconds=2.5',
        'KMATRIX v1 battery rc=0 seconds=1.25 alive=1',
        'KMATRIX v1 soak seconds=10 runs=4 events=900',
        'KMATRIX v1 capture found=1 alive=0 rc=3 seconds=12 lines=40 untraced=2',
        'KMATRIX v1 done',
      );
      assert.deepEqual(r.boot, { release: '6.1.0-50-amd64', btime: 17 });
      assert.deepEqual(r.sdcard, { partitions: ['mmcblk0p1', 'mmcblk0p2'], rootMounted: true });
      assert.deepEqual(r.insmod, { rc: 0 });
      assert.equal(r.attachedAfter, 2.5);
      assert.deepEqual(r.battery, { rc: 0, seconds: 1.25, missing: false, alive: true });
      assert.deepEqual(r.soak, { seconds: 10, runs: 4, events: 900 });
      assert.deepEqual(r.capture, { found: true, alive: false, rc: 3, seconds: 12, lines: 40, untracedOpens: 2 });
      assert.equal(r.done, true);
      const bare = read('KMATRIX v1 boot', 'KMATRIX v1 sdcard', 'KMATRIX v1 capture found=0 alive=1');
      assert.deepEqual(bare.boot, { release: '', btime: NaN });
      assert.deepEqual(bare.sdcard, { partitions: [], rootMounted: false });
      assert.deepEqual(bare.capture, { found: false, alive: true, rc: NaN, seconds: NaN, lines: NaN, untracedOpens: 0 });
      assert.equal(bare.done, false);
    });

    it("the timed loop: its time, or why it has none (the guest's why, its log's first line, or the exit code)", () => {
      const r = read(
        'KMATRIX v1 loop state=start mode=untraced',
        'KMATRIX v1 loop mode=untraced rc=0 count=100 ns=5000',
        'KMATRIX v1 loop mode=pdig rc=1 why=ptrace-denied',
        `KMATRIX v1 log loop-kmod ${b64('  insmod failed\nmore\n').length} ${b64('  insmod failed\nmore\n')}`,
        'KMATRIX v1 loop mode=kmod rc=2 ns=9',
        'KMATRIX v1 loop mode=zero rc=0 count=1 ns=0',
        'KMATRIX v1 loop mode=text rc=0 count=1 ns=12x',
        'KMATRIX v1 loop rc=0 count=1 ns=5',
      );
      assert.deepEqual(r.loops, {
        untraced: { count: 100, ns: 5000 },
        pdig: { failed: 'ptrace-denied' },
        kmod: { failed: 'insmod failed' },
        zero: { failed: 'exit 0' },
        text: { failed: 'exit 0' },
      });
    });

    it('the first crash only: its kind, its phase, its excerpt up to the end of its trace or 60 lines, without guest messages', () => {
      const g = new GuestReader();
      g.feed('KMATRIX v1 boot release=x btime=1');
      g.feed('[ 5.0] Oops: 0002 [#1] SMP');
      g.feed('KMATRIX v1 insmod rc=0');
      g.feed('[ 5.1] RIP: foo');
      g.feed('[ 5.2] ---[ end trace 0000 ]---');
      g.feed('[ 6.0] BUG: another');
      assert.equal(g.report.panic, 'Oops: 0002 [#1] SMP');
      assert.deepEqual(g.report.crash, { kind: 'oops', headline: 'Oops: 0002 [#1] SMP', phase: 'load', excerpt: '[ 5.0] Oops: 0002 [#1] SMP\n[ 5.1] RIP: foo\n[ 5.2] ---[ end trace 0000 ]---' });
      const long = new GuestReader();
      long.feed('KMATRIX v1 attached seconds=1');
      long.feed('Kernel panic - not syncing: x');
      for (let i = 0; i < 100; i++) long.feed(`line ${i}`);
      assert.equal(long.report.crash!.phase, 'capture');
      assert.equal(long.report.crash!.kind, 'panic');
      assert.equal(long.report.crash!.excerpt.split('\n').length, 60);
      const boot = read('[ 0.1] WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f+0x1/0x2');
      assert.equal(boot.crash!.phase, 'boot');
      assert.equal(boot.crash!.kind, 'warn');
    });
  });

  it("a crash's kind from its headline", () => {
    assert.equal(crashKind('WARNING: CPU: 0 PID: 1 at x'), 'warn');
    assert.equal(crashKind('Kernel panic - not syncing: x'), 'panic');
    assert.equal(crashKind('kernel BUG at mm/slub.c:1'), 'bug');
    assert.equal(crashKind('BUG: unable to handle page fault'), 'bug');
    assert.equal(crashKind('Oops: 0000'), 'oops');
    assert.equal(crashKind('general protection fault: 0000'), 'oops');
    assert.equal(crashKind('x WARNING: y'), 'oops');
    assert.equal(crashKind('x Kernel panic'), 'oops');
  });

  it('how the consumer ended, and the first error-looking line', () => {
    assert.equal(exitDescription(1), 'exited (code 1)');
    assert.equal(exitDescription(128), 'exited (code 128)');
    assert.equal(exitDescription(129), 'was killed by signal 1');
    assert.equal(exitDescription(137), 'was killed by signal 9 (SIGKILL)');
    assert.equal(exitDescription(139), 'was killed by signal 11 (SIGSEGV)');
    assert.equal(exitDescription(134), 'was killed by signal 6 (SIGABRT)');
    assert.equal(exitDescription(132), 'was killed by signal 4 (SIGILL)');
    assert.equal(exitDescription(135), 'was killed by signal 7 (SIGBUS)');
    assert.equal(exitDescription(159), 'was killed by signal 31');
    assert.equal(exitDescription(160), 'exited (code 160)');
    assert.equal(firstErrorLine(''), undefined);
    assert.equal(firstErrorLine('\n  first  \nsecond'), 'first');
    for (const w of ['Error', 'FAILED', 'unable', 'cannot', 'denied', 'not permitted', 'rejected', 'invalid', 'unknown'])
      assert.equal(firstErrorLine(`ok\n  x ${w} y  \nlast ${w}`), `x ${w} y`, w);
  });

  it('counts: sysdig its event lines, scap-open its stats, Falco its driver events', () => {
    assert.equal(capturedCount('KMEVT 1\nKMEVT 2\nx KMEVT 3\n', 'sysdig'), 2);
    assert.equal(capturedCount('Events correctly captured): 42', 'scap-open'), 0);
    assert.equal(capturedCount('[SCAP-OPEN]: events correctly captured): 42', 'scap-open'), 42);
    assert.equal(capturedCount('nothing', 'scap-open'), 0);
    assert.equal(capturedCount('Driver Events:77\nDriver Drops:0', 'falco'), 77);
    assert.equal(capturedCount('nothing', 'falco'), 0);
  });

  it("Falco's figures at exit: only those it printed", () => {
    assert.deepEqual(falcoStats('Driver Events:  120\nDriver Drops:3\n- event drop detected: 2 occurrences\nEvents detected: 5'), { driverEvents: 120, driverDrops: 3, dropsDetected: 2, alerts: 5 });
    assert.deepEqual(falcoStats('Driver Events:9'), { driverEvents: 9 });
    assert.deepEqual(falcoStats(''), {});
  });

  it("Falco's alerts: JSON lines with a rule; the marker's rule on the nonce's file by an open-family call", () => {
    const line = (o: object) => JSON.stringify(o);
    const out = [
      '  ' + line({ rule: 'kmatrix marker opened', priority: 'Warning', output: 'o', time: 't', output_fields: { 'fd.name': '/tmp/kmatrix-marker-n1', 'evt.type': 'openat' } }),
      line({ rule: 5 }),
      '{ torn',
      line({ rule: 'r', output_fields: 'x', priority: 3 }),
      'not json',
    ].join('\n');
    const alerts = falcoAlerts(out);
    assert.equal(alerts.length, 2);
    assert.deepEqual(alerts[0], { rule: 'kmatrix marker opened', priority: 'Warning', output: 'o', time: 't', fields: { 'fd.name': '/tmp/kmatrix-marker-n1', 'evt.type': 'openat' }, line: out.split('\n')[0]!.trim() });
    assert.deepEqual(alerts[1], { rule: 'r', priority: undefined, output: undefined, time: undefined, fields: {}, line: line({ rule: 'r', output_fields: 'x', priority: 3 }) });
    const a = alerts[0]!;
    assert.equal(isMarkerAlert(a, 'n1'), true);
    assert.equal(isMarkerAlert(a, 'n2'), false);
    assert.equal(isMarkerAlert({ ...a, rule: 'other' }, 'n1'), false);
    for (const t of ['open', 'openat2']) assert.equal(isMarkerAlert({ ...a, fields: { ...a.fields, 'evt.type': t } }, 'n1'), true, t);
    for (const t of ['close', 'xopenat', 'openatx', undefined]) assert.equal(isMarkerAlert({ ...a, fields: { ...a.fields, 'evt.type': t } }, 'n1'), false, String(t));
    assert.equal(isMarkerAlert({ ...a, fields: { 'evt.type': 'openat' } }, 'n1'), false);
    assert.deepEqual(markerEvents(out, 'n1', 'falco'), [out.split('\n')[0]!.trim()]);
  });

  it("markers: sysdig's open-family lines, scap-open's parameters; pdig's untraced marker", () => {
    const n = 'abc';
    const lines = [`KMEVT 1 < openat cat /tmp/kmatrix-marker-${n} pid=1 :: `, `KMEVT 2 < open cat /tmp/kmatrix-marker-${n} pid=1 :: `, `KMEVT 3 < creat cat /tmp/kmatrix-marker-${n} pid=1 :: `, `KMEVT 4 < openat2 cat /tmp/kmatrix-marker-${n} pid=1 :: `, `KMEVT 5 < close cat /tmp/kmatrix-marker-${n} pid=1 :: `, ` KMEVT 6 < openat cat /tmp/kmatrix-marker-${n} pid=1 :: `];
    assert.deepEqual(markerEvents(lines.join('\n'), n), lines.slice(0, 4));
    assert.deepEqual(markerEvents(`  PARAM 1: /tmp/kmatrix-marker-${n}\nPARAM x: /tmp/kmatrix-marker-${n}\nxPARAM 2: /tmp/kmatrix-marker-${n}`, n, 'scap-open'), [`  PARAM 1: /tmp/kmatrix-marker-${n}`]);
    assert.deepEqual(untracedEvents(`KMEVT 1 < openat x /tmp/kmatrix-untraced-${n}\nx KMEVT 2 /tmp/kmatrix-untraced-${n}\nKMEVT 3 /tmp/kmatrix-untraced-zzz`, n), [`KMEVT 1 < openat x /tmp/kmatrix-untraced-${n}`]);
  });

  it("the consumer's warnings (not Falco's counters), its parse errors once each, pdig's complaints counted", () => {
    const stderr = ['Warning: a', '  deprecated b  ', 'drop c', 'Driver Drops:0', 'Driver Events:5', 'Syscall event drop monitoring:', '- event drop detected: 0 occurrences', '- num times actions taken: 0', 'fine', ...Array.from({ length: 12 }, (_, i) => `warn ${i}`)].join('\n');
    assert.deepEqual(consumerWarnings(stderr), ['Warning: a', 'deprecated b', 'drop c', 'warn 0', 'warn 1', 'warn 2', 'warn 3', 'warn 4', 'warn 5', 'warn 6']);
    assert.deepEqual(parseErrors(' corrupted filler x \nCould not parse param 1\ncorrupted filler x\ncorrupted event y\ninvalid event z\nunexpected parameter w\nfine'), ['corrupted filler x', 'Could not parse param 1', 'corrupted event y', 'invalid event z', 'unexpected parameter w']);
    assert.deepEqual(pdigWarnings('a\n a \nb\n\nc\nd\ne\nf\n'), ['pdig: a (×2)', 'pdig: b', 'pdig: c', 'pdig: d', 'pdig: e']);
    assert.deepEqual(pdigWarnings(''), []);
  });

  it('the host waits a minute plus 5 ms a loop pair, rounded up', () => {
    assert.equal(loopWatchdog(0), 60);
    assert.equal(loopWatchdog(100_000), 560);
    assert.equal(loopWatchdog(1), 61);
  });

  it('the overhead: each mode timed, the ratios where the counts agree, the failures as notes', () => {
    assert.equal(overheadOf({}), undefined);
    assert.deepEqual(overheadOf({ untraced: { count: 10, ns: 100 }, pdig: { count: 10, ns: 400 }, kmod: { count: 10, ns: 200 } }), {
      count: 10,
      untracedNs: 100,
      kmodNs: 200,
      pdigNs: 400,
      pdigVsKmod: 2,
      pdigSlowdown: 4,
      kmodSlowdown: 2,
    });
    assert.deepEqual(overheadOf({ pdig: { count: 10, ns: 400 }, kmod: { count: 20, ns: 300 }, untraced: { failed: 'x' } }), { count: 10, kmodNs: 300, pdigNs: 400, notes: ['untraced: x'] });
    assert.deepEqual(overheadOf({ kmod: { count: 7, ns: 3 } }), { count: 7, kmodNs: 3 });
    assert.deepEqual(overheadOf({ pdig: { failed: 'y' } }), { count: 0, notes: ['pdig: y'] });
    assert.equal(overheadOf({ pdig: { count: 3, ns: 1000 }, kmod: { count: 3, ns: 3000 } })!.pdigVsKmod, 0.33);
  });

  it("a verdict's evidence, with the run's notes before the overhead's own", () => {
    const v: GuestVerdict = { status: 'pass', phase: 'capture', reason: 'r', events: 3, marker: true, lines: ['l'], overhead: { count: 1, notes: ['own'] }, warnings: ['w'] };
    assert.deepEqual(evidenceOf(v, ['run']), { events: 3, marker: true, lines: ['l'], untracedMarker: undefined, overhead: { count: 1, notes: ['run', 'own'] }, warnings: ['w'], falco: undefined, battery: undefined, soak: undefined });
    assert.deepEqual(evidenceOf(v).overhead, { count: 1, notes: ['own'] });
    assert.deepEqual(evidenceOf({ ...v, overhead: { count: 1 } }, ['run']).overhead, { count: 1, notes: ['run'] });
    assert.equal(evidenceOf({ ...v, overhead: undefined }, ['run']).overhead, undefined);
  });

  describe('judging', () => {
    const nonce = 'n1';
    const marker = `KMEVT 9 < openat cat /tmp/kmatrix-marker-${nonce} pid=5 :: name=/tmp/kmatrix-marker-${nonce}`;
    const base = (over: Partial<Parameters<typeof judge>[0]> = {}): Parameters<typeof judge>[0] => ({
      boot: { release: 'r', btime: 1 },
      insmod: { rc: 0 },
      capture: { found: true, alive: true, rc: 0, seconds: 5, lines: 1, untracedOpens: 0 },
      loops: {},
      logs: { captured: marker },
      done: true,
      ...over,
    });
    const exit = { timedOut: false, phase: 'capture' as const };
    // a consumer that prints parameters passes only with the battery's whole script seen: the recorded kmod one, under this nonce
    const recorded = (f: string) => readFileSync(path.resolve('test/fixtures/battery', f), 'utf8').replaceAll('a5830a47042a', nonce);
    const whole = { battery: recorded('kmod@0.23.2.script'), 'battery-events': recorded('kmod@0.23.2.events') };
    const ran = { rc: 0, seconds: 1.5, missing: false, alive: true };

    it('no capture report: the phase from whether the consumer attached, the timeout or the stop named', () => {
      const noCapture = { capture: undefined };
      assert.deepEqual([judge(base(noCapture), 'ebpf', 'sysdig', nonce, exit).phase, judge(base(noCapture), 'ebpf', 'sysdig', nonce, exit).reason], ['load', 'the guest stopped before reporting the capture']);
      assert.equal(judge(base({ ...noCapture, attachedAfter: 2 }), 'ebpf', 'sysdig', nonce, { ...exit, timedOut: true }).reason, 'no result before the capture timeout');
      assert.equal(judge(base({ ...noCapture, attachedAfter: 2 }), 'ebpf', 'sysdig', nonce, exit).phase, 'capture');
      assert.equal(judge(base(noCapture), 'ebpf', 'sysdig', nonce, { ...exit, timedOut: true }).reason, 'no result before the load timeout');
      const consumer = judge(base({ ...noCapture, logs: { consumer: 'ok\nerror: no driver' } }), 'ebpf', 'sysdig', nonce, exit);
      assert.equal(consumer.firstError, 'error: no driver');
    });

    it('a pass keeps the warnings (pdig\'s too), the soak with its parse errors, and names the first warning', () => {
      const v = judge(base({ logs: { captured: marker, consumer: 'Warning: slow', pdig: 'ptrace: busy', ...whole }, battery: ran, soak: { seconds: 3, runs: 2, events: 10 } }), 'pdig', 'sysdig', nonce, exit);
      assert.equal(v.status, 'pass');
      assert.equal(v.reason, 'marker seen in 1 event(s), battery 20/20 calls right (with warnings: Warning: slow)');
      assert.deepEqual(v.warnings, ['Warning: slow', 'pdig: ptrace: busy']);
      assert.deepEqual(v.soak, { seconds: 3, runs: 2, events: 10, parseErrors: 0 });
      assert.equal(v.battery?.seconds, 1.5);
      assert.equal(v.battery?.rc, 0);
      const kmod = judge(base({ logs: { captured: marker, pdig: 'ptrace: busy', ...whole }, battery: ran }), 'kmod', 'sysdig', nonce, exit);
      assert.equal(kmod.reason, 'marker seen in 1 event(s), battery 20/20 calls right');
      assert.equal('warnings' in kmod, false);
      assert.equal('soak' in kmod, false);
      // the marker alone is no pass for a consumer that prints parameters
      const alone = judge(base(), 'kmod', 'sysdig', nonce, exit);
      assert.deepEqual([alone.status, alone.reason, alone.firstError], ['fail', 'marker seen, but the guest reported no battery', 'battery: the guest reported no battery']);
    });

    it('the soak asked: reported, with a battery run, the consumer alive at its end; the battery with the consumer alive', () => {
      const logs = { captured: marker, ...whole };
      const soak = { seconds: 30, runs: 4, events: 900, alive: true };
      const asked = { soakSeconds: 30 };
      const v = (over: Partial<Parameters<typeof judge>[0]>, kind: 'sysdig' | 'scap-open' = 'sysdig') => judge(base({ logs, battery: ran, ...over }), 'kmod', kind, nonce, exit, asked);
      assert.equal(v({ soak }).status, 'pass');
      assert.deepEqual([v({}).reason, v({}).firstError], ['marker seen, but the guest reported no soak', 'soak: no report of the 30 s soak']);
      assert.deepEqual([v({ soak: { ...soak, runs: 0 } }).reason, v({ soak: { ...soak, runs: 0 } }).firstError], ['marker seen, but the soak ran no battery in 30 s', 'soak: 0 battery run(s) in 30 s']);
      const died = v({ soak: { ...soak, alive: false }, capture: { found: true, alive: false, rc: 139, seconds: 5, lines: 1, untracedOpens: 0 } });
      assert.deepEqual([died.status, died.reason, died.firstError], ['fail', 'the consumer was killed by signal 11 (SIGSEGV) during the soak', 'sysdig was killed by signal 11 (SIGSEGV)']);
      const duringBattery = v({ soak, battery: { ...ran, alive: false }, logs: { ...logs, consumer: 'error: ring buffer gone' } });
      assert.deepEqual([duringBattery.reason, duringBattery.firstError], ['the consumer exited (code 0) during the battery', 'error: ring buffer gone']);
      // not asked: a soak gone wrong or absent fails nothing
      const notAsked = judge(base({ logs, battery: ran, soak: { ...soak, runs: 0, alive: false } }), 'kmod', 'sysdig', nonce, exit);
      assert.equal(notAsked.status, 'pass');
      // the battery program missing from the guest: the harness's error
      const missing = v({ soak, battery: { ...ran, rc: 127, missing: true } });
      assert.deepEqual([missing.status, missing.phase, missing.firstError], ['error', 'capture', 'battery: /kmatrix/kmbattery missing from the guest (rc 127)']);
      // the battery cut short, before its calls are judged
      const cut = v({ soak, battery: { ...ran, rc: 1 } });
      assert.deepEqual([cut.reason, cut.firstError], ['marker seen, but the battery did not run its whole script', 'battery: ran all 20 calls, then exited 1']);
    });

    it("a live consumer with nothing captured fails at capture; pdig's pairing named, its line first", () => {
      const none = judge(base({ logs: { captured: '' } }), 'kmod', 'sysdig', nonce, exit);
      assert.deepEqual([none.phase, none.reason], ['capture', 'marker not found in 0 captured event(s) after 5s']);
      const mismatch = 'corrupted filler for event type 12 (added 3 args, should have added 4)';
      const pdig = judge(base({ logs: { captured: marker, ...whole, pdig: `corrupted event 7
${mismatch}` }, battery: ran }), 'pdig', 'sysdig', nonce, exit);
      assert.equal(pdig.reason, "marker seen, but 2 event(s) could not be parsed (pdig's fillers and the event table of the tree it was built with disagree: a pairing of two event schemas)");
      assert.equal(pdig.firstError, mismatch);
      const unseen = judge(base({ logs: { captured: '', pdig: `corrupted event 7
${mismatch}` } }), 'pdig', 'sysdig', nonce, exit);
      assert.match(unseen.reason, /^marker not found in 0 captured event\(s\) after 5s \(pdig's fillers/);
      assert.equal(unseen.firstError, mismatch);
      // another driver's pdig log is no pairing, and its untraced opens say nothing
      const kmod = judge(base({ capture: { found: true, alive: true, rc: 0, seconds: 5, lines: 1, untracedOpens: 2 }, logs: { captured: '', pdig: mismatch } }), 'kmod', 'sysdig', nonce, exit);
      assert.equal(kmod.reason, 'marker not found in 0 captured event(s) after 5s');
      assert.equal('untracedMarker' in kmod, false);
      assert.equal(kmod.firstError, undefined);
    });

    it("pdig's parse errors fail the cell; another driver's pdig log is not read", () => {
      const v = judge(base({ logs: { captured: marker, pdig: 'corrupted filler for event 3' } }), 'pdig', 'sysdig', nonce, exit);
      assert.equal(v.status, 'fail');
      assert.equal(v.reason, 'marker seen, but 1 event(s) could not be parsed');
      assert.equal(v.firstError, 'corrupted filler for event 3');
      assert.equal(judge(base({ logs: { captured: marker, pdig: 'corrupted filler for event 3', ...whole }, battery: ran }), 'kmod', 'sysdig', nonce, exit).status, 'pass');
    });

    it("Falco's evidence: its alert, its start-up time, its figures", () => {
      const alert = JSON.stringify({ rule: 'kmatrix marker opened', output_fields: { 'fd.name': `/tmp/kmatrix-marker-${nonce}`, 'evt.type': 'openat' } });
      const v = judge(base({ attachedAfter: 4, logs: { captured: alert, stats: 'Driver Events:12', ...whole }, battery: ran }), 'modern-ebpf', 'falco', nonce, exit);
      assert.equal(v.status, 'pass');
      assert.equal(v.reason, 'marker seen in 1 event(s), battery 20/20 calls right');
      assert.deepEqual(v.falco, { alert, startupSeconds: 4, driverEvents: 12 });
      assert.equal(v.events, 12);
      const quiet = judge(base({ logs: { captured: 'nothing' } }), 'modern-ebpf', 'falco', nonce, exit);
      assert.deepEqual(quiet.falco, {});
      assert.equal('falco' in judge(base(), 'kmod', 'sysdig', nonce, exit), false);
    });

    it('no marker: a dead consumer with no event fails at load; else at capture, with the events and time', () => {
      const dead = judge(base({ capture: { found: false, alive: false, rc: 137, seconds: 5, lines: 0, untracedOpens: 0 }, logs: { captured: '', consumer: 'fatal: x' } }), 'kmod', 'sysdig', nonce, exit);
      assert.deepEqual([dead.status, dead.phase, dead.reason, dead.firstError], ['fail', 'load', 'the consumer was killed by signal 9 (SIGKILL) without capturing', 'fatal: x']);
      const quiet = judge(base({ logs: { captured: 'KMEVT 1 < read x y pid=1 :: ' } }), 'kmod', 'sysdig', nonce, exit);
      assert.deepEqual([quiet.phase, quiet.reason], ['capture', 'marker not found in 1 captured event(s) after 5s']);
      const pdig = judge(base({ logs: { captured: '', pdig: 'pdig: cannot exec\n' } }), 'pdig', 'sysdig', nonce, exit);
      assert.equal(pdig.firstError, 'pdig: cannot exec');
    });
  });
});
