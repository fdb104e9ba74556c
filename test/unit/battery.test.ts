// The battery, the soak's parse errors and flaky cells, from real guest
// output: test/fixtures/battery/<driver>@<source>.{script,events} are the
// battery's lines and sysdig's events for it, decoded from the consoles of
// debian-6.1-amd64 cells (run 20261130-120546Z; sysdig 0.41 from sid with
// driver 0.23.2 — exit events only — and bookworm's sysdig 0.29 with 0.1.1dev
// — enter and exit events), and pdig's stderr of the same run; Falco 0.44.1's
// with modern eBPF from run 20261130-122030Z.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BATTERY_SCRIPT, batteryOf, checkBattery, parseArgs, parseScript, parseSysdigEvents, scriptProblem } from '../../harness/battery.js';
import { batteryShares } from '../../harness/bench/bench.js';
import { checkExpectations } from '../../harness/ci/expectations.js';
import { classify } from '../../harness/failures.js';
import { GuestReader, judge, parseErrors, type GuestReport } from '../../harness/guest.js';
import { flakyCounts } from '../../harness/reports/history.js';
import { renderReport } from '../../harness/reports/html.js';
import { renderJUnit } from '../../harness/reports/junit.js';
import { flakyOrNot } from '../../harness/run.js';
import type { CellResult } from '../../harness/types.js';
import { batteryDifferences, claimVerdicts, kernelOutcome, loadRecommended } from '../../harness/verdicts.js';

const FIX = path.resolve('test/fixtures/battery');
const read = (name: string) => readFileSync(path.join(FIX, name), 'utf8');
const fixture = (cell: string) => {
  const script = read(`${cell}.script`);
  return { script, events: read(`${cell}.events`), nonce: /kmatrix-battery-(\w+)/.exec(script)![1]! };
};
const check = (cell: string, edit: (events: string) => string = (e) => e) => {
  const f = fixture(cell);
  return checkBattery(parseScript(f.script), parseSysdigEvents(edit(f.events)), f.nonce);
};

