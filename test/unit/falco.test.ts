// Falco as a consumer: what the guest gets (configuration, the one rule),
// how Falco is built (no download, nothing bundled), and how its JSON alerts
// and exit counters are read — from a real Falco 0.44.1 run kept as a fixture.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { engineArgs } from '../../harness/consumers/index.js';
import { falcoBuildScript, falcoCmakeFlags, falcoConfig, falcoRules, BATTERY_RULE, MARKER_RULE, NO_CONTAINER_PLUGIN } from '../../harness/consumers/falco.js';
import { consumerError, falcoAlerts, falcoStats, isMarkerAlert, judge, markerEvents, type GuestReport } from '../../harness/guest.js';

const FIXTURES = path.resolve('test/fixtures/falco');

describe('Falco as the consumer', () => {
  it('the guest configuration: one rule file, no plugins or webserver, JSON alerts on stdout, unbuffered', () => {
    const c = parse(falcoConfig()) as Record<string, any>;
    assert.deepEqual(c.rules_files, ['/tmp/kmatrix_rules.yaml']);
    assert.deepEqual([c.load_plugins, c.plugins], [[], []]);
    assert.equal(c.webserver.enabled, false);
    assert.equal(c.watch_config_files, false);
    assert.deepEqual([c.json_output, c.json_include_output_fields_property, c.buffered_outputs, c.stdout_output.enabled], [true, true, false, true]);
    for (const o of ['syslog_output', 'file_output', 'http_output', 'program_output']) assert.equal(c[o].enabled, false, o);
    assert.equal(c.engine.kind, 'kmod', 'overridden per cell');
    assert.deepEqual(c.syscall_event_drops.actions, ['log']);
  });

  it('the engine is set per cell on the command line', () => {
    assert.equal(engineArgs('falco', 'kmod'), '-o engine.kind=kmod');
    assert.equal(engineArgs('falco', 'modern-ebpf'), '-o engine.kind=modern_ebpf');
  });

  it("kmatrix's marker rule fires on an open of the cell's marker (the guest writes the nonce in), showing process, file and event; its battery rule prints the battery's events as sysdig does", () => {
    const rules = parse(falcoRules().replace('KMATRIX_NONCE', 'abc123')) as { rule: string; condition: string; output: string; priority: string }[];
    assert.deepEqual(rules.map((x) => x.rule).sort(), [BATTERY_RULE, MARKER_RULE].sort());
    const battery = rules.find((x) => x.rule === BATTERY_RULE)!;
    assert.equal(battery.condition, 'proc.name = kmbattery');
    assert.equal(battery.output, 'KMEVT %evt.num %evt.dir %evt.type %proc.name %fd.name pid=%proc.pid :: %evt.args');
    const r = rules.find((x) => x.rule === MARKER_RULE)!;
    assert.match(r.condition, /evt\.type in \(open, openat, openat2\)/);
    assert.match(r.condition, /fd\.name contains "kmatrix-marker-abc123"/);
    for (const f of ['%proc.name', '%fd.name', '%evt.type']) assert.ok(r.output.includes(f), f);
  });

  it('the build downloads nothing: no bundled deps, no falcoctl, the container plugin an empty target, the version given', () => {
    const flags = falcoCmakeFlags('0.44.1');
    for (const f of ['-DUSE_BUNDLED_DEPS=OFF', '-DADD_FALCOCTL_DEPENDENCY=OFF', '-DBUILD_DRIVER=OFF', '-DMINIMAL_BUILD=ON', '-DBUILD_FALCO_MODERN_BPF=ON', '-DFALCO_VERSION=0.44.1']) assert.ok(flags.includes(f), f);
    assert.ok(flags.includes('-DCMAKE_PROJECT_falco_INCLUDE=/work/no-container-plugin.cmake'));
    assert.match(NO_CONTAINER_PLUGIN, /if\(NOT TARGET container_plugin\)\n\s+add_custom_target\(container_plugin\)\nendif\(\)/);
    assert.match(falcoBuildScript('0.44.1'), /make -C \/work\/build -j"\$\(nproc\)" falco/);
  });
});

