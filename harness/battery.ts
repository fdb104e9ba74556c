// The battery: a fixed script of system calls run in the guest
// (images/guest/battery.c prints each call, its arguments and its return
// value), checked against the events the consumer printed for it — each
// call's enter/exit events found, and each checked parameter right or wrong.
import type { BatteryCallResult, BatteryResult, ConsumerKind } from './types.js';

/** Consumers that print events with their parameters: sysdig, and Falco through kmatrix's battery rule (scap-open only counts). */
export function printsParameters(kind: ConsumerKind): boolean {
  return kind === 'sysdig' || kind === 'falco';
}

/** One line of the script's output: `KMB <seq> <call> <name>=<value> … ret=<r>`. */
export interface ScriptCall {
  seq: number;
  call: string;
  args: Record<string, string>;
}

/**
 * The battery's whole fixed script: the calls images/guest/battery.c makes
 * and prints, in order (its start line, seq 0, aside). `accept` stands for
 * accept4 too (battery.c's `#else`, for arches without SYS_accept). A unit
 * test reads battery.c's source against it: change both together.
 */
export const BATTERY_SCRIPT = [
  'mkdirat', 'openat', 'write', 'close', 'openat', 'read', 'close', 'renameat2', 'unlinkat', 'unlinkat',
  'socket', 'bind', 'listen', 'socket', 'connect', 'accept', 'clone', 'execve', 'exit', 'wait4',
] as const;

const sameCall = (made: string, fixed: string) => made === fixed || (fixed === 'accept' && made === 'accept4');

/**
 * What keeps the guest's script output from being the whole battery: a call
 * out of place, calls missing at the end, a non-zero exit. "stopped after 7
 * of 20 calls (exit 1)", "call #16 is clone, the script's is accept".
 */
export function scriptProblem(all: ScriptCall[], rc: number | undefined): string | undefined {
  const script = all.filter((c) => c.call !== 'start');
  const exit = rc === undefined ? 'no exit status' : `exit ${rc}`;
  for (const [i, fixed] of BATTERY_SCRIPT.entries()) {
    const made = script[i];
    if (!made) return `stopped after ${i} of ${BATTERY_SCRIPT.length} calls (${exit})`;
    if (made.seq !== i + 1 || !sameCall(made.call, fixed)) return `call #${i + 1} is ${made.call} #${made.seq}, the script's is ${fixed} (${exit})`;
  }
  if (script.length > BATTERY_SCRIPT.length) return `${script.length - BATTERY_SCRIPT.length} call(s) beyond the script's ${BATTERY_SCRIPT.length} (${exit})`;
  return rc === 0 ? undefined : `ran all ${BATTERY_SCRIPT.length} calls, then ${rc === undefined ? 'reported no exit status' : `exited ${rc}`}`;
}

export function parseScript(out: string): ScriptCall[] {
  const calls: ScriptCall[] = [];
  for (const line of out.split('\n')) {
    const m = /^KMB (\d+) (\w+)((?: \w+=\S*)*)\s*$/.exec(line.trim());
    if (!m) continue;
    const args: Record<string, string> = {};
    for (const kv of m[3]!.trim().split(' ').filter(Boolean)) args[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    calls.push({ seq: Number(m[1]), call: m[2]!, args });
  }
  return calls.sort((a, b) => a.seq - b.seq);
}

/** One event as sysdig printed it: `KMEVT <num> <dir> <type> <proc> <fd> pid=<pid> :: <args>`. */
export interface PrintedEvent {
  num: number;
  dir: '>' | '<';
  type: string;
  /** The event's file (`%fd.name`; empty or `<NA>` for none). */
  fdName: string;
  pid: number;
  args: Record<string, string>;
}

/** sysdig's `%evt.args`: `name=value` pairs; a value runs to the next ` name=` (a buffer's text may hold spaces). */
export function parseArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  const re = /(?:^|\s)(\w+)=/g;
  const starts: { name: string; at: number; value: number }[] = [];
  for (let m; (m = re.exec(text)); ) starts.push({ name: m[1]!, at: m.index, value: m.index + m[0].length });
  starts.forEach((s, i) => (args[s.name] = text.slice(s.value, starts[i + 1]?.at ?? text.length).trim()));
  return args;
}

export function parseSysdigEvents(text: string): PrintedEvent[] {
  const events: PrintedEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^KMEVT (\d+) ([<>]) (\w+) \S+ (.*?) ?pid=(\d+) :: ?(.*)$/.exec(line);
    if (m) events.push({ num: Number(m[1]), dir: m[2] as '>' | '<', type: m[3]!, fdName: m[4]!.trim(), pid: Number(m[5]), args: parseArgs(m[6] ?? '') });
  }
  return events;
}

