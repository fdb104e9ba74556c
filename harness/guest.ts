// The guest side of a cell: what the harness tells the guest init (cell.env)
// and how the host reads the guest's console (`KMATRIX v1 …` lines, logs as
// length-checked base64). Garbage and truncated lines are counted, never trusted.
import type { BatteryResult, SoakResult, CellResult, ConsumerKind, DriverId, FalcoEvidence, Overhead, Phase, ProfileSpec } from './types.js';
import { batteryOf, printsParameters } from './battery.js';
import { PAIRING_NOTE, SCHEMA_MISMATCH } from './failures.js';
import { DEFAULT_LOOP_COUNT, DEFAULT_MAX_DROP_RATIO, slowdown, type LoopTiming } from './workload.js';

/** Where the guest finds a driver artifact the host built (init.sh reads the same paths). */
export const ARTIFACT_IN_GUEST: Partial<Record<DriverId, string>> = { kmod: 'kmatrix/scap.ko', ebpf: 'kmatrix/probe.o' };

/** A kernel module in the guest, by its name (scap; falco as Falco's CMake names it; sysdig-probe before): init.sh inserts and removes $KM_MODULE. */
export function moduleInGuest(name = 'scap'): string {
  return `kmatrix/${name}.ko`;
}

export interface CellEnv {
  driver: DriverId;
  consumer: ConsumerKind;
  nonce: string;
  engineArgs: string;
  runAs: string;
  captureTimeout: number;
  /** scap-open: the event type it prints (openat exit of its libs). */
  evtType?: number;
  /** Load the SD card's modules (kmatrix/sd/*.ko) and check its root partition. */
  sdcard?: boolean;
  /** probe: boot and power off (KVM probe); shell: load the driver, then an interactive shell on the console; box: run inside a Vagrant box over ssh (no poweroff at the end); control: insmod (a module built for another kernel), remove it if it loaded, and stop — no consumer. */
  mode?: 'probe' | 'shell' | 'box' | 'control';
  /** Length of the timed syscall loop (pdig cells measure their cost with it). */
  loopCount?: number;
  /** Seconds of mixed workload (the battery in a loop, a fork storm, file churn) while the consumer captures. */
  soakSeconds?: number;
  /** The kernel module's name (its file in the guest is kmatrix/<module>.ko). */
  module?: string;
}

/**
 * The command prefix of a profile's driver steps. Root keeping only some
 * capabilities: shrink the bounding set (util-linux setpriv), so that after
 * exec root's permitted and effective sets are just those.
 */
export function runAsPrefix(p: ProfileSpec): string {
  if (!p.capabilities) return '';
  // By path: the guest shell is busybox, which prefers its own (smaller) setpriv applet to PATH.
  return `/usr/bin/setpriv --bounding-set ${['-all', ...p.capabilities.map((c) => `+${c}`)].join(',')} --`;
}

/** Guest packages a profile needs beyond the consumer's (setpriv). */
export function profilePackages(p: ProfileSpec): string[] {
  return p.capabilities ? ['util-linux'] : [];
}

