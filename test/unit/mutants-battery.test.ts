// The battery (harness/battery.ts), the behaviour mutation testing found
// unchecked: every parameter the battery checks can fail (each edit of the
// real kmod@0.23.2 events below makes exactly its call wrong, named), the
// process a call is looked for in, and the script's and events' parsing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { batteryOf, checkBattery, parseArgs, parseScript, parseSysdigEvents, scriptProblem } from '../../harness/battery.js';

const FIX = path.resolve('test/fixtures/battery');
const script = readFileSync(path.join(FIX, 'kmod@0.23.2.script'), 'utf8');
const events = readFileSync(path.join(FIX, 'kmod@0.23.2.events'), 'utf8');
const nonce = /kmatrix-battery-(\w+)/.exec(script)![1]!;
const dir = `/tmp/kmatrix-battery-${nonce}`;

/** Replace `from` by `to` in event number `num` (a line of the fixture). */
function edit(num: number, from: string | RegExp, to: string): (e: string) => string {
  return (e) => {
    const lines = e.split('\n');
    const i = lines.findIndex((l) => l.startsWith(`KMEVT ${num} `));
    assert.ok(i >= 0, `event ${num}`);
    const before = lines[i]!;
    lines[i] = before.replace(from, to);
    assert.notEqual(lines[i], before, `the edit of event ${num} changes it`);
    return lines.join('\n');
  };
}
const check = (change: (e: string) => string = (e) => e, s = script) => checkBattery(parseScript(s), parseSysdigEvents(change(events)), nonce);