/** The number before a parameter's decoration: `3(<f>/tmp/x)` → 3, `2(AF_INET)` → 2. */
const num = (v: string | undefined) => (v === undefined ? undefined : /^-?\d+/.exec(v)?.[0]);
/** The flag names of `4097(O_RDONLY|O_CLOEXEC)` (libs' own O_F_* markers left out), sorted. */
const flagNames = (v: string | undefined) =>
  v === undefined ? undefined : (/\(([^)]*)\)/.exec(v)?.[1] ?? (v === '0' ? '' : v)).split('|').filter((f) => f && !f.startsWith('O_F_')).sort().join('|');
const sortedFlags = (v: string) => (v === '0' ? '' : v.split('|').sort().join('|'));

type Check = { field: string; expected: string; seen: (e: Record<string, string>) => string | undefined };

/** Which events a script call shows as, and what of them is checked (libs' event parameter names). */
function expectation(c: ScriptCall, nonce: string, server: string): { type: string; child?: boolean; checks: Check[] } {
  const a = c.args;
  const res = (field = 'res'): Check => ({ field: 'ret', expected: a.ret!, seen: (e) => num(e[field]) });
  const fd = (field = 'fd'): Check => ({ field: 'fd', expected: a.fd!, seen: (e) => num(e[field]) });
  const path = (field: string, want = a.path!): Check => ({ field, expected: want, seen: (e) => e[field] });
  switch (c.call) {
    case 'mkdirat':
      return { type: 'mkdirat', checks: [res(), path('path'), { field: 'mode', expected: a.mode!, seen: (e) => (e.mode ? `0${parseInt(e.mode, 16).toString(8)}` : undefined) }] };
    case 'openat':
      return {
        type: 'openat',
        checks: [res('fd'), path('name'), { field: 'flags', expected: sortedFlags(a.flags!), seen: (e) => flagNames(e.flags) }, { field: 'mode', expected: a.mode!, seen: (e) => e.mode }],
      };
    case 'read':
    case 'write':
      return { type: c.call, checks: [res(), fd(), { field: 'size', expected: a.size!, seen: (e) => num(e.size) }] };
    case 'close':
      return { type: 'close', checks: [res(), fd()] };
    case 'renameat2':
      return { type: 'renameat2', checks: [res(), path('oldpath', a.oldpath), path('newpath', a.newpath), { field: 'flags', expected: a.flags!, seen: (e) => flagNames(e.flags) }] };
    case 'unlinkat':
      return { type: 'unlinkat', checks: [res(), path('name'), { field: 'flags', expected: sortedFlags(a.flags!), seen: (e) => flagNames(e.flags) }] };
    case 'socket':
      return {
        type: 'socket',
        checks: [res('fd'), { field: 'domain', expected: 'AF_INET', seen: (e) => /\((\w+)\)/.exec(e.domain ?? '')?.[1] }, { field: 'type', expected: '1', seen: (e) => num(e.type) }],
      };
    case 'bind':
      return { type: 'bind', checks: [res(), fd(), { field: 'addr', expected: a.addr!, seen: (e) => e.addr }] };
    case 'listen':
      return { type: 'listen', checks: [res(), fd(), { field: 'backlog', expected: a.backlog!, seen: (e) => e.backlog }] };
    case 'connect':
      return { type: 'connect', checks: [res(), fd(), { field: 'server', expected: a.addr!, seen: (e) => e.tuple?.split('->')[1] }] };
    case 'accept':
    case 'accept4':
      return { type: c.call, checks: [res('fd'), { field: 'server', expected: server, seen: (e) => e.tuple?.split('->')[1] }] };
    case 'clone':
      return { type: 'clone', checks: [res()] };
    case 'execve':
      return { type: 'execve', child: true, checks: [{ field: 'ret', expected: '0', seen: (e) => num(e.res) }, path('exe'), { field: 'args', expected: `exec.${nonce}.`, seen: (e) => e.args }] };
    case 'exit':
      return { type: 'procexit', child: true, checks: [{ field: 'code', expected: a.code!, seen: (e) => num(e.ret) ?? (e.status ? String(Number(num(e.status)) >> 8) : undefined) }] };
    case 'wait4':
      return { type: 'wait4', checks: [] }; // a generic event in libs: no parameters to check
    default:
      return { type: c.call, checks: [] };
  }
}

/**
 * Check the script against the events: each call's exit event is the next
 * one of its type in its process (the child's calls in the child's pid), its
 * enter event — where the consumer shows enter events at all — the one just
 * before it in that process; parameters from both (newer libs put the enter
 * parameters in the exit event).
 */
