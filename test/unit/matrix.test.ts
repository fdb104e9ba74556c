import assert from 'node:assert/strict';
import { parseMatrix, filterCells, loadMatrix } from '../../harness/matrix.js';
import { UserError } from '../../harness/errors.js';

const good = `
suites: { sid: { allowExpired: true } }
kernels:
  k61: { arch: amd64, machine: q35, debian: { suite: bookworm, flavour: amd64 } }
  k612: { arch: amd64, machine: q35, debian: { suite: trixie, flavour: amd64 } }
consumers:
  c: { kind: sysdig, debian: { suite: sid, package: sysdig }, engines: [kmod, ebpf], requires: { api: "8.0.0", schema: "4.0.0" } }
sources:
  "0.23.2": { debian: { suite: sid, package: falcosecurity-scap-dkms }, consumer: c }
  "0.1.1dev": { debian: { suite: bookworm, package: falcosecurity-scap-dkms }, consumer: c }
matrix:
  - { kernels: [k61, k612], drivers: [kmod], sources: ["0.23.2", "0.1.1dev"] }
  - { kernels: [k61], drivers: [kmod], sources: ["0.23.2"], profiles: [host] }
`;

function expectUserError(fn: () => unknown, ...patterns: RegExp[]): UserError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    assert.doesNotMatch(e.message, /\n\s+at /, 'no stack trace in the message');
    return e;
  }
  assert.fail('expected an error');
}

describe('matrix', () => {
  it('expands kernels × drivers × sources × profiles into stable ids, without duplicates', () => {
    const m = parseMatrix(good, 'm.yaml');
    assert.deepEqual(
      m.cells.map((c) => c.id),
      ['k61/kmod@0.23.2/host', 'k61/kmod@0.1.1dev/host', 'k612/kmod@0.23.2/host', 'k612/kmod@0.1.1dev/host'],
    );
    assert.equal(m.cells[0]!.consumer.id, 'c');
    assert.equal(m.suites.sid!.allowExpired, true);
    assert.equal(m.timeouts.boot, 300);
  });

  it('the default matrix.yaml loads and has the quick cells of the foundation', () => {
    const ids = loadMatrix('matrix.yaml').cells.map((c) => c.id);
    for (const id of ['debian-6.1-amd64/kmod@0.23.2/host', 'debian-5.10-amd64/kmod@0.23.2/host', 'debian-6.12-amd64/kmod@0.23.2/host', 'debian-6.12-amd64/kmod@0.1.1dev/host'])
      assert.ok(ids.includes(id), id);
  });

  it('names file and line of invalid YAML', () => {
    expectUserError(() => parseMatrix('kernels:\n  a: [1,\n', 'bad.yaml'), /^bad\.yaml:\d+: invalid YAML/);
  });

  it('names file, line and key of an unknown driver', () => {
    const text = good.replace('drivers: [kmod], sources: ["0.23.2"], profiles', 'drivers: [kmdo], sources: ["0.23.2"], profiles');
    expectUserError(() => parseMatrix(text, 'm.yaml'), /^m\.yaml:13: matrix\.1\.drivers\.0 must be one of "kmod", "ebpf", "modern-ebpf", "pdig"/);
  });

  it('rejects duplicate ids with their line', () => {
    const text = good.replace('  k612:', '  k61:');
    expectUserError(() => parseMatrix(text, 'm.yaml'), /^m\.yaml:5: invalid YAML: duplicate id/);
  });

  it('rejects a reference to an undefined kernel, naming the line', () => {
    const text = good.replace('kernels: [k61], drivers', 'kernels: [k99], drivers');
    expectUserError(() => parseMatrix(text, 'm.yaml'), /^m\.yaml:13: .*kernel "k99", which is not defined \(known: k61, k612\)/);
  });

  it('rejects unknown keys and a machine that cannot run the arch', () => {
    expectUserError(() => parseMatrix(good.replace('machine: q35, debian: { suite: bookworm', 'machin: q35, debian: { suite: bookworm'), 'm.yaml'), /^m\.yaml:4: /);
    expectUserError(() => parseMatrix(good.replace('k61: { arch: amd64', 'k61: { arch: arm64'), 'm.yaml'), /m\.yaml:4: machine q35 does not run arm64 kernels/);
  });

  it('an SD card needs a Raspberry Pi machine', () => {
    const text = good.replace("k612: { arch: amd64, machine: q35, debian: { suite: trixie, flavour: amd64 } }", "k612: { arch: amd64, machine: q35, debian: { suite: trixie, flavour: amd64 }, sdcard: { firmware: { suite: trixie, package: raspi-firmware } } }");
    expectUserError(() => parseMatrix(text, 'm.yaml'), /^m\.yaml:5: an SD card boots on a Raspberry Pi machine/);
  });

  it('platform mappings name defined profiles and kernels', () => {
    const base = good + 'platforms:\n  GKE: { profile: host, kernels: [k61] }\n';
    assert.deepEqual(parseMatrix(base, 'm.yaml').platforms, [{ platform: 'GKE', profile: 'host', kernels: ['k61'] }]);
    expectUserError(() => parseMatrix(base.replace('kernels: [k61] }\n', 'kernels: [k7] }\n'), 'm.yaml'), /^m\.yaml:15: platform "GKE" names kernel "k7"/);
    expectUserError(() => parseMatrix(base.replace('profile: host', 'profile: gke'), 'm.yaml'), /^m\.yaml:15: platform "GKE" names profile "gke"/);
  });

  it('rejects a source naming an unknown consumer', () => {
    expectUserError(() => parseMatrix(good.replace('consumer: c }\n  "0.1.1dev"', 'consumer: zz }\n  "0.1.1dev"'), 'm.yaml'), /consumer "zz"/);
  });

  it('filters cells by exact id and by glob, and refuses a pattern matching nothing', () => {
    const { cells } = parseMatrix(good, 'm.yaml');
    assert.deepEqual(filterCells(cells, ['k61/kmod@0.23.2/host']).map((c) => c.id), ['k61/kmod@0.23.2/host']);
    assert.deepEqual(filterCells(cells, ['*/kmod@0.1.1dev/*']).map((c) => c.id), ['k61/kmod@0.1.1dev/host', 'k612/kmod@0.1.1dev/host']);
    assert.equal(filterCells(cells, ['k612/*/*']).length, 2);
    assert.equal(filterCells(cells, ['k612/*']).length, 2, 'a shorter pattern matches the leading segments');
    assert.equal(filterCells(cells, ['k61']).length, 2);
    expectUserError(() => filterCells(cells, ['k6']), /No cell matches "k6"/); // whole segments only
    assert.equal(filterCells(cells, undefined).length, 4);
    expectUserError(() => filterCells(cells, ['k61/kmod@9.9.9/host']), /No cell matches "k61\/kmod@9\.9\.9\/host"/, /closest are: k61\//);
  });

  it('reports an unreadable file with the fix', () => {
    expectUserError(() => loadMatrix('/nonexistent/matrix.yaml'), /Cannot read the matrix file \/nonexistent\/matrix\.yaml/, /--matrix/);
  });
});