describe("Falco's output, as a real run printed it (fixture)", () => {
  const stdout = readFileSync(path.join(FIXTURES, 'stdout.txt'), 'utf8');
  const stderr = readFileSync(path.join(FIXTURES, 'stderr.txt'), 'utf8');
  const nonce = readFileSync(path.join(FIXTURES, 'nonce'), 'utf8').trim();

  it('reads the JSON alerts, ignoring its other lines and torn ones', () => {
    const alerts = falcoAlerts(`${stdout}\n{"rule": "torn`);
    assert.ok(alerts.length >= 1);
    const a = alerts.find((x) => isMarkerAlert(x, nonce))!;
    assert.equal(a.rule, MARKER_RULE);
    assert.match(String(a.fields['fd.name']), new RegExp(`kmatrix-marker-${nonce}$`));
    assert.ok(String(a.fields['proc.name'] ?? ''), 'the process is named');
    assert.match(String(a.fields['evt.type']), /^openat2?$|^open$/);
    assert.match(a.output ?? '', /kmatrix marker opened/);
  });

  it('an alert for another nonce, or of another rule, is not the marker', () => {
    assert.equal(markerEvents(stdout, 'ffffffffffff', 'falco').length, 0);
    const other = stdout.split('\n').find((l) => l.includes(MARKER_RULE))!.replace(`"rule":"${MARKER_RULE}"`, '"rule":"some other rule"');
    assert.equal(markerEvents(other, nonce, 'falco').length, 0);
  });

  it("reads Falco's counters at exit (-v): driver events and drops, its drop monitor, its alerts", () => {
    const s = falcoStats(`${stderr}\n${stdout}`);
    assert.ok((s.driverEvents ?? 0) > 0, 'driver events');
    assert.equal(typeof s.driverDrops, 'number');
    assert.equal(typeof s.dropsDetected, 'number');
    assert.ok((s.alerts ?? 0) >= 1);
  });

  it('judges the cell from the alert and the battery: a pass with the alert, the start-up time and the counters as evidence', () => {
    // this run had no battery yet: Falco's battery of another real run (test/fixtures/battery), its nonce made this run's
    const [script, events] = ['script', 'events'].map((x) => readFileSync(path.resolve(`test/fixtures/battery/modern-ebpf@falco-0.44.1.${x}`), 'utf8'));
    const theirs = /kmatrix-battery-(\w+)/.exec(script!)![1]!;
    const report: GuestReport = {
      boot: { release: '6.1.0', btime: 1 },
      insmod: { rc: 0 },
      capture: { found: true, alive: true, rc: 0, seconds: 3, untracedOpens: 0 },
      attachedAfter: 2,
      battery: { rc: 0, seconds: 2, missing: false, alive: true },
      logs: { captured: stdout.split('\n').filter((l) => l.includes(nonce)).join('\n'), consumer: stderr, stats: `${stderr}\n${stdout}`, battery: script!.replaceAll(theirs, nonce), 'battery-events': events!.replaceAll(theirs, nonce) },
      loops: {},
    } as unknown as GuestReport;
    const v = judge(report, 'kmod', 'falco', nonce, { timedOut: false, phase: 'capture' });
    assert.equal(v.status, 'pass', v.reason);
    assert.equal(v.battery?.right, 20);
    // the alert alone is no pass: Falco prints parameters, its battery is required
    const alone = judge({ ...report, battery: undefined, logs: { ...report.logs, battery: undefined, 'battery-events': undefined } } as unknown as GuestReport, 'kmod', 'falco', nonce, { timedOut: false, phase: 'capture' });
    assert.deepEqual([alone.status, alone.marker, alone.firstError], ['fail', true, 'battery: the guest reported no battery']);
    assert.ok(v.marker);
    assert.match(v.falco?.alert ?? '', new RegExp(nonce));
    assert.equal(v.falco?.startupSeconds, 2);
    assert.ok((v.falco?.driverEvents ?? 0) > 0);
  });
});

describe("Falco's failures", () => {
  it("its first error is the message, without Falco's date and [libs] prefix", () => {
    const stderr = [
      'Mon Nov 30 10:14:26 2026: Opening \'syscall\' source with modern BPF probe.',
      "Mon Nov 30 10:14:26 2026: [libs]: libbpf: prog 'signal_deliver': BPF program load failed: Permission denied",
      'Mon Nov 30 10:14:26 2026: An error occurred in an event source, forcing termination...',
    ].join('\n');
    assert.equal(consumerError(stderr, ''), "libbpf: prog 'signal_deliver': BPF program load failed: Permission denied");
  });
});