export function cellEnvFile(env: CellEnv): string {
  const q = (v: string | number) => `'${String(v).replace(/'/g, `'\\''`)}'`;
  return [
    `KM_DRIVER=${q(env.driver)}`,
    `KM_CONSUMER=${q(env.consumer)}`,
    `KM_NONCE=${q(env.nonce)}`,
    `KM_ENGINE_ARGS=${q(env.engineArgs)}`,
    `KM_RUN_AS=${q(env.runAs)}`,
    `KM_CAPTURE_TIMEOUT=${q(env.captureTimeout)}`,
    `KM_EVT_TYPE=${q(env.evtType ?? -1)}`,
    `KM_SDCARD=${q(env.sdcard ? 1 : 0)}`,
    `KM_MODE=${q(env.mode ?? 'cell')}`,
    `KM_LOOP_COUNT=${q(env.loopCount ?? DEFAULT_LOOP_COUNT)}`,
    `KM_SOAK=${q(env.soakSeconds ?? 0)}`,
    `KM_MODULE=${q(env.module ?? 'scap')}`,
    '',
  ].join('\n');
}

export type GuestMessage =
  | { verb: 'boot'; fields: Record<string, string> }
  | { verb: 'insmod' | 'capture' | 'rmmod' | 'attached' | 'consumer' | 'sdcard' | 'loop' | 'soak' | 'battery' | 'module'; fields: Record<string, string> }
  | { verb: 'log'; name: string; text: string }
  | { verb: 'done' };

const PREFIX = 'KMATRIX v1 ';

/** One console line → a guest message, or undefined for anything else (kernel output, garbage, truncation). */
export function parseGuestLine(rawLine: string): GuestMessage | undefined {
  const line = rawLine.replace(/\r$/, '');
  const at = line.indexOf(PREFIX);
  if (at < 0) return undefined;
  const words = line.slice(at + PREFIX.length).trim().split(/\s+/);
  const verb = words[0];
  if (verb === 'done' && words.length === 1) return { verb: 'done' };
  if (verb === 'log') {
    const [, name, len, b64 = ''] = words;
    if (!name || !/^\d+$/.test(len ?? '') || Number(len) !== b64.length || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
    return { verb: 'log', name, text: Buffer.from(b64, 'base64').toString('utf8') };
  }
  if (verb === 'boot' || verb === 'insmod' || verb === 'capture' || verb === 'rmmod' || verb === 'attached' || verb === 'consumer' || verb === 'sdcard' || verb === 'loop' || verb === 'soak' || verb === 'battery' || verb === 'module') {
    const fields: Record<string, string> = {};
    for (const w of words.slice(1)) {
      const eq = w.indexOf('=');
      if (eq > 0) fields[w.slice(0, eq)] = w.slice(eq + 1);
    }
    return { verb, fields } as GuestMessage;
  }
  return undefined;
}

/** The headline of a kernel crash or warning on the console. */
const CRASH = /(Kernel panic - not syncing.*|BUG: .*|Oops: .*|general protection fault.*|Unable to handle kernel .*|kernel BUG at .*|WARNING: CPU: \d+ PID: \d+ at .*)/;
/** The end of a crash report's block. */
const CRASH_END = /---\[ end (trace|Kernel panic)/;
const EXCERPT_LINES = 60;
/** How many of the console's last lines a boot that never reached init keeps for its message. */
const CONSOLE_TAIL_LINES = 8;
/** printk's time stamp at the start of a console line. */
const TIMESTAMP = /^\[\s*\d+\.\d+\]\s*/;

export type CrashKind = 'panic' | 'oops' | 'bug' | 'warn';

export function crashKind(headline: string): CrashKind {
  if (/^WARNING:/.test(headline)) return 'warn';
  if (/^Kernel panic/.test(headline)) return 'panic';
  if (/BUG/.test(headline)) return 'bug';
  return 'oops';
}

export interface Crash {
  kind: CrashKind;
  headline: string;
  /** Where the guest was when the kernel printed it (boot = before init reported). */
  phase: 'boot' | 'load' | 'capture';
  /** The console from the headline to the end of its trace (at most EXCERPT_LINES lines). */
  excerpt: string;
}

export interface GuestReport {
  boot?: { release: string; btime: number };
  insmod?: { rc: number };
  attachedAfter?: number;
  sdcard?: { partitions: string[]; rootMounted: boolean };
  /** The kernel's own modules init.sh inserted before anything else, in order, with insmod's exit status. */
  modules?: { name: string; rc: number }[];
  /** The console's last lines that were not the guest's reports (what a boot that never reached init printed last), and how many it printed. */
  consoleTail?: string[];
  consoleLines?: number;
  /** The console's lines up to the first crash's headline (what led to it: the trace after it says less). */
  crashTail?: string[];
  capture?: { found: boolean; alive: boolean; rc: number; seconds: number; lines: number; untracedOpens: number };
  /** The timed syscall loop, per mode (untraced, pdig, kmod): its time, or why it has none. */
  loops: Record<string, LoopTiming | { failed: string }>;
  /**
   * The battery as init.sh ran it: its exit status, how long it took (the
   * consumer's printing of it included), the program not in the guest
   * (missing), the consumer still running after it (undefined: not said).
   */
  battery?: { rc: number; seconds: number; missing: boolean; alive?: boolean };
  /** The soak after the battery: its length, the battery runs and the events the consumer printed meanwhile, the consumer still running at its end. */
  soak?: { seconds: number; runs: number; events: number; alive?: boolean };
  logs: Record<string, string>;
  done: boolean;
  /** The first crash headline (panic, Oops, BUG, WARN). */
  panic?: string;
  crash?: Crash;
}

/** `alive=1|0` of a guest line, where it says it. */
const aliveOf = (f: Record<string, string>): { alive?: boolean } => (f.alive === undefined ? {} : { alive: f.alive === '1' });

/** Fold console lines (in order) into what the guest reported. */
export class GuestReader {
  readonly report: GuestReport = { logs: {}, loops: {}, done: false };
  private phase: Crash['phase'] = 'boot';
  private excerpt?: string[];

  /** Feed one console line; returns the message it carried, if any. */
  feed(line: string): GuestMessage | undefined {
    this.watch(line.replace(/\r$/, ''));
    const msg = parseGuestLine(line);
    if (!msg) return undefined;
    const r = this.report;
    if (msg.verb === 'boot') this.phase = 'load';
    if (msg.verb === 'attached' || msg.verb === 'capture') this.phase = 'capture';
    const num = (f: Record<string, string>, k: string) => Number(f[k] ?? NaN);
    switch (msg.verb) {
      case 'boot':
        r.boot = { release: msg.fields.release ?? '', btime: num(msg.fields, 'btime') };
        break;
      case 'insmod':
        r.insmod = { rc: num(msg.fields, 'rc') };
        break;
      case 'module':
        (r.modules ??= []).push({ name: msg.fields.name ?? '', rc: num(msg.fields, 'rc') });
        break;
      case 'sdcard':
        r.sdcard = { partitions: (msg.fields.partitions ?? '').split(',').filter(Boolean), rootMounted: msg.fields.root === '1' };
        break;
      case 'attached':
        r.attachedAfter = num(msg.fields, 'seconds');
        break;
      case 'battery':
        r.battery = { rc: num(msg.fields, 'rc'), seconds: num(msg.fields, 'seconds'), missing: msg.fields.missing === '1', ...aliveOf(msg.fields) };
        break;
      case 'soak':
        r.soak = { seconds: num(msg.fields, 'seconds'), runs: num(msg.fields, 'runs'), events: num(msg.fields, 'events'), ...aliveOf(msg.fields) };
        break;
      case 'capture':
        r.capture = {
          found: msg.fields.found === '1',
          alive: msg.fields.alive === '1',
          rc: num(msg.fields, 'rc'),
          seconds: num(msg.fields, 'seconds'),
          lines: num(msg.fields, 'lines'),
          untracedOpens: Number(msg.fields.untraced ?? 0),
        };
        break;
      case 'loop': {
        const f = msg.fields;
        if (f.state === 'start' || !f.mode) break;
        const ns = Number(f.ns);
        r.loops[f.mode] =
          f.rc === '0' && /^\d+$/.test(f.ns ?? '') && ns > 0
            ? { count: num(f, 'count'), ns }
            : { failed: f.why ?? (r.logs[`loop-${f.mode}`]?.trim().split('\n')[0] || `exit ${f.rc}`) };
        break;
      }
      case 'log':
        r.logs[msg.name] = msg.text;
        break;
      case 'done':
        r.done = true;
        break;
    }
    return msg;
  }

  /** Console watching: the first crash's headline and its block, kept as an excerpt. */
  private watch(line: string): void {
    const r = this.report;
    const said = line.replace(TIMESTAMP, '').trim();
    if (!line.includes('KMATRIX v1 ') && said) {
      r.consoleLines = (r.consoleLines ?? 0) + 1;
      r.consoleTail = [...(r.consoleTail ?? []).slice(-(CONSOLE_TAIL_LINES - 1)), said];
    }
    if (this.excerpt) {
      if (line.includes('KMATRIX v1 ')) return;
      this.excerpt.push(line);
      r.crash!.excerpt = this.excerpt.join('\n');
      if (CRASH_END.test(line) || this.excerpt.length >= EXCERPT_LINES) this.excerpt = undefined;
      return;
    }
    const hit = CRASH.exec(line);
    if (!hit || r.crash) return;
    const headline = hit[1]!.trim();
    r.panic = headline;
    r.crash = { kind: crashKind(headline), headline, phase: this.phase, excerpt: line };
    r.crashTail = r.consoleTail;
    this.excerpt = [line];
  }
}

/**
 * Captured lines that show the marker. sysdig prints `KMEVT <num> <dir>
 * <type> <proc> <fd.name>`: an open-family syscall on the nonce file.
 * scap-open prints only openat exit events (--evt_type), parameters one per
 * line: a parameter holding the nonce path.
 */
export function markerEvents(captured: string, nonce: string, kind: ConsumerKind = 'sysdig'): string[] {
  const lines = captured.split('\n');
  if (kind === 'falco') return falcoAlerts(captured).filter((a) => isMarkerAlert(a, nonce)).map((a) => a.line);
  if (kind === 'scap-open') return lines.filter((l) => /^\s*PARAM \d+: /.test(l) && l.includes(`kmatrix-marker-${nonce}`));
  return lines.filter((l) => l.startsWith('KMEVT ') && l.includes(`kmatrix-marker-${nonce}`) && /\s(openat2?|open|creat)\s/.test(l));
}

/** One of Falco's JSON alerts (json_output): its rule, priority, message and output fields. */
export interface FalcoAlert {
  rule: string;
  priority?: string;
  output?: string;
  time?: string;
  fields: Record<string, unknown>;
  /** The line as Falco printed it. */
  line: string;
}

/** Falco's JSON alerts among its stdout lines (its other lines, and torn ones, are not alerts). */
export function falcoAlerts(stdout: string): FalcoAlert[] {
  const alerts: FalcoAlert[] = [];
  for (const line of stdout.split('\n').map((l) => l.trim())) {
    if (!line.startsWith('{')) continue;
    try {
      const a = JSON.parse(line) as { rule?: unknown; priority?: unknown; output?: unknown; time?: unknown; output_fields?: unknown };
      if (typeof a.rule !== 'string') continue;
      const fields = a.output_fields && typeof a.output_fields === 'object' ? (a.output_fields as Record<string, unknown>) : {};
      alerts.push({ rule: a.rule, priority: str(a.priority), output: str(a.output), time: str(a.time), fields, line });
    } catch {
      // a torn line is not an alert
    }
  }
  return alerts;
  function str(v: unknown): string | undefined {
    return typeof v === 'string' ? v : undefined;
  }
}

/** kmatrix's rule fired on this cell's marker: an open-family event on the nonce's file. */
export function isMarkerAlert(a: FalcoAlert, nonce: string): boolean {
  return a.rule === 'kmatrix marker opened' && String(a.fields['fd.name'] ?? '').includes(`kmatrix-marker-${nonce}`) && /^(open|openat|openat2)$/.test(String(a.fields['evt.type'] ?? ''));
}

/** What Falco says of its run at exit (-v): the driver's event and drop counts, its drop monitor, its alerts. */
export interface FalcoStats {
  driverEvents?: number;
  driverDrops?: number;
  /** "event drop detected: N occurrences" of Falco's syscall drop monitor. */
  dropsDetected?: number;
  /** Events detected (alerts). */
  alerts?: number;
}

export function falcoStats(text: string): FalcoStats {
  const n = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const s: FalcoStats = {
    driverEvents: n(/Driver Events:\s*(\d+)/),
    driverDrops: n(/Driver Drops:\s*(\d+)/),
    dropsDetected: n(/event drop detected:\s*(\d+) occurrences/),
    alerts: n(/Events detected:\s*(\d+)/),
  };
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as FalcoStats;
}

/** pdig cells: events on the marker a process pdig does not trace opened (sysdig's lines). */
export function untracedEvents(captured: string, nonce: string): string[] {
  return captured.split('\n').filter((l) => l.startsWith('KMEVT ') && l.includes(`kmatrix-untraced-${nonce}`));
}

/** Seconds the host waits for one timed loop: pdig under TCG took 1.8 ms a pair here; allow 5. */
export function loopWatchdog(count: number): number {
  return Math.ceil(60 + count * 0.005);
}

/** The loop's figures of a pdig cell: untraced, under pdig, with kmod capturing, and their ratios. */
export function overheadOf(loops: GuestReport['loops']): Overhead | undefined {
  const timing = (mode: string): LoopTiming | undefined => {
    const l = loops[mode];
    return l && 'ns' in l ? l : undefined;
  };
  if (!Object.keys(loops).length) return undefined;
  const [untraced, pdig, kmod] = [timing('untraced'), timing('pdig'), timing('kmod')];
  const notes = Object.entries(loops).flatMap(([mode, l]) => ('failed' in l ? [`${mode}: ${l.failed}`] : []));
  const count = (untraced ?? pdig ?? kmod)?.count ?? 0;
  return {
    count,
    ...(untraced ? { untracedNs: untraced.ns } : {}),
    ...(kmod ? { kmodNs: kmod.ns } : {}),
    ...(pdig ? { pdigNs: pdig.ns } : {}),
    ...(pdig && kmod && pdig.count === kmod.count ? { pdigVsKmod: Math.round((pdig.ns / kmod.ns) * 100) / 100 } : {}),
    ...(slowdown(untraced, pdig) !== undefined ? { pdigSlowdown: slowdown(untraced, pdig) } : {}),
    ...(slowdown(untraced, kmod) !== undefined ? { kmodSlowdown: slowdown(untraced, kmod) } : {}),
    ...(notes.length ? { notes } : {}),
  };
}

/** What the consumer warned about on stderr while it worked (kept when the cell passes). */
export function consumerWarnings(stderr: string): string[] {
  // Falco's counters at exit (Driver Drops:0, its drop monitor) are figures, not warnings: kept as evidence
  const counter = /^(Driver (Events|Drops):|Syscall event drop monitoring:|- (event drop detected|num times actions taken):)/;
  return stderr.split('\n').map((l) => l.trim()).filter((l) => /warn|deprecat|drop/i.test(l) && !counter.test(l)).slice(0, 10);
}

/** A consumer's or pdig's complaints about events it could not parse (e.g. `corrupted filler`, `could not parse param`), each line once. */
export function parseErrors(stderr: string): string[] {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => /corrupted filler|could not parse param|corrupted event|invalid event|unexpected parameter/i.test(l));
  return [...new Set(lines)];
}

/** pdig's own complaints (its stderr), distinct, with how often each came: "<line> (×N)". */
export function pdigWarnings(stderr: string): string[] {
  const counts = new Map<string, number>();
  for (const l of stderr.split('\n').map((x) => x.trim()).filter(Boolean)) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].slice(0, 5).map(([l, n]) => `pdig: ${l}${n > 1 ? ` (×${n})` : ''}`);
}

/** How many events the consumer says it captured (sysdig: our printed lines; scap-open: its closing stats). */
export function capturedCount(captured: string, kind: ConsumerKind): number {
  if (kind === 'falco') return falcoStats(captured).driverEvents ?? 0;
  if (kind === 'scap-open') return Number(/events correctly captured\): (\d+)/.exec(captured)?.[1] ?? 0);
  return captured.split('\n').filter((l) => l.startsWith('KMEVT ')).length;
}

/**
 * The consumer's error: its stderr's first error line, unless that says
 * nothing (scap-open prints just " (13)"): then the reason in its output —
 * libbpf's failed program first (the verifier's rejection is above it).
 */
export function consumerError(stderr: string, stdout: string): string | undefined {
  // Falco's log lines carry a date and, from its libs, "[libs]: ": the message is what follows
  const lines = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim().replace(FALCO_LOG_PREFIX, ''));
  // A BPF program the verifier rejected: the loader's line — the verifier's reason.
  const loader = lines.find((l) => /^libbpf: prog .*failed/.test(l)) ?? lines.find((l) => /^bpf_load_program\(\) err=/.test(l))?.replace(/ message=.*/, '');
  if (loader) {
    const reason = verifierReason(lines, /^libbpf: prog '([^']+)'/.exec(loader)?.[1]);
    return reason ? `${loader} — ${reason}` : loader;
  }
  const bpf = lines.find((l) => /^libpman: /.test(l));
  const own = firstErrorLine(stderr);
  return bpf ?? (own && /[A-Za-z]{3}/.test(own) ? own : firstErrorLine(stdout) ?? own);
}

/** Verifier log lines that are not its reason: instructions, register states, source lines, backtracking, statistics, libbpf's own. */
const VERIFIER_NOISE = /^(\d+: |;( |$)|regs=|mark_precise|last_idx|parent didn't|from \d+ to \d+:|frame\d|R\d+(_\w)?=|func#|propagating|verification time|stack depth|processed \d+ insns|libbpf: |bpf_load_program\(\)|-- (BEGIN|END) PROG LOAD LOG --|Func info|Validating|\.\.\.)/;

/**
 * The verifier's reason for refusing a program: the last meaningful line of
 * its log before "processed N insns" or the log's end (libbpf's "-- END PROG
 * LOAD LOG --"), never an instruction or register-state line: none when
 * the log's last lines are all trace. With `prog`, that program's log
 * (libbpf prints one per program it failed to load).
 */
export function verifierReason(lines: string[], prog?: string): string | undefined {
  const begin = prog ? lines.findIndex((l) => l.includes(`prog '${prog}': -- BEGIN PROG LOAD LOG --`)) : -1;
  const from = Math.max(0, begin);
  const end = lines.findIndex((l, i) => i > from && (/^processed \d+ insns/.test(l) || /-- END PROG LOAD LOG --/.test(l)));
  // the reason ends the log (a line or two); farther up is the program's trace, never its reason
  for (let i = end - 1; i >= Math.max(from, end - 8) && end > 0; i--) {
    const l = lines[i]!.trim();
    if (/-- BEGIN PROG LOAD LOG --/.test(l)) break;
    if (!l || VERIFIER_NOISE.test(l)) continue;
    const why = scalarOrigin(lines.slice(from, i), l);
    return why ? `${l} (${why})` : l;
  }
  return undefined;
}

/**
 * A register refused as a scalar ("R9 invalid mem access 'scalar'") often
 * was a pointer the verifier itself demoted further up its log — since 6.x,
 * a traced function's argument that may hold an error ("marking pointer arg1
 * as scalar as it may encode error", its next state showing the register
 * scalar): that line is the reason, the last one only its consequence.
 */
function scalarOrigin(log: string[], reason: string): string | undefined {
  const reg = /^(R\d+) invalid mem access 'scalar'/.exec(reason)?.[1];
  if (!reg) return undefined;
  const scalar = new RegExp(`\\b${reg}(_w)?=scalar\\(`);
  for (let i = 0; i < log.length; i++) {
    const m = /(marking pointer (arg\d+) as scalar as it may encode error)(.*)$/.exec(log[i]!);
    // the verifier prints the line without a newline: the register's state follows on it, or on the next line
    if (m && scalar.test(m[3] || (log[i + 1] ?? ''))) return `${reg} is ${m[2]}: ${m[1]}`;
  }
  return undefined;
}

/** "Mon Nov 30 10:14:26 2026: [libs]: " before a Falco log message. */
const FALCO_LOG_PREFIX = /^[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \d{4}: (\[libs\]: )?/;

const SIGNALS: Record<number, string> = { 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 9: 'SIGKILL', 11: 'SIGSEGV' };

/** "exited (code 1)" or "was killed by signal 7 (SIGBUS)". */
export function exitDescription(rc: number): string {
  return rc > 128 && rc < 160 ? `was killed by signal ${rc - 128}${SIGNALS[rc - 128] ? ` (${SIGNALS[rc - 128]})` : ''}` : `exited (code ${rc})`;
}

/** The first line of a log that reads like an error. */
export function firstErrorLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /error|fail|unable|cannot|denied|not permitted|rejected|invalid|unknown/i.test(l)) ?? lines[0];
}

export interface GuestVerdict {
  status: 'pass' | 'fail' | 'error';
  phase: Phase;
  reason: string;
  firstError?: string;
  /** The kernel's crash or warning text, when there was one. */
  oops?: string;
  events: number;
  marker: boolean;
  lines: string[];
  untracedMarker?: boolean;
  overhead?: Overhead;
  warnings?: string[];
  falco?: FalcoEvidence;
  battery?: BatteryResult;
  soak?: SoakResult;
}

/** A verdict's evidence as the results keep it. */
export function evidenceOf(v: GuestVerdict, notes: string[] = []): NonNullable<CellResult['evidence']> {
  const overhead = v.overhead && notes.length ? { ...v.overhead, notes: [...notes, ...(v.overhead.notes ?? [])] } : v.overhead;
  return { events: v.events, marker: v.marker, lines: v.lines, untracedMarker: v.untracedMarker, overhead, warnings: v.warnings, falco: v.falco, battery: v.battery, soak: v.soak };
}

/** What the host asked of the guest beyond the marker: the soak's length (KM_SOAK), the share of events the driver may drop. */
export interface JudgeExpect {
  soakSeconds?: number;
  maxDropRatio?: number;
}

/** The drops a consumer reported (Falco's `Driver Drops`): a warning for any, a failure above `maxRatio` of the driver's events (events + drops). */
export function dropsJudged(stats: FalcoStats | undefined, maxRatio: number): { warning?: string; failure?: string } {
  const drops = stats?.driverDrops ?? 0;
  if (!drops) return {};
  const total = (stats?.driverEvents ?? 0) + drops;
  const share = drops / total;
  const pct = (x: number) => `${Math.round(x * 10000) / 100}%`;
  const what = `the driver dropped ${drops} of ${total} event(s) (${pct(share)})`;
  return { warning: what, ...(share > maxRatio ? { failure: `${what}, above workload.maxDropRatio ${pct(maxRatio)}` } : {}) };
}

/** Known last words of a kernel that cannot reach init, worth a first error of their own. */
const BOOT_LAST_WORDS = /VFS: Unable to mount root|No working init found|Failed to execute \S+|Kernel panic - not syncing: .*|unable to open an initial console|Initramfs unpacking failed: .*|junk in compressed archive|no console|Run \S+ as init process/i;

/** What the console showed of a boot that never reached init: its last lines, or that it printed nothing (no serial console). */
function bootTail(r: GuestReport): string {
  if (!r.consoleLines) return ' (the console printed nothing)';
  return `; the console's last lines${r.crashTail ? ' up to the crash' : ''}: ${(r.crashTail ?? r.consoleTail ?? []).slice(-5).map((l) => `"${l}"`).join(' | ')}`;
}

function bootFirstError(r: GuestReport): string | undefined {
  const hit = [...(r.consoleTail ?? [])].reverse().find((l) => BOOT_LAST_WORDS.test(l));
  return hit;
}

/**
 * Classify what the guest reported. No boot line means the VM never reached
 * init: infrastructure (`error`). After boot, a panic or a missing step is the
 * driver's doing: `fail` at the phase it was in.
 */
export function judge(r: GuestReport, driver: DriverId, kind: ConsumerKind, nonce: string, exit: { timedOut: boolean; phase: Phase; killed?: string; said?: string }, expect: JudgeExpect = {}): GuestVerdict {
  const none = { events: 0, marker: false, lines: [] as string[], oops: r.crash?.excerpt };
  if (!r.boot) {
    const why = exit.killed
      ? // an exit code is QEMU's own refusal (an image it cannot load); a signal came from outside
        `QEMU ${/^exit code/.test(exit.killed) ? 'exited' : 'was ended from outside'} (${exit.killed}) before the guest reached init`
      : exit.timedOut
        ? 'the guest did not reach init before the boot timeout'
        : r.crash
          ? `the kernel crashed before init reported (${r.crash.kind})`
          : // QEMU ended by itself (a poweroff, a reboot under -no-reboot) with no crash shown: init ran, or the kernel died, unseen
            `the guest ended without init's report on the console: its output did not reach the serial console (${r.consoleTail?.some((l) => /unable to open an initial console/i.test(l)) ? 'the kernel had no console to give init' : 'no console driver for it in the kernel, or the console on another port'})`;
    // QEMU's own refusal says more than an empty console
    const tail = exit.killed && exit.said && !r.consoleLines ? `: QEMU said "${exit.said}"` : bootTail(r);
    return { status: 'error', phase: 'boot', reason: `${why}${tail}`, firstError: r.panic ?? bootFirstError(r) ?? (exit.killed ? exit.said : undefined), ...none };
  }
  // a module of the kernel the guest needs did not load: the guest is not what the cell needs (init.sh stops there)
  const badModule = r.modules?.find((m) => m.rc !== 0);
  if (badModule)
    return { status: 'error', phase: 'boot', reason: `the guest could not load the kernel's module ${badModule.name} (insmod exit ${badModule.rc})`, firstError: firstErrorLine(r.logs[`module-${badModule.name}`] ?? ''), ...none };
  // A kernel crash or warning while the driver loads or captures is the driver's failure, whatever else was seen.
  if (r.crash && r.crash.phase !== 'boot') {
    const what = { panic: 'kernel panic', oops: 'kernel Oops', bug: 'kernel BUG', warn: 'kernel WARNING' }[r.crash.kind];
    return fail(r.crash.phase, `${what} while ${r.crash.phase === 'load' ? 'loading the driver' : 'capturing'}`, r.crash.headline);
  }
  // QEMU ended by someone else (killed, crashed) after boot: infrastructure, not the driver.
  if (exit.killed && !r.capture) return { status: 'error', phase: exit.phase, reason: `QEMU was ended from outside (${exit.killed}) during ${exit.phase}`, ...none };
  if (driver === 'kmod') {
    if (!r.insmod) return fail('load', r.panic ? 'kernel crashed while loading the module' : 'no answer from insmod', r.panic);
    if (r.insmod.rc !== 0) return fail('load', `insmod failed (exit ${r.insmod.rc})`, firstErrorLine(r.logs.insmod ?? ''));
  }
  if (!r.capture) {
    const phase: Phase = r.attachedAfter === undefined ? 'load' : 'capture';
    const why = r.panic ? 'kernel crashed' : exit.timedOut ? `no result before the ${phase} timeout` : 'the guest stopped before reporting the capture';
    return fail(phase, why, r.panic ?? firstErrorLine(r.logs.consumer ?? ''));
  }
  const captured = r.logs.captured ?? '';
  const events = capturedCount(`${captured}\n${r.logs.stats ?? ''}`, kind);
  const hits = markerEvents(captured, nonce, kind);
  const evidence: Omit<GuestVerdict, 'status' | 'phase' | 'reason' | 'firstError'> = { events, marker: hits.length > 0, lines: hits.slice(0, 5), oops: none.oops };
  if (kind === 'falco') {
    const alert = falcoAlerts(captured).find((a) => isMarkerAlert(a, nonce));
    evidence.falco = { ...(alert ? { alert: alert.line } : {}), ...(r.attachedAfter !== undefined ? { startupSeconds: r.attachedAfter } : {}), ...falcoStats(`${r.logs.stats ?? ''}`) };
  }
  // pdig's own filler check failing against the event table it was built with: the matrix's pairing (failures.ts)
  const mismatch = driver === 'pdig' ? parseErrors(r.logs.pdig ?? '').find((l) => SCHEMA_MISMATCH.test(l)) : undefined;
  const pairing = mismatch ? ` (${PAIRING_NOTE})` : '';
  if (driver === 'pdig') {
    // only meaningful if the untraced process really opened its marker while the consumer ran
    if (r.capture.untracedOpens > 0) evidence.untracedMarker = untracedEvents(captured, nonce).length > 0;
    const overhead = overheadOf(r.loops);
    if (overhead) evidence.overhead = overhead;
  }
  if (hits.length) {
    const warnings = [...consumerWarnings(r.logs.consumer ?? ''), ...(driver === 'pdig' ? pdigWarnings(r.logs.pdig ?? '') : [])];
    const drops = dropsJudged(evidence.falco, expect.maxDropRatio ?? DEFAULT_MAX_DROP_RATIO);
    if (drops.warning) warnings.push(drops.warning);
    if (warnings.length) evidence.warnings = warnings;
    const battery = batteryOf(r.logs, kind, nonce, r.battery?.rc);
    if (battery) evidence.battery = { ...battery, ...(Number.isFinite(r.battery?.seconds) ? { seconds: r.battery!.seconds } : {}) };
    // the marker alone is not enough: events the consumer could not parse, the battery not run whole or with
    // calls reported wrong, the consumer gone before the soak's end, the soak not run, drops above the threshold fail the cell
    const corrupt = parseErrors(`${r.logs.consumer ?? ''}\n${driver === 'pdig' ? (r.logs.pdig ?? '') : ''}`);
    if (r.soak) evidence.soak = { ...r.soak, parseErrors: corrupt.length };
    const failed = (reason: string, firstError: string): GuestVerdict => ({ status: 'fail', phase: 'capture', reason, firstError, ...evidence });
    // pdig's filler check against its tree's event table names the pairing first
    if (corrupt.length) return failed(`marker seen, but ${corrupt.length} event(s) could not be parsed${pairing}`, (mismatch && corrupt.find((l) => l === mismatch)) ?? corrupt[0]!);
    const checksBattery = printsParameters(kind);
    // the harness sent the battery program and the guest has none: the harness's failure, not the driver's
    if (checksBattery && r.battery?.missing)
      return { status: 'error', phase: 'capture', reason: 'harness error: the battery program is not in the guest (/kmatrix/kmbattery)', firstError: 'battery: /kmatrix/kmbattery missing from the guest (rc 127)', ...evidence };
    if (checksBattery && !battery) return failed('marker seen, but the guest reported no battery', 'battery: the guest reported no battery');
    const soakAsked = checksBattery && (expect.soakSeconds ?? 0) > 0;
    const diedDuring = r.battery?.alive === false ? 'the battery' : soakAsked && r.soak?.alive === false ? 'the soak' : undefined;
    if (diedDuring) return failed(`the consumer ${exitDescription(r.capture.rc)} during ${diedDuring}`, consumerError(r.logs.consumer ?? '', r.logs.stats ?? '') ?? `${kind} ${exitDescription(r.capture.rc)}`);
    if (battery?.scriptProblem) return failed('marker seen, but the battery did not run its whole script', `battery: ${battery.scriptProblem}`);
    if (drops.failure) return failed(`marker seen, but ${drops.failure}`, `drops: ${drops.failure}`);
    if (battery?.firstProblem) return failed(`marker seen, but the battery has ${battery.wrong} call(s) wrong and ${battery.missing} missing`, `battery: ${battery.firstProblem}`);
    if (soakAsked && !r.soak) return failed('marker seen, but the guest reported no soak', `soak: no report of the ${expect.soakSeconds} s soak`);
    if (soakAsked && !(r.soak!.runs > 0)) return failed(`marker seen, but the soak ran no battery in ${r.soak!.seconds} s`, `soak: ${r.soak!.runs} battery run(s) in ${r.soak!.seconds} s`);
    const checked = battery ? `, battery ${battery.right}/${battery.calls.length} calls right` : '';
    return { status: 'pass', phase: 'capture', reason: `marker seen in ${hits.length} event(s)${checked}${warnings.length ? ` (with warnings: ${warnings[0]})` : ''}`, ...evidence };
  }
  // pdig failing to run its command says more than a consumer that saw nothing
  const pdigFailure = mismatch ?? (driver === 'pdig' && r.logs.pdig ? firstErrorLine(r.logs.pdig) : undefined);
  const consumerFailure = pdigFailure ?? consumerError(r.logs.consumer ?? '', r.logs.stats ?? '');
  if (!r.capture.alive && events === 0)
    return { status: 'fail', phase: 'load', reason: `the consumer ${exitDescription(r.capture.rc)} without capturing`, firstError: consumerFailure ?? r.panic, ...evidence };
  return {
    status: 'fail',
    phase: 'capture',
    reason: `marker not found in ${events} captured event(s) after ${r.capture.seconds}s${pairing}`,
    firstError: consumerFailure ?? r.panic,
    ...evidence,
  };

  function fail(phase: Phase, reason: string, firstError?: string): GuestVerdict {
    return { status: 'fail', phase, reason, firstError, ...none };
  }
}