describe('the battery (mutants)', () => {
  it('the fixture as recorded: every call right, no problem', () => {
    const r = check();
    assert.deepEqual([r.right, r.wrong, r.missing], [20, 0, 0]);
    assert.equal('firstProblem' in r, false);
    assert.equal(r.enterEvents, false);
    assert.ok(r.calls.every((c) => c.status === 'right' && !('enter' in c)));
  });

  const cases: [string, (e: string) => string, string][] = [
    ['mkdirat ret', edit(564, 'res=0', 'res=-17'), 'mkdirat #1: ret expected 0, saw -17'],
    ['mkdirat path', edit(564, `path=${dir}`, 'path=/tmp/x'), `mkdirat #1: path expected ${dir}, saw /tmp/x`],
    ['mkdirat mode', edit(564, 'mode=1ED', 'mode=1FF'), 'mkdirat #1: mode expected 0755, saw 0777'],
    ['openat fd', edit(566, 'fd=3(', 'fd=7('), 'openat #2: ret expected 3, saw 7'],
    ['openat flags', edit(566, 'O_TRUNC|O_CREAT|', 'O_TRUNC|'), 'openat #2: flags expected O_CLOEXEC|O_CREAT|O_TRUNC|O_WRONLY, saw O_CLOEXEC|O_TRUNC|O_WRONLY'],
    ['openat mode', edit(570, 'mode=0 ', 'mode=644 '), 'openat #5: mode expected 0, saw 644'],
    ['write ret', edit(567, 'res=29', 'res=28'), 'write #3: ret expected 29, saw 28'],
    ['write size', edit(567, 'size=29', 'size=30'), 'write #3: size expected 29, saw 30'],
    // read, write and close are matched by type (not the battery's own output), then their fd checked
    ['write on another fd', edit(567, 'fd=3(', 'fd=9('), 'write #3: fd expected 3, saw 9'],
    ['close ret', edit(568, 'res=0', 'res=-9'), 'close #4: ret expected 0, saw -9'],
    ['read ret', edit(571, 'res=29', 'res=1'), 'read #6: ret expected 29, saw 1'],
    ['renameat2 oldpath', edit(573, `oldpath=${dir}/data`, 'oldpath=/tmp/o'), `renameat2 #8: oldpath expected ${dir}/data, saw /tmp/o`],
    ['renameat2 newpath', edit(573, `newpath=${dir}/renamed`, 'newpath=/tmp/n'), `renameat2 #8: newpath expected ${dir}/renamed, saw /tmp/n`],
    ['renameat2 flags', edit(573, 'flags=1(RENAME_NOREPLACE)', 'flags=2(RENAME_EXCHANGE)'), 'renameat2 #8: flags expected RENAME_NOREPLACE, saw RENAME_EXCHANGE'],
    ['unlinkat name', edit(576, `name=${dir}/renamed`, 'name=/tmp/u'), `unlinkat #9: name expected ${dir}/renamed, saw /tmp/u`],
    ['unlinkat flags', edit(577, 'flags=512(AT_REMOVEDIR)', 'flags=0'), 'unlinkat #10: flags expected AT_REMOVEDIR, saw '],
    ['socket fd', edit(578, 'fd=3(', 'fd=8('), 'socket #11: ret expected 3, saw 8'],
    ['socket domain', edit(578, 'domain=2(AF_INET)', 'domain=10(AF_INET6)'), 'socket #11: domain expected AF_INET, saw AF_INET6'],
    ['socket type', edit(578, 'type=1', 'type=2'), 'socket #11: type expected 1, saw 2'],
    ['bind fd', edit(580, 'fd=3(', 'fd=6('), 'bind #12: fd expected 3, saw 6'],
    ['listen backlog', edit(618, 'backlog=1', 'backlog=5'), 'listen #13: backlog expected 1, saw 5'],
    ['listen ret', edit(618, 'res=0', 'res=-98'), 'listen #13: ret expected 0, saw -98'],
    ['connect server', edit(635, /tuple=(\S+)->127\.0\.0\.1:41000/, 'tuple=$1->127.0.0.1:9'), 'connect #15: server expected 127.0.0.1:41000, saw 127.0.0.1:9'],
    ['connect fd', edit(635, 'fd=4(', 'fd=2('), 'connect #15: fd expected 4, saw 2'],
    ['accept fd', edit(636, 'fd=5(', 'fd=6('), 'accept #16: ret expected 5, saw 6'],
    ['accept server', edit(636, /tuple=(\S+)->127\.0\.0\.1:41000/, 'tuple=$1->127.0.0.1:9'), 'accept #16: server expected 127.0.0.1:41000, saw 127.0.0.1:9'],
    ['clone ret', edit(644, 'res=120(', 'res=121('), 'clone #17: ret expected 120, saw 121'],
    ['execve ret', edit(650, 'res=0', 'res=-2'), 'execve #18: ret expected 0, saw -2'],
    ['execve exe', edit(650, 'exe=/kmatrix/kmbattery', 'exe=/bin/sh'), 'execve #18: exe expected /kmatrix/kmbattery, saw /bin/sh'],
    ['execve args', edit(650, `args=exec.${nonce}.`, 'args=other.'), `execve #18: args expected exec.${nonce}., saw other.`],
    ['execve in the parent', edit(650, 'pid=120 ', 'pid=119 '), 'execve #18: no event'],
    ['exit code', edit(683, 'ret=42', 'ret=41'), 'exit #19: code expected 42, saw 41'],
    ['exit code from the status', edit(683, 'status=10752 ret=42', 'status=10496'), 'exit #19: code expected 42, saw 41'],
    ['wait4', (e) => e.split('\n').filter((l) => !l.startsWith('KMEVT 685 ')).join('\n'), 'wait4 #20: no event'],
  ];
  for (const [name, change, problem] of cases)
    it(`a checked parameter seen otherwise fails its call: ${name}`, () => {
      const r = check(change);
      assert.equal(r.firstProblem, problem);
      assert.equal(r.right, 19);
      assert.equal(r.wrong + r.missing, 1);
      assert.equal(r.missing, problem.endsWith('no event') ? 1 : 0);
    });

  it("the exit status alone gives the code (older libs: no ret)", () => {
    assert.equal(check(edit(683, ' ret=42', '')).right, 20);
  });

  it('a write to the battery\'s own output on the same fd is not the call', () => {
    const stray = `KMEVT 566 < write kmbattery /tmp/battery.out pid=119 :: res=5 data=x fd=3(<f>/tmp/battery.out) size=5`;
    assert.equal(check(edit(566, /$/, `\n${stray}`)).right, 20);
  });

  it("a read or close of the battery's own output is not the call, by its file or its fd's", () => {
    const read = `KMEVT 570 < read kmbattery /tmp/battery.out pid=119 :: res=5 data=x fd=3(<f>/tmp/battery.out) size=64`;
    assert.equal(check(edit(570, /$/, `\n${read}`)).right, 20);
    const close = `KMEVT 567 < close kmbattery  pid=119 :: res=-9 fd=3(<f>/tmp/battery.out)`;
    assert.equal(check(edit(567, /$/, `\n${close}`)).right, 20);
    // another file's close on the same fd is the call's event, and its result checked
    assert.equal(check(edit(567, /$/, `\n${close.replace(/battery\.out/, 'other')}`)).firstProblem, 'close #4: ret expected 0, saw -9');
  });

  it('an openat of another file is not the call', () => {
    const stray = `KMEVT 565 < openat kmbattery /etc/ld.so.cache pid=119 :: fd=3(<f>/etc/ld.so.cache) dirfd=-100(AT_FDCWD) name=/etc/ld.so.cache flags=4097(O_RDONLY|O_CLOEXEC) mode=0`;
    assert.equal(check(edit(564, /$/, `\n${stray}`)).right, 20);
  });

  it("without the script's start line, the process that exec'd with the nonce is the battery's", () => {
    const noStart = script.split('\n').filter((l) => !l.startsWith('KMB 0 ')).join('\n');
    assert.equal(check(undefined, noStart).right, 20);
    const r = check((e) => e.replace(`args=${nonce}.`, 'args=other.'), noStart);
    // the parent's calls are looked for in no process; the child's (by clone's return) still found
    assert.deepEqual(r.calls.filter((c) => c.status === 'right').map((c) => c.call), ['execve', 'exit']);
    assert.equal(r.firstProblem, 'mkdirat #1: no event');
  });

  it('enter events: where the consumer shows them, a call without one is wrong', () => {
    // an enter event of a syscall, before mkdirat's exit: now the consumer shows enter events
    const withEnter = edit(564, /^/, `KMEVT 563 > mkdirat kmbattery  pid=119 :: \n`);
    const r = check(withEnter);
    assert.equal(r.enterEvents, true);
    assert.equal(r.calls[0]!.status, 'right');
    assert.equal('enter' in r.calls[0]!, false);
    assert.equal(r.calls[1]!.status, 'wrong');
    assert.equal(r.calls[1]!.enter, false);
    assert.equal(r.firstProblem, 'openat #2: no enter event');
    // a one-way event (switch, procexit) shows nothing about enter events
    assert.equal(check().enterEvents, false);
  });

  it("the enter event's parameters count with the exit's", () => {
    const moved = (e: string) => edit(567, /^/, 'KMEVT 566 > write kmbattery  pid=119 :: fd=3(<f>/x) size=29\n')(edit(567, ' size=29', '')(e));
    const r = check(moved);
    assert.equal(r.calls.find((c) => c.seq === 3)!.status, 'right');
  });

  describe('parsing', () => {
    it("the script's lines, in order, with arguments whose values hold `=`", () => {
      assert.deepEqual(parseScript('noise\n  KMB 2 write fd=3 data=a=b ret=1  \nKMB 1 close fd=3 ret=0\nKMB x bad\nKMB 3 exit\n'), [
        { seq: 1, call: 'close', args: { fd: '3', ret: '0' } },
        { seq: 2, call: 'write', args: { fd: '3', data: 'a=b', ret: '1' } },
        { seq: 3, call: 'exit', args: {} },
      ]);
      assert.deepEqual(parseScript('KMB 1 close fd=3 garbage'), []);
      assert.deepEqual(parseScript('xKMB 1 close'), []);
    });

    it("sysdig's arguments from the start of the text; none in an empty text", () => {
      assert.deepEqual(parseArgs('fd=3 name=/a b'), { fd: '3', name: '/a b' });
      assert.deepEqual(parseArgs(''), {});
      assert.deepEqual(parseArgs('x=  '), { x: '' });
      assert.deepEqual(parseArgs('path=/a=b'), { path: '/a=b' });
    });

    it("sysdig's event lines: number, direction, type and pid; other lines are not events", () => {
      assert.deepEqual(parseSysdigEvents('KMEVT 7 > read cat /x pid=42 :: fd=3\nKMEVT 8 < getpid cat <NA> pid=42 :: \nnot KMEVT 9 < read cat x pid=1 :: \nKMEVT 10 = read cat x pid=1 :: '), [
        { num: 7, dir: '>', type: 'read', fdName: '/x', pid: 42, args: { fd: '3' } },
        { num: 8, dir: '<', type: 'getpid', fdName: '<NA>', pid: 42, args: {} },
      ]);
    });
  });

  describe('from the guest\'s logs', () => {
    it('no battery log: no battery; an empty one or no script line: the battery printed nothing, with its first line', () => {
      assert.equal(batteryOf({}, 'sysdig', nonce), undefined);
      assert.deepEqual(batteryOf({ battery: 'kmbattery: cannot open /tmp: EACCES\nsecond line\n' }, 'sysdig', nonce), {
        right: 0,
        wrong: 0,
        missing: 0,
        calls: [],
        firstProblem: 'the battery printed nothing: kmbattery: cannot open /tmp: EACCES',
        scriptProblem: 'the battery printed nothing: kmbattery: cannot open /tmp: EACCES',
      });
      // its exit status, when init.sh gave one, is said and kept
      const failed = batteryOf({ battery: 'kmbattery: cannot open /tmp: EACCES\n' }, 'sysdig', nonce, 1)!;
      assert.equal(failed.scriptProblem, 'the battery printed nothing (exit 1): kmbattery: cannot open /tmp: EACCES');
      assert.equal(failed.rc, 1);
      assert.equal(batteryOf({ battery: '' }, 'falco', nonce)?.firstProblem, 'the battery printed nothing');
      // scap-open only counts: no battery judged
      assert.equal(batteryOf({ battery: script }, 'scap-open', nonce, 0), undefined);
    });

    it('no events log: every call missing', () => {
      const r = batteryOf({ battery: script }, 'sysdig', nonce, 0)!;
      assert.deepEqual([r.right, r.wrong, r.missing], [0, 0, 20]);
      assert.equal(r.firstProblem, 'mkdirat #1: no event');
      assert.equal(r.rc, 0);
      assert.equal('scriptProblem' in r, false);
    });

    it("the script against the fixed one: a call out of place or out of sequence, calls beyond it, accept4 for accept", () => {
      const lines = script.split('\n');
      const without = (seq: number) => parseScript(lines.filter((l) => !l.startsWith(`KMB ${seq} `)).join('\n'));
      const renamed = (from: string, to: string) => parseScript(script.replace(from, to));
      assert.equal(scriptProblem(parseScript(script), 0), undefined);
      assert.equal(scriptProblem(without(5), 0), "call #5 is read #6, the script's is openat (exit 0)");
      assert.equal(scriptProblem(renamed('KMB 20 wait4', 'KMB 21 wait4'), 0), "call #20 is wait4 #21, the script's is wait4 (exit 0)");
      assert.equal(scriptProblem(renamed('KMB 16 accept', 'KMB 16 accept4'), 0), undefined);
      assert.equal(scriptProblem(renamed('KMB 15 connect', 'KMB 15 accept4'), 0), "call #15 is accept4 #15, the script's is connect (exit 0)");
      assert.equal(scriptProblem(renamed('KMB 16 accept', 'KMB 16 accept6'), undefined), "call #16 is accept6 #16, the script's is accept (no exit status)");
      const beyond = parseScript(`${script}\nKMB 21 close fd=3 ret=0\nKMB 22 close fd=3 ret=0\n`);
      assert.equal(scriptProblem(beyond, 0), "2 call(s) beyond the script's 20 (exit 0)");
      assert.equal(scriptProblem(without(20), undefined), 'stopped after 19 of 20 calls (no exit status)');
    });

    it('a whole script without an exit status of 0 is incomplete, and says so first', () => {
      const logs = { battery: script, 'battery-events': events };
      const none = batteryOf(logs, 'sysdig', nonce)!;
      assert.equal(none.right, 20);
      assert.equal(none.scriptProblem, 'ran all 20 calls, then reported no exit status');
      assert.equal(none.firstProblem, none.scriptProblem);
      assert.equal('rc' in none, false);
      assert.equal(batteryOf(logs, 'sysdig', nonce, 3)!.scriptProblem, 'ran all 20 calls, then exited 3');
      const cut = script.split('\n').filter((l) => !/^KMB (1[89]|20) /.test(l)).join('\n');
      assert.equal(batteryOf({ ...logs, battery: cut }, 'sysdig', nonce, 1)!.scriptProblem, 'stopped after 17 of 20 calls (exit 1)');
    });
  });
});
