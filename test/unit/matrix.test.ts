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

  it('workload.maxDropRatio: 0.01 unless the matrix says; a share of events (0 to 1), else a one-paragraph error with its line', () => {
    assert.equal(parseMatrix(good, 'm.yaml').workload.maxDropRatio, 0.01);
    assert.deepEqual(parseMatrix(`workload: { soakSeconds: 7, maxDropRatio: 0.05 }\n${good}`, 'm.yaml').workload, { loopCount: 100000, soakSeconds: 7, maxDropRatio: 0.05 });
    expectUserError(() => parseMatrix(`workload: { maxDropRatio: 5 }\n${good}`, 'm.yaml'), /^m\.yaml:1: workload\.maxDropRatio must be <= 1/);
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

  it("a platform row's own kernels, its stand-ins and a note; each kernel defined, none both; the document's sources defined", () => {
    const base = good + 'platforms:\n  Azure: { profile: host, kernels: [k61], standIns: [k612], note: n }\ndocument: { sources: ["0.1.1dev"] }\n';
    const m = parseMatrix(base, 'm.yaml');
    assert.deepEqual(m.platforms, [{ platform: 'Azure', profile: 'host', kernels: ['k61'], standIns: ['k612'], note: 'n' }]);
    assert.deepEqual(m.document, { sources: ['0.1.1dev'] });
    expectUserError(() => parseMatrix(base.replace('standIns: [k612]', 'standIns: [k7]'), 'm.yaml'), /^m\.yaml:15: platform "Azure" names kernel "k7", which is not defined/);
    expectUserError(() => parseMatrix(base.replace('standIns: [k612]', 'standIns: [k612, k61]'), 'm.yaml'), /^m\.yaml:15: platform "Azure" has kernel "k61" both as its own and as a stand-in/);
    expectUserError(() => parseMatrix(base.replace('standIns: [k612]', 'standIns: []'), 'm.yaml'), /^m\.yaml:15: /);
    expectUserError(() => parseMatrix(base.replace('sources: ["0.1.1dev"] }', 'sources: ["0.26"] }'), 'm.yaml'), /^m\.yaml:16: the document's drivers name source "0\.26"/);
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

describe('matrix: git sources', () => {
  const C = 'fc679b8425860eaa9328b7c1bdba4f93bee6099b';
  const base = (sources: string, consumers = '') => `
kernels:
  k61: { arch: amd64, machine: q35, debian: { suite: bookworm, flavour: amd64 } }
consumers:
  c: { kind: sysdig, debian: { suite: bookworm, package: sysdig }, engines: [kmod, pdig], requires: { api: "1.0.0", schema: "1.0.0" } }
${consumers}
sources:
  d: { debian: { suite: bookworm, package: falcosecurity-scap-dkms }, consumer: c }
${sources}
matrix:
  - { kernels: [k61], drivers: [pdig], sources: [p] }
`;
  it('a pinned commit, an optional libs tree and the kmod to compare with', () => {
    const m = parseMatrix(base(`  p: { git: { url: https://github.com/falcosecurity/pdig, commit: ${C} }, libs: { url: https://github.com/falcosecurity/libs, commit: ${C} }, compareKmod: d, consumer: c }`), 'm.yaml');
    assert.deepEqual(m.sources.p!.git, { url: 'https://github.com/falcosecurity/pdig', commit: C });
    assert.equal(m.sources.p!.compareKmod?.id, 'd');
    assert.equal(m.cells[0]!.id, 'k61/pdig@p/host');
    assert.equal(m.workload.loopCount, 100000);
  });
  it('the commit must be a full commit id, not a branch', () => {
    expectUserError(() => parseMatrix(base('  p: { git: { url: u, commit: master }, consumer: c }'), 'm.yaml'), /^m\.yaml:\d+: sources\.p\.git\.commit does not match \^\[0-9a-f\]\{40\}\$/);
  });
  it('libs only beside git', () => {
    expectUserError(() => parseMatrix(base(`  p: { debian: { suite: bookworm, package: x }, libs: { url: u, commit: ${C} }, consumer: c }`), 'm.yaml'), /sources\.p: "libs" needs "git" beside it/);
  });
  it('compareKmod names another source', () => {
    expectUserError(() => parseMatrix(base(`  p: { git: { url: u, commit: ${C} }, compareKmod: nope, consumer: c }`), 'm.yaml'), /^m\.yaml:\d+: source p compares with source "nope", which is not another source under sources: \(known: d, p\)\.$/);
  });
  it('a sysdig consumer is a Debian package or built from a git commit in a suite', () => {
    const m = parseMatrix(base(`  p: { git: { url: u, commit: ${C} }, consumer: old }`, `  old: { kind: sysdig, git: { url: u, commit: ${C}, suite: bullseye }, engines: [kmod], requires: { api: "0.0.0", schema: "0.0.0" } }`), 'm.yaml');
    assert.deepEqual(m.consumers.old!.git, { url: 'u', commit: C, suite: 'bullseye' });
    expectUserError(() => parseMatrix(base(`  p: { git: { url: u, commit: ${C} }, consumer: old }`, `  old: { kind: sysdig, git: { url: u, commit: ${C} }, engines: [kmod], requires: { api: "0.0.0", schema: "0.0.0" } }`), 'm.yaml'), /^m\.yaml:\d+: consumers\.old\.git is missing the key "suite"/);
  });
  it('the default matrix names only public URLs, and its pdig cells are amd64 (and one ARM skip)', () => {
    const m = loadMatrix('matrix.yaml');
    for (const s of Object.values(m.sources)) for (const pin of [s.git, s.libs]) if (pin) assert.match(pin.url, /^https:\/\/github\.com\//);
    const pdig = m.cells.filter((c) => c.driver === 'pdig');
    assert.ok(pdig.some((c) => c.id === 'debian-6.1-amd64/pdig@pdig-fc679b8+sysdig-2aa88dc/ptrace-only'));
    assert.deepEqual([...new Set(pdig.map((c) => c.kernel.arch))].sort(), ['amd64', 'arm64']);
  });
});