describe('the battery', () => {
  it('reads the script: 20 calls after its start line, with their arguments and return values', () => {
    const s = parseScript(fixture('kmod@0.23.2').script);
    assert.equal(s[0]!.call, 'start');
    assert.equal(s.length, 21);
    assert.deepEqual(s.find((c) => c.seq === 6), { seq: 6, call: 'read', args: { fd: '3', size: '64', ret: '29' } });
  });

  it("reads sysdig's arguments: a buffer's text may hold spaces, decorations stay on the value", () => {
    assert.deepEqual(parseArgs('res=29 data=kmatrix battery 51d6. fd=3(<f>/tmp/x) size=64'), { res: '29', data: 'kmatrix battery 51d6.', fd: '3(<f>/tmp/x)', size: '64' });
  });

  // (modern-ebpf@falco-0.44.1: Falco 0.44.1's battery rule, the event lines taken from its JSON alerts in the guest)
  for (const [cell, enter] of [['kmod@0.23.2', false], ['ebpf@0.23.2', false], ['kmod@0.1.1dev', true], ['modern-ebpf@falco-0.44.1', false]] as const)
    it(`${cell}: every call right (${enter ? 'enter and exit events' : 'exit events only, enter parameters in them'})`, () => {
      const r = check(cell);
      assert.equal(r.enterEvents, enter);
      assert.deepEqual([r.right, r.wrong, r.missing], [20, 0, 0], r.firstProblem);
      const openat = r.calls.find((c) => c.seq === 5)!;
      assert.deepEqual(openat.fields.find((f) => f.field === 'flags'), { field: 'flags', expected: 'O_CLOEXEC|O_RDONLY', seen: 'O_CLOEXEC|O_RDONLY' });
    });

  it('a parameter reported wrong is named with what was expected and what was seen', () => {
    const r = check('kmod@0.23.2', (e) => e.replace(/(< read kmbattery \S+ pid=\d+ :: .*) size=64/, '$1 size=32'));
    assert.equal(r.wrong, 1);
    assert.equal(r.firstProblem, 'read #6: size expected 64, saw 32');
  });

  it('a call without its event is missing; without its enter event (where the consumer shows them) it is wrong', () => {
    assert.equal(check('kmod@0.23.2', (e) => e.split('\n').filter((l) => !/ renameat2 /.test(l)).join('\n')).firstProblem, 'renameat2 #8: no event');
    const r = check('kmod@0.1.1dev', (e) => e.split('\n').filter((l) => !/ > write kmbattery \/tmp\/kmatrix-battery/.test(l)).join('\n'));
    // the enter event carried the fd (old libs): it is missing from what the consumer reported
    assert.equal(r.firstProblem, 'write #3: fd expected 3, saw (none)');
    assert.equal(r.calls.find((c) => c.seq === 3)!.enter, false);
  });

  it('pdig@pdig-fc679b8: the traced battery loses most of its calls (the real outcome)', () => {
    const r = check('pdig@pdig-fc679b8');
    assert.equal(r.firstProblem, 'mkdirat #1: no event');
    assert.ok(r.missing >= 5, `${r.missing} missing`);
    assert.ok(r.right + r.wrong + r.missing === 20);
  });

  it("pdig's `corrupted filler` is a parse error, once per distinct line", () => {
    assert.deepEqual(parseErrors(read('pdig@pdig-fc679b8.pdig-stderr')), ['corrupted filler for event type 293 (added 19 args, should have added 20)']);
    assert.deepEqual(parseErrors('sysdig: warning: something else'), []);
  });

  it("the bench gives the battery's and the soak's share of a cell", () => {
    const battery = { ...check('kmod@0.23.2'), seconds: 1.5 };
    const r = { id: 'k/kmod@1/host', evidence: { events: 1, marker: true, battery, soak: { seconds: 5, runs: 10, events: 700, parseErrors: 0 } } } as CellResult;
    assert.deepEqual(batteryShares([r, { ...r, id: 'no-battery', evidence: { events: 1, marker: true } }], new Map([['k/kmod@1/host', 32.5], ['no-battery', 10]])), { 'k/kmod@1/host': { battery: 1.5, soak: 5, cell: 32.5, share: 0.2 } });
  });

  it('only consumers that print parameters run it: sysdig and Falco yes, scap-open (it counts) no', () => {
    const f = fixture('kmod@0.23.2');
    const logs = { battery: f.script, 'battery-events': f.events };
    assert.equal(batteryOf(logs, 'sysdig', f.nonce)?.right, 20);
    assert.equal(batteryOf(logs, 'falco', f.nonce)?.right, 20);
    assert.equal(batteryOf(logs, 'scap-open', f.nonce), undefined);
  });
});

describe('a cell is judged on the battery and the parse errors, not the marker alone', () => {
  const f = fixture('kmod@0.23.2');
  const marker = `KMEVT 900 < openat cat /tmp/kmatrix-marker-${f.nonce} pid=130 :: fd=3(<f>/tmp/kmatrix-marker-${f.nonce}) name=/tmp/kmatrix-marker-${f.nonce}`;
  const report = (logs: Record<string, string>): GuestReport => ({
    boot: { release: '6.1.0-50-amd64', btime: 1 },
    insmod: { rc: 0 },
    battery: { rc: 0, seconds: 1, missing: false, alive: true },
    capture: { found: true, alive: true, rc: 0, seconds: 1, lines: 1, untracedOpens: 0 },
    loops: {},
    logs: { captured: marker, ...logs },
    done: true,
  });
  const exit = { timedOut: false, phase: 'capture' as const };

  it('marker and every call right: pass, the battery kept as evidence', () => {
    const v = judge(report({ battery: f.script, 'battery-events': f.events }), 'kmod', 'sysdig', f.nonce, exit);
    assert.equal(v.status, 'pass', v.reason);
    assert.match(v.reason, /battery 20\/20 calls right/);
    assert.equal(v.battery?.right, 20);
  });

  it('marker seen but a parameter wrong: fail at capture naming the field', () => {
    const v = judge(report({ battery: f.script, 'battery-events': f.events.replace(/ addr=127\.0\.0\.1:41000 fd=3/, ' addr=127.0.0.1:9 fd=3') }), 'kmod', 'sysdig', f.nonce, exit);
    assert.equal(v.status, 'fail');
    assert.equal(v.phase, 'capture');
    assert.equal(v.firstError, 'battery: bind #12: addr expected 127.0.0.1:41000, saw 127.0.0.1:9');
  });

  it("marker seen but the consumer could not parse events: fail at capture with its words", () => {
    const v = judge(report({ consumer: 'could not parse param 1 (exe) for event 4711 of type 293 (execve), expected length 2, found 8' }), 'kmod', 'sysdig', f.nonce, exit);
    assert.equal(v.status, 'fail');
    assert.match(v.firstError!, /^could not parse param 1 \(exe\)/);
  });
});

