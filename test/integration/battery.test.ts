// The battery, the soak and a flaky cell on real VMs: Debian 6.1 with driver
// 0.23.2's kernel module and legacy eBPF probe (sid's sysdig prints every
// event with its parameters), and the module of 0.1.1dev run with a fault
// injected in the guest for its first run only (its consumer killed as it starts).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadMatrix } from '../../harness/matrix.js';
import { claimVerdicts, loadRecommended } from '../../harness/verdicts.js';
import { describeCell, endRuns, qemuProcesses, runMatrix } from './helpers.js';

describe('integration: the battery, the soak and a flaky cell', function () {
  this.timeout(40 * 60_000); // cold: the builder roots, the kernel, two sysdig guests, the probe's build
  const KMOD = 'debian-6.1-amd64/kmod@0.23.2/host';
  const EBPF = 'debian-6.1-amd64/ebpf@0.23.2/host';
  const FLAKY = 'debian-6.1-amd64/kmod@0.1.1dev/host';
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    const hooks = mkdtempSync(path.join(tmpdir(), 'kmx-fault-'));
    // the fault: the consumer killed as soon as it started (the hook runs in init.sh, where $pid is the consumer)
    writeFileSync(path.join(hooks, 'consumer-started'), 'kill -9 $pid\n');
    const matrix = loadMatrix('matrix.yaml');
    // (a run of its own: the fault goes to the first run of every cell of a run)
    const main = await runMatrix([KMOD, EBPF], matrix);
    const flaky = await runMatrix([FLAKY], matrix, 2, [], { firstRunFiles: { 'kmatrix/hooks/consumer-started': path.join(hooks, 'consumer-started') } });
    r = { ...main, byId: new Map([...main.byId, ...flaky.byId]) };
  });

  after(endRuns);

  for (const id of [KMOD, EBPF])
    it(`${id} passes with every battery call right: 20 calls, each parameter as the script made it`, () => {
      const c = r.byId.get(id)!;
      assert.equal(c.status, 'pass', describeCell(c));
      const b = c.evidence?.battery;
      assert.deepEqual([b?.right, b?.wrong, b?.missing], [20, 0, 0], b?.firstProblem);
      assert.ok(b!.calls.every((x) => x.fields.every((f) => f.seen === f.expected)));
      assert.ok(['openat', 'read', 'write', 'close', 'execve', 'clone', 'exit', 'wait4', 'socket', 'bind', 'listen', 'connect', 'accept', 'mkdirat', 'renameat2', 'unlinkat'].every((call) => b!.calls.some((x) => x.call === call)));
    });

  it('the soak reports the events the consumer printed, and no parse error', () => {
    const s = r.byId.get(KMOD)!.evidence?.soak;
    assert.ok(s && s.seconds === loadMatrix('matrix.yaml').workload.soakSeconds && s.runs > 0 && s.events > s.runs * 20, JSON.stringify(s));
    assert.equal(s.parseErrors, 0);
  });

  it('ebpf-same-data-as-kmod is judged from the two batteries on 6.1', () => {
    const v = claimVerdicts(loadRecommended('recommended-drivers.yaml'), [r.byId.get(KMOD)!, r.byId.get(EBPF)!]).find((x) => x.id === 'ebpf-same-data-as-kmod')!;
    assert.equal(v.verdict, 'supported', v.why);
    assert.deepEqual(v.cells.sort(), [EBPF, KMOD].sort());
  });

  it(`${FLAKY}: a fault on the first run only makes the cell flaky, both runs kept`, () => {
    const c = r.byId.get(FLAKY)!;
    assert.equal(c.status, 'flaky', describeCell(c));
    assert.deepEqual(c.runs?.map((x) => x.status), ['fail', 'pass']);
    assert.equal(c.runs![0]!.phase, 'load');
    assert.match(c.runs![0]!.reason ?? '', /killed by signal 9/);
    assert.match(c.runs![0]!.logs?.console ?? '', /first-run\/console\.log$/);
  });

  it('leaves no QEMU behind', async () => {
    assert.deepEqual(await qemuProcesses(), []);
  });
});