export function checkBattery(all: ScriptCall[], events: PrintedEvent[], nonce: string): BatteryResult {
  const script = all.filter((c) => c.call !== 'start');
  // enter events of syscalls (not the one-way ones: procexit, switch, signaldeliver)
  const exits = new Set(events.filter((e) => e.dir === '<').map((e) => e.type));
  const shows = { enter: events.some((e) => e.dir === '>' && exits.has(e.type)) };
  // the script says its pid (line 0); else the process that exec'd with the nonce alone
  const parent = Number(all.find((c) => c.call === 'start')?.args.pid ?? events.find((e) => e.type === 'execve' && e.dir === '<' && e.args.args === `${nonce}.`)?.pid);
  const child = Number(script.find((c) => c.call === 'clone')?.args.ret ?? NaN);
  const server = script.find((c) => c.call === 'bind')?.args.addr ?? '';
  const cursor = new Map<number, number>(); // per pid: the index after the last matched event
  const calls: BatteryCallResult[] = script.map((c) => {
    const want = expectation(c, nonce, server);
    const pid = want.child ? child : parent;
    const from = cursor.get(pid!) ?? 0;
    const dir = want.type === 'procexit' ? '>' : '<';
    const at = events.findIndex((e, i) => i >= from && e.pid === pid && e.type === want.type && e.dir === dir && matches(c, e));
    if (at < 0) return { seq: c.seq, call: c.call, status: 'missing', fields: [] };
    cursor.set(pid!, at + 1);
    const exit = events[at]!;
    const enterEvent = shows.enter && dir === '<' ? events.slice(from, at).reverse().find((e) => e.pid === pid && e.type === want.type && e.dir === '>') : undefined;
    const seen = { ...enterEvent?.args, ...exit.args };
    const fields = want.checks.map((k) => ({ field: k.field, expected: k.expected, seen: k.seen(seen) ?? '(none)' }));
    const wrong = fields.filter((f) => f.seen !== f.expected);
    const enter = shows.enter && dir === '<' ? Boolean(enterEvent) : undefined;
    return { seq: c.seq, call: c.call, status: wrong.length || enter === false ? 'wrong' : 'right', fields, ...(enter === false ? { enter } : {}) };
  });
  const count = (s: BatteryCallResult['status']) => calls.filter((c) => c.status === s).length;
  const first = calls.find((c) => c.status !== 'right');
  return { right: count('right'), wrong: count('wrong'), missing: count('missing'), enterEvents: shows.enter, calls, ...(first ? { firstProblem: describeProblem(first) } : {}) };
}

/**
 * Which events can be a script call's: an openat of the call's own path (not
 * libc's opens); a read, write or close of any descriptor but the battery's
 * own stdout (init.sh sends it to /tmp/battery.out: battery.c's flushes
 * before fork and at exit are writes of its own). The descriptor itself is
 * then checked: one reported wrong is a wrong field, not a missing call.
 */
function matches(c: ScriptCall, e: PrintedEvent): boolean {
  if (c.call === 'openat') return e.args.name === c.args.path;
  if (c.call === 'read' || c.call === 'write' || c.call === 'close') return !/battery\.out/.test(`${e.fdName} ${e.args.fd ?? ''}`);
  return true;
}

/** "write #3: size expected 29, saw 64", "renameat2 #8: no event", "read #6: no enter event". */
export function describeProblem(c: BatteryCallResult): string {
  if (c.status === 'missing') return `${c.call} #${c.seq}: no event`;
  const w = c.fields.find((f) => f.seen !== f.expected);
  return w ? `${c.call} #${c.seq}: ${w.field} expected ${w.expected}, saw ${w.seen}` : `${c.call} #${c.seq}: no enter event`;
}

/**
 * The battery from the guest's logs, when it ran: the script's lines and the
 * consumer's events for it, and whether the script is the whole fixed one
 * with exit status 0 (`rc`, init.sh's `battery rc=`): a script cut short is
 * no evidence of the calls it did not make.
 */
export function batteryOf(logs: Record<string, string>, kind: ConsumerKind, nonce: string, rc?: number): BatteryResult | undefined {
  if (!printsParameters(kind) || logs.battery === undefined) return undefined;
  const script = parseScript(logs.battery);
  const exit = rc === undefined ? {} : { rc };
  if (!script.length) {
    const problem = `the battery printed nothing${rc === undefined ? '' : ` (exit ${rc})`}: ${logs.battery.trim().split('\n')[0] ?? ''}`.replace(/: $/, '');
    return { right: 0, wrong: 0, missing: 0, calls: [], firstProblem: problem, scriptProblem: problem, ...exit };
  }
  const checked = checkBattery(script, parseSysdigEvents(logs['battery-events'] ?? ''), nonce);
  const incomplete = scriptProblem(script, rc);
  return { ...checked, ...exit, ...(incomplete ? { scriptProblem: incomplete, firstProblem: incomplete } : {}) };
}