describe("pdig built against another schema's tree: the pairing, not pdig, is judged", () => {
  // the real guest output of debian-6.1-amd64/pdig@pdig-fc679b8/host (pdig fc679b8 with libs e5c53d6,
  // read by bookworm's sysdig 0.29): its battery, sysdig's events for it and pdig's stderr
  const f = fixture('pdig@pdig-fc679b8');
  const marker = `KMEVT 900 < openat cat /tmp/kmatrix-marker-${f.nonce} pid=130 :: fd=3(<f>/tmp/kmatrix-marker-${f.nonce}) name=/tmp/kmatrix-marker-${f.nonce}`;
  const report = (captured: string, found: boolean): GuestReport => ({
    boot: { release: '6.1.0-50-amd64', btime: 1 },
    capture: { found, alive: true, rc: 0, seconds: found ? 3 : 90, lines: 1, untracedOpens: 1 },
    loops: {},
    logs: { captured, battery: f.script, 'battery-events': f.events, pdig: read('pdig@pdig-fc679b8.pdig-stderr') },
    battery: { rc: 0, seconds: 11, missing: false, alive: true },
    done: true,
  });
  const exit = { timedOut: false, phase: 'capture' as const };

  it('marker seen: a fail of class pairing:schema-mismatch, naming the filler check', () => {
    const v = judge(report(marker, true), 'pdig', 'sysdig', f.nonce, exit);
    assert.equal(v.status, 'fail');
    assert.equal(v.phase, 'capture');
    assert.equal(v.firstError, 'corrupted filler for event type 293 (added 19 args, should have added 20)');
    assert.match(v.reason, /^marker seen, but 1 event\(s\) could not be parsed \(pdig's fillers and the event table of the tree it was built with disagree/);
    assert.equal(classify({ status: v.status, phase: v.phase, reason: v.reason, firstError: v.firstError }), 'pairing:schema-mismatch');
    // the battery is still kept as what was seen
    assert.equal(v.battery?.firstProblem, 'mkdirat #1: no event');
  });

  it('marker not seen: the same class (pdig said why)', () => {
    const v = judge(report('', false), 'pdig', 'sysdig', f.nonce, exit);
    assert.match(v.reason, /^marker not found in 0 captured event\(s\) after 90s \(pdig's fillers/);
    assert.equal(classify({ status: v.status, phase: v.phase, reason: v.reason, firstError: v.firstError }), 'pairing:schema-mismatch');
  });

  it("the kernel module's driver with the same consumer words stays the driver's corrupt event", () => {
    const v = judge({ ...report(marker, true), insmod: { rc: 0 }, logs: { captured: marker, consumer: read('pdig@pdig-fc679b8.pdig-stderr') } }, 'kmod', 'sysdig', f.nonce, exit);
    assert.equal(classify({ status: v.status, phase: v.phase, reason: v.reason, firstError: v.firstError }), 'capture:corrupt-event');
  });
});

describe('flaky cells', () => {
  const cell = (status: CellResult['status'], extra: Partial<CellResult> = {}): CellResult => ({
    id: 'k6.1/kmod@1/host', kernel: { id: 'k6.1', arch: 'amd64', machine: 'q35' }, driver: { id: 'kmod', source: '1' }, profile: 'host',
    status, durations: {}, logs: { console: 'cells/k6.1_kmod@1_host/first-run/console.log' }, attempts: 1, ...extra,
  });
  const first = cell('fail', { phase: 'capture', reason: 'the consumer was killed', firstError: 'killed', class: 'capture:consumer-died' });

  it('failed, then passed: flaky, both outcomes kept', () => {
    const r = flakyOrNot(first, cell('pass', { reason: 'marker seen' }));
    assert.equal(r.status, 'flaky');
    assert.deepEqual(r.runs!.map((x) => x.status), ['fail', 'pass']);
    assert.equal(r.runs![0]!.class, 'capture:consumer-died');
    assert.match(r.reason!, /^failed at capture \(killed\), then passed/);
  });

  it('failed twice: a failure, the first one kept beside it', () => {
    const r = flakyOrNot(first, cell('fail', { phase: 'load', reason: 'insmod failed' }));
    assert.equal(r.status, 'fail');
    assert.deepEqual(r.runs!.map((x) => x.phase), ['capture', 'load']);
  });

  it('is never evidence: a kernel with only a flaky cell has none', () => {
    const r = flakyOrNot(first, cell('pass'));
    assert.equal(kernelOutcome('k6.1', [r]).outcome, 'none');
  });

  it('the history counts how often a cell was flaky', () => {
    const runOf = (id: string, cells: Record<string, CellResult['status']>) => ({ id, startedAt: id, counts: { pass: 0, fail: 0, skip: 0, error: 0, flaky: 0 }, cells });
    const h = { runs: [runOf('r1', { a: 'flaky', b: 'pass' }), runOf('r2', { a: 'pass', b: 'flaky' }), runOf('r3', { a: 'flaky', b: 'pass' })] };
    assert.deepEqual(flakyCounts(h), [['a', 2], ['b', 1]]);
  });

  it('expectations: flaky is no mismatch; `status: flaky` accepts pass or flaky, not a failure', () => {
    const r = flakyOrNot(first, cell('pass'));
    assert.deepEqual(checkExpectations([r], []), []);
    const known = [{ cell: 'k6.1/*', status: 'flaky' as const, reason: 'consumer dies now and then' }];
    assert.deepEqual(checkExpectations([cell('pass')], known), []);
    assert.equal(checkExpectations([cell('fail', { phase: 'load' })], known)[0]?.kind, 'unexpected-failure');
  });
});

describe('claim ebpf-same-data-as-kmod', () => {
  const table = loadRecommended('recommended-drivers.yaml');
  const withBattery = (driver: 'kmod' | 'ebpf', fixtureName: string): CellResult => ({
    id: `debian-6.1-amd64/${driver}@0.23.2/host`, kernel: { id: 'debian-6.1-amd64', arch: 'amd64', machine: 'q35' }, driver: { id: driver, source: '0.23.2' }, consumer: { id: 'sysdig-0.41', kind: 'sysdig' }, profile: 'host',
    status: 'pass', durations: {}, logs: {}, attempts: 1, evidence: { events: 2, marker: true, battery: check(fixtureName) },
  });
  const verdict = (cells: CellResult[]) => claimVerdicts(table, cells).find((v) => v.id === 'ebpf-same-data-as-kmod')!;

  it("supported when the eBPF probe's battery matches the module's on the kernel (the real 6.1 cells)", () => {
    const v = verdict([withBattery('kmod', 'kmod@0.23.2'), withBattery('ebpf', 'ebpf@0.23.2')]);
    assert.equal(v.verdict, 'supported', v.why);
    assert.match(v.why, /debian-6\.1-amd64/);
  });

  it('contradicted when they differ, naming the field', () => {
    const ebpf = withBattery('ebpf', 'ebpf@0.23.2');
    ebpf.evidence!.battery = check('ebpf@0.23.2', (e) => e.replace(/(< listen kmbattery \S+ pid=\d+ :: .*)backlog=1/, '$1backlog=7'));
    const v = verdict([withBattery('kmod', 'kmod@0.23.2'), ebpf]);
    assert.equal(v.verdict, 'contradicted');
    assert.match(v.why, /listen #13 backlog: as called vs 7/);
    assert.deepEqual(batteryDifferences(check('kmod@0.23.2'), check('ebpf@0.23.2')), []);
  });

  it('untested without a pair of cells with the battery', () => {
    assert.equal(verdict([withBattery('kmod', 'kmod@0.23.2')]).verdict, 'untested');
  });
});

describe('the report shows the battery and the runs of a flaky cell', () => {
  const run = { id: 'r1', startedAt: 'now', host: 'h', accel: 'tcg', kmatrixVersion: '0', matrix: { path: 'm', hash: 'x' }, mirror: 'http://m/debian', expiredSuitesAccepted: [] };
  const base: CellResult = { id: 'k6.1/kmod@1/host', kernel: { id: 'k6.1', arch: 'amd64', machine: 'q35' }, driver: { id: 'kmod', source: '1' }, profile: 'host', status: 'fail', phase: 'capture', durations: {}, logs: {}, attempts: 1 };

  it('folded under the cell: calls right / wrong / missing, and the wrong field with both values', () => {
    const battery = check('kmod@0.23.2', (e) => e.replace(/(< read kmbattery \S+ pid=\d+ :: .*) size=64/, '$1 size=32'));
    const html = renderReport({ run, cells: [{ ...base, evidence: { events: 2, marker: true, battery } }] });
    assert.match(html, /battery: 19 right, 1 wrong, 0 missing of 20 call\(s\) — read #6: size expected 64, saw 32/);
    assert.match(html, /<td>6<\/td><td>read<\/td><td>wrong<\/td><td>size: expected 64, saw 32<\/td>/);
  });

  it('the soak: its runs, events, parse errors, drops, and a consumer gone at its end', () => {
    const soak = (alive: boolean) => renderReport({ run, cells: [{ ...base, evidence: { events: 2, marker: true, soak: { seconds: 5, runs: 3, events: 900, parseErrors: 0, alive } } }] });
    assert.match(soak(false), /soak: 5 s, 3 battery run\(s\), 900 event\(s\) printed, 0 parse error\(s\); drops: not reported by this consumer; the consumer gone at its end/);
    assert.doesNotMatch(soak(true), /consumer gone/);
  });

  it("a flaky cell: both runs, the first one's console linked; JUnit has Surefire's flakyFailure", () => {
    const first: CellResult = { ...base, phase: 'load', reason: 'the consumer was killed by signal 9', firstError: 'Killed', class: 'capture:consumer-died', logs: { console: 'cells/k6.1_kmod@1_host/first-run/console.log' } };
    const cell = flakyOrNot(first, { ...base, status: 'pass', phase: 'capture', reason: 'marker seen' });
    const html = renderReport({ run, cells: [cell] });
    assert.match(html, /runs: 1\. fail at load \(capture:consumer-died\): Killed <a href="[^"]*cells\/k6\.1_kmod@1_host\/first-run\/console\.log">console<\/a>; 2\. pass: marker seen/);
    assert.match(renderJUnit({ run, cells: [cell] }), /<flakyFailure message="load: the consumer was killed by signal 9" type="capture:consumer-died">Killed<\/flakyFailure>/);
  });
});

describe('the fixed script: BATTERY_SCRIPT is what images/guest/battery.c makes, in order', () => {
  /**
   * The calls battery.c prints, by seq, read from its source: each KMB(…) is
   * the next seq, a `printf("KMB %d <call> …", at + N)` is at+N, and an
   * `#else` branch is an alternative to its `#ifdef` branch (the same seq).
   */
  const callsOfSource = (src: string): string[][] => {
    const bySeq = new Map<number, string[]>();
    const add = (seq: number, call: string) => bySeq.set(seq, [...(bySeq.get(seq) ?? []), call]);
    let seq = 0, at = 0, branchFrom = 0;
    for (const line of src.split('\n').map((l) => l.trim())) {
      if (/^#if/.test(line)) branchFrom = seq;
      if (/^#else/.test(line)) seq = branchFrom;
      if (/\bint at = seq;/.test(line)) at = seq;
      const set = /^seq = at \+ (\d+);/.exec(line);
      if (set) seq = at + Number(set[1]);
      const kmb = /\bKMB\("(\w+) /.exec(line);
      if (kmb) add(++seq, kmb[1]!);
      const direct = /printf\("KMB %d (\w+) .*",\s*at \+ (\d+)/.exec(line);
      if (direct) add(at + Number(direct[2]), direct[1]!);
    }
    return [...bySeq].sort((a, b) => a[0] - b[0]).map(([, calls]) => calls);
  };
  const source = readFileSync('images/guest/battery.c', 'utf8');

  it('the same calls in the same order (accept4 where an arch has no accept)', () => {
    const calls = callsOfSource(source);
    assert.deepEqual(calls.map((c) => c[0]), [...BATTERY_SCRIPT]);
    assert.deepEqual(calls[BATTERY_SCRIPT.indexOf('accept')], ['accept', 'accept4']);
  });

  it('the reading of the source sees a drift: a call removed or moved', () => {
    assert.notDeepEqual(callsOfSource(source.replace(/^\s*KMB\("renameat2 .*$/m, '')).map((c) => c[0]), [...BATTERY_SCRIPT]);
    assert.notDeepEqual(callsOfSource(source.replace('KMB("exit pid', 'KMB("wait4 pid')).map((c) => c[0]), [...BATTERY_SCRIPT]);
  });

  it("the guest's real script is the whole fixed one (each fixture, pdig's too)", () => {
    for (const cell of ['kmod@0.23.2', 'ebpf@0.23.2', 'kmod@0.1.1dev', 'modern-ebpf@falco-0.44.1', 'pdig@pdig-fc679b8']) assert.equal(scriptProblem(parseScript(fixture(cell).script), 0), undefined, cell);
  });
});

describe('complete evidence or no pass: the battery, the soak and drops through judge()', () => {
  const f = fixture('kmod@0.23.2');
  const marker = `KMEVT 900 < openat cat /tmp/kmatrix-marker-${f.nonce} pid=130 :: fd=3(<f>/tmp/kmatrix-marker-${f.nonce}) name=/tmp/kmatrix-marker-${f.nonce}`;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const logLine = (name: string, text: string) => `KMATRIX v1 log ${name} ${b64(text).length} ${b64(text)}`;
  /** A guest's console as init.sh prints it: the real battery of the 6.1 kmod cell, a soak, then the capture line; each part replaceable (null: left out). */
  const console = (o: { battery?: string | null; script?: string; events?: string; soak?: string | null; capture?: string; stats?: string; captured?: string } = {}) =>
    [
      'KMATRIX v1 boot release=6.1.0-50-amd64 btime=1795868213 nproc=1',
      'KMATRIX v1 insmod rc=0',
      'KMATRIX v1 consumer started pid=99',
      'KMATRIX v1 attached seconds=1',
      ...(o.battery === null ? [] : [o.battery ?? 'KMATRIX v1 battery rc=0 seconds=1.52 alive=1', logLine('battery', o.script ?? f.script), logLine('battery-events', o.events ?? f.events)]),
      ...(o.soak === null ? [] : [o.soak ?? 'KMATRIX v1 soak seconds=5 runs=12 events=4800 alive=1']),
      logLine('consumer', ''),
      logLine('captured', o.captured ?? marker),
      ...(o.stats ? [logLine('stats', o.stats)] : []),
      o.capture ?? 'KMATRIX v1 capture found=1 alive=1 rc=0 seconds=1 untraced=0',
      'KMATRIX v1 done',
    ];
  const judged = (lines: string[], kind: 'sysdig' | 'falco' | 'scap-open' = 'sysdig', expect = { soakSeconds: 5, maxDropRatio: 0.01 }, driver: 'kmod' | 'modern-ebpf' = 'kmod', nonce = f.nonce) => {
    const r = new GuestReader();
    for (const l of lines) r.feed(l);
    const v = judge(r.report, driver, kind, nonce, { timedOut: false, phase: 'capture' }, expect);
    return { ...v, class: classify(v) };
  };
  const outcome = (v: ReturnType<typeof judged>) => [v.status, v.phase, v.class, v.firstError];

  it('the whole battery right, exit 0, a soak with runs and the consumer alive: pass', () => {
    const v = judged(console());
    assert.equal(v.status, 'pass', v.reason);
    assert.match(v.reason, /battery 20\/20 calls right/);
    assert.deepEqual([v.battery?.rc, v.battery?.scriptProblem, v.soak?.runs, v.soak?.alive], [0, undefined, 12, true]);
  });

  it('the script cut after 7 calls (exit 1): fail, not "7/7 right"', () => {
    const cut = f.script.split('\n').slice(0, 8).join('\n');
    const v = judged(console({ battery: 'KMATRIX v1 battery rc=1 seconds=0.4 alive=1', script: cut }));
    assert.deepEqual(outcome(v), ['fail', 'capture', 'capture:workload-incomplete', 'battery: stopped after 7 of 20 calls (exit 1)']);
    assert.equal(v.battery?.right, 7, 'the calls it made are still checked');
  });

  it('the script cut with exit 0 still fails; a call out of place too', () => {
    const cut = f.script.split('\n').slice(0, 16).join('\n');
    assert.deepEqual(outcome(judged(console({ script: cut }))), ['fail', 'capture', 'capture:workload-incomplete', 'battery: stopped after 15 of 20 calls (exit 0)']);
    const noAccept = f.script.split('\n').filter((l) => !/^KMB 16 /.test(l)).join('\n');
    assert.deepEqual(outcome(judged(console({ script: noAccept }))), ['fail', 'capture', 'capture:workload-incomplete', "battery: call #16 is clone #17, the script's is accept (exit 0)"]);
  });

  it('every call made, but the battery exited non-zero: fail', () => {
    const v = judged(console({ battery: 'KMATRIX v1 battery rc=3 seconds=1.5 alive=1' }));
    assert.deepEqual(outcome(v), ['fail', 'capture', 'capture:workload-incomplete', 'battery: ran all 20 calls, then exited 3']);
  });

  it('no battery from the guest (marker seen): fail for sysdig and Falco; scap-open (it prints no parameters) passes without one', () => {
    assert.deepEqual(outcome(judged(console({ battery: null, soak: null }))), ['fail', 'capture', 'capture:workload-incomplete', 'battery: the guest reported no battery']);
    const falco = readFileSync(path.resolve('test/fixtures/falco/stdout.txt'), 'utf8');
    const fNonce = readFileSync(path.resolve('test/fixtures/falco/nonce'), 'utf8').trim();
    const v = judged(console({ battery: null, soak: null, captured: falco }), 'falco', { soakSeconds: 5, maxDropRatio: 0.01 }, 'kmod', fNonce);
    assert.deepEqual([v.marker, ...outcome(v)], [true, 'fail', 'capture', 'capture:workload-incomplete', 'battery: the guest reported no battery']);
    const scap = `PARAM 2: /tmp/kmatrix-marker-${f.nonce}`;
    const s = judged(console({ battery: null, soak: null, captured: scap, stats: 'Number of `SCAP_SUCCESS` (events correctly captured): 4242\n' }), 'scap-open', { soakSeconds: 0, maxDropRatio: 0.01 }, 'modern-ebpf');
    assert.deepEqual([s.status, s.battery, s.events], ['pass', undefined, 4242]);
  });

  it('the battery program missing from the guest (rc 127 missing=1): an infrastructure error, never a pass', () => {
    const v = judged(console({ battery: 'KMATRIX v1 battery rc=127 missing=1 seconds=0', script: '', events: '', soak: null }));
    assert.deepEqual(outcome(v), ['error', 'capture', 'infra:harness', 'battery: /kmatrix/kmbattery missing from the guest (rc 127)']);
  });

  it('a soak asked for that ran no battery, or that the guest never reported: fail', () => {
    assert.deepEqual(outcome(judged(console({ soak: 'KMATRIX v1 soak seconds=5 runs=0 events=0 alive=1' }))), ['fail', 'capture', 'capture:workload-incomplete', 'soak: 0 battery run(s) in 5 s']);
    assert.deepEqual(outcome(judged(console({ soak: null }))), ['fail', 'capture', 'capture:workload-incomplete', 'soak: no report of the 5 s soak']);
    // (no soak asked: none needed)
    assert.equal(judged(console({ soak: null }), 'sysdig', { soakSeconds: 0, maxDropRatio: 0.01 }).status, 'pass');
  });

  it('the consumer dead at the soak\'s end (or after the battery): fail, consumer-died', () => {
    const v = judged(console({ soak: 'KMATRIX v1 soak seconds=5 runs=3 events=900 alive=0', capture: 'KMATRIX v1 capture found=1 alive=1 rc=137 seconds=1 untraced=0' }));
    assert.deepEqual(outcome(v), ['fail', 'capture', 'capture:consumer-died', 'sysdig was killed by signal 9 (SIGKILL)']);
    assert.equal(v.reason, 'the consumer was killed by signal 9 (SIGKILL) during the soak');
    const exited = judged(console({ battery: 'KMATRIX v1 battery rc=0 seconds=1 alive=0', soak: 'KMATRIX v1 soak seconds=5 runs=3 events=0 alive=0', capture: 'KMATRIX v1 capture found=1 alive=1 rc=1 seconds=1 untraced=0' }));
    assert.deepEqual([exited.reason, exited.class], ['the consumer exited (code 1) during the battery', 'capture:consumer-died']);
  });

  it("Falco's drops: any is a warning in the cell; above workload.maxDropRatio of the driver's events, fail (capture:drops)", () => {
    const m = fixture('modern-ebpf@falco-0.44.1');
    const falco = readFileSync(path.resolve('test/fixtures/falco/stdout.txt'), 'utf8');
    const fNonce = readFileSync(path.resolve('test/fixtures/falco/nonce'), 'utf8').trim();
    // the marker alerts of one real Falco run, the battery of another: one nonce for both
    const lines = (drops: number) => console({ script: m.script, events: m.events, captured: falco.replaceAll(fNonce, m.nonce), stats: `Driver Events:9900\nDriver Drops:${drops}\n- event drop detected: 1 occurrences\n` });
    const falcoJudged = (drops: number) => judged(lines(drops), 'falco', { soakSeconds: 5, maxDropRatio: 0.01 }, 'modern-ebpf', m.nonce);
    const none = falcoJudged(0);
    assert.deepEqual([none.status, none.warnings], ['pass', undefined], none.reason);
    const few = falcoJudged(50);
    assert.equal(few.status, 'pass', few.reason);
    assert.deepEqual(few.warnings, ['the driver dropped 50 of 9950 event(s) (0.5%)']);
    assert.match(few.reason, /with warnings: the driver dropped 50/);
    assert.equal(falcoJudged(100).status, 'pass', '1% is not above 1%');
    const many = falcoJudged(200);
    assert.deepEqual(outcome(many), ['fail', 'capture', 'capture:drops', 'drops: the driver dropped 200 of 10100 event(s) (1.98%), above workload.maxDropRatio 1%']);
    assert.equal(judged(lines(200), 'falco', { soakSeconds: 5, maxDropRatio: 0.05 }, 'modern-ebpf', m.nonce).status, 'pass', 'the matrix sets the threshold');
  });

  it('an event with a wrong descriptor is that call wrong, naming fd — not missing', () => {
    const events = f.events.replace(/(< write kmbattery \S+ pid=\d+ :: .*) fd=3\(/, '$1 fd=4(');
    assert.notEqual(events, f.events);
    const v = judged(console({ events }));
    assert.deepEqual(outcome(v), ['fail', 'capture', 'capture:wrong-params', 'battery: write #3: fd expected 3, saw 4']);
    assert.deepEqual([v.battery?.wrong, v.battery?.missing, v.battery?.calls.find((c) => c.seq === 3)?.status], [1, 0, 'wrong']);
    // the close after it keeps its own event (the write's did not take it)
    assert.equal(v.battery?.calls.find((c) => c.seq === 4)?.status, 'right');
  });

  it("the battery's own stdout writes (to /tmp/battery.out) are never taken for a script call", () => {
    // without the data file's write, the next write of the process is its flush to battery.out: missing, not wrong
    const events = f.events.split('\n').filter((l) => !/< write kmbattery \/tmp\/kmatrix-battery-/.test(l)).join('\n');
    assert.equal(judged(console({ events })).firstError, 'battery: write #3: no event');
  });
});
