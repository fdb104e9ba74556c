// Every driver kind on a real VM: legacy eBPF, modern eBPF, and the skips that must say why.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { debianMirror } from '../../harness/apt.js';
import { Debian } from '../../harness/apt.js';
import { fetchDriverSource } from '../../harness/drivers/index.js';
import { loadMatrix, parseMatrix } from '../../harness/matrix.js';
import { describeCell, endRuns, runMatrix } from './helpers.js';

describe('integration: every driver', function () {
  this.timeout(45 * 60_000);
  const EBPF = 'debian-6.1-amd64/ebpf@0.23.2/host';
  const MODERN = 'debian-6.1-amd64/modern-ebpf@0.20.0/host';
  const PDIG = 'debian-6.1-amd64/pdig@0.1.1dev/host';
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    // pdig from a source without a pdig tree (the Debian 0.1.1dev one): not in the default matrix, added here
    const text = readFileSync('matrix.yaml', 'utf8').replace(/^matrix:\n/m, 'matrix:\n  - { kernels: [debian-6.1-amd64], drivers: [pdig], sources: ["0.1.1dev"] }\n');
    r = await runMatrix([EBPF, MODERN, PDIG], parseMatrix(text, 'matrix.yaml'));
  });

  after(endRuns);

  it(`${EBPF} passes: the legacy probe, built with clang for the kernel, captured the marker`, () => {
    const c = r.byId.get(EBPF)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.evidence?.marker, true);
    assert.ok(c.evidence!.lines!.some((l) => /openat .*kmatrix-marker-/.test(l)));
  });

  it(`${MODERN} passes: scap-open with the modern engine printed the marker's openat`, () => {
    const c = r.byId.get(MODERN)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.match(c.consumer!.version!, /scap-open falcosecurity-libs=0\.20\.0.*modern_bpf/);
    assert.ok(c.evidence!.lines!.every((l) => l.includes('kmatrix-marker-')));
    assert.ok(c.evidence!.events > 0, 'scap-open reported captured events');
  });

  it('pdig from a source without a pdig tree is a skip that says what a pdig source is', () => {
    const c = r.byId.get(PDIG)!;
    assert.equal(c.status, 'skip', describeCell(c));
    assert.match(c.reason!, /has no pdig tree \(a pdig source is git: pdig at a commit/);
  });

  it('a driver source without the legacy probe is a skip with the upstream reason, not a failure', async () => {
    const m = loadMatrix('matrix.yaml');
    const tree = await fetchDriverSource(new Debian(debianMirror(m.mirror), m.suites), m.sources['0.23.2']!);
    const dir = mkdtempSync(path.join(tmpdir(), 'kmatrix-nobpf-'));
    cpSync(tree.dir, dir, { recursive: true });
    rmSync(path.join(dir, 'bpf'), { recursive: true });
    const text = readFileSync('matrix.yaml', 'utf8').replace(/^sources:\n/m, `sources:\n  "local-nobpf": { dir: ${dir}, consumer: sysdig-0.41 }\n`)
      .replace(/^matrix:\n/m, 'matrix:\n  - { kernels: [debian-6.1-amd64], drivers: [ebpf], sources: ["local-nobpf"] }\n');
    const local = await runMatrix(['debian-6.1-amd64/ebpf@local-nobpf/host'], parseMatrix(text, 'matrix.yaml'));
    const c = local.results[0]!;
    assert.equal(c.status, 'skip', describeCell(c));
    assert.match(c.reason!, /no legacy eBPF probe \(removed upstream in libs 0\.24\.0/);
  });
});
