// The environment profiles on a real VM: what the source document expects of GKE and ECS/Fargate.
import assert from 'node:assert/strict';
import path from 'node:path';
import { readResults } from '../../harness/results.js';
import { describeCell, endRuns, REPORTS, runMatrix } from './helpers.js';

describe('integration: environment profiles', function () {
  this.timeout(45 * 60_000);
  const KMOD_LOCKED = 'debian-6.1-amd64/kmod@0.23.2/locked-down';
  const EBPF_LOCKED = 'debian-6.1-amd64/ebpf@0.23.2/locked-down';
  const KMOD_PTRACE = 'debian-6.1-amd64/kmod@0.23.2/ptrace-only';
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    r = await runMatrix([KMOD_LOCKED, EBPF_LOCKED, KMOD_PTRACE]);
  });

  after(endRuns);

  it('locked-down: the unsigned module is refused at load with the kernel\'s signature error', () => {
    const c = r.byId.get(KMOD_LOCKED)!;
    assert.deepEqual([c.status, c.phase], ['fail', 'load'], describeCell(c));
    assert.match(c.firstError!, /Key was rejected by service|Required key not available/);
  });

  it('locked-down: the eBPF probe still captures the marker', () => {
    const c = r.byId.get(EBPF_LOCKED)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.evidence?.marker, true);
  });

  it('ptrace-only: loading the module fails with a permission error', () => {
    const c = r.byId.get(KMOD_PTRACE)!;
    assert.deepEqual([c.status, c.phase], ['fail', 'load'], describeCell(c));
    assert.match(c.firstError!, /Operation not permitted/);
  });

  it('the verdicts in results.json judge GKE from these cells', () => {
    const file = readResults(path.join(REPORTS, r.run.id, 'results.json'));
    const gke = file.verdicts!.platforms.find((p) => p.platform === 'GKE')!;
    assert.equal(gke.recommended, 'ebpf');
    assert.equal(gke.profile, 'locked-down');
    const k61 = gke.evidence.find((e) => e.kernel === 'debian-6.1-amd64')!;
    assert.deepEqual([k61.outcome, k61.cells], ['pass', [EBPF_LOCKED]]);
    const claim = file.verdicts!.claims.find((c) => c.id === 'ebpf-no-module-loading')!;
    assert.equal(claim.verdict, 'supported', claim.why);
  });
});
