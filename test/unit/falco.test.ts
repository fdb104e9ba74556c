// Falco as a consumer: what the guest gets (configuration, the one rule),
// how Falco is built (no download, nothing bundled), and how its JSON alerts
// and exit counters are read — from a real Falco 0.44.1 run kept as a fixture.
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { engineArgs } from '../../harness/consumers/index.js';
import { falcoBuildScript, falcoCmakeFlags, falcoConfig, falcoRules, MARKER_RULE, NO_CONTAINER_PLUGIN } from '../../harness/consumers/falco.js';

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

  it("kmatrix's one rule fires on an open of the cell's marker (the guest writes the nonce in), showing process, file and event", () => {
    const rules = parse(falcoRules().replace('KMATRIX_NONCE', 'abc123')) as { rule: string; condition: string; output: string; priority: string }[];
    assert.equal(rules.length, 1);
    const r = rules[0]!;
    assert.equal(r.rule, MARKER_RULE);
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
