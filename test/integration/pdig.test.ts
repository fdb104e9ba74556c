// Issue 10 on real VMs: git driver sources — pdig (spawn mode, its ring read by
// bookworm's sysdig -u) and Falco 0.26.0's own driver. Runs when git can fetch
// their pinned commits — through the git mirrors of ../shared/git (git's
// insteadOf, as .ci/run sets it) or the network; otherwise each test is
// pending, the suite's title giving git's reason.
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadMatrix } from '../../harness/matrix.js';
import { readResults } from '../../harness/results.js';
import { pendingUnlessFetchable, useSharedGit } from '../git-mirror.js';
import { describeCell, endRuns, REPORTS, runMatrix } from './helpers.js';

// the commits these cells are built from (pdig and its libs tree; sysdig at Falco 0.26.0's driver, which is also its consumer)
const pins = ['pdig-fc679b8', 'falco-0.26.0'].flatMap((id) => {
  const s = loadMatrix('matrix.yaml').sources[id];
  return s ? [s.git, s.libs].filter((p) => p !== undefined) : [];
});
const pending = await pendingUnlessFetchable(pins.length === 3 ? pins : [], 'matrix.yaml no longer has the sources pdig-fc679b8 and falco-0.26.0');

(pending ? describe.skip : describe)(`integration: pdig and Falco 0.26.0's driver from git${pending}`, function () {
  // Sized for a cold cache: bookworm's and bullseye's builder roots (mmdebstrap, 1–3 min each),
  // the 5.10 and 6.1 kernels, the pdig + libs build and the sysdig build of Falco 0.26.0's
  // commit (≈ 8 min each on 2 cores), the kernel modules, then the timed loops in the guests.
  this.timeout(60 * 60_000);
  const PDIG_HOST = 'debian-6.1-amd64/pdig@pdig-fc679b8/host';
  const PDIG_PTRACE = 'debian-6.1-amd64/pdig@pdig-fc679b8/ptrace-only';
  const FALCO_KMOD = 'debian-5.10-amd64/kmod@falco-0.26.0/host';
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    useSharedGit();
    const matrix = loadMatrix('matrix.yaml');
    matrix.workload.loopCount = 5000; // the ratio, not the matrix's 20 000 pairs: minutes under TCG
    r = await runMatrix([PDIG_HOST, PDIG_PTRACE, FALCO_KMOD], matrix);
  });

  after(endRuns);

  // pdig sees the traced marker, but its execve filler is one parameter short (sysdig: `corrupted filler`)
  // and the traced battery loses calls: the marker alone passed it; the parameters fail it, twice in a row
  const pdigCaptures = (id: string) => () => {
    const c = r.byId.get(id)!;
    assert.equal(c.status, 'fail', describeCell(c));
    assert.equal(c.phase, 'capture');
    assert.equal(c.class, 'capture:corrupt-event');
    assert.match(c.firstError ?? '', /^corrupted filler for event type 293 \(added 19 args, should have added 20\)/);
    assert.deepEqual(c.runs?.map((x) => x.status), ['fail', 'fail'], 'run once more, failed again: not flaky');
    assert.ok(c.evidence?.battery && c.evidence.battery.missing > 0, JSON.stringify(c.evidence?.battery?.firstProblem));
    assert.equal(c.evidence?.marker, true);
    assert.ok(c.evidence!.lines!.every((l) => l.includes('kmatrix-marker-')), 'only the traced marker is the evidence');
    assert.equal(c.evidence?.untracedMarker, false, 'the marker a process pdig does not trace must not be captured');
    assert.match(c.consumer?.version ?? '', /^sysdig=0\.29\.3/);
  };
  it('pdig on Debian 6.1 captures the traced command\'s marker and not the untraced one', pdigCaptures(PDIG_HOST));
  it('the same with only CAP_SYS_PTRACE (ptrace-only, as on ECS/Fargate)', pdigCaptures(PDIG_PTRACE));

  it('pdig\'s cost is timed next to the kernel module\'s on the same kernel', () => {
    const o = r.byId.get(PDIG_HOST)!.evidence?.overhead;
    assert.ok(o && o.count === 5000 && o.untracedNs && o.pdigNs && o.kmodNs, JSON.stringify(o));
    assert.ok(o.pdigVsKmod! > 1, `pdig slower than kmod: ${JSON.stringify(o)}`);
    const p = r.byId.get(PDIG_PTRACE)!.evidence?.overhead;
    assert.ok(p?.pdigNs && p.kmodNs === undefined, JSON.stringify(p));
    assert.ok(p.notes?.some((n) => /ptrace-only profile cannot load kernel modules/.test(n)));
  });

  it('kmod@falco-0.26.0 on 5.10 runs to a real status', () => {
    const c = r.byId.get(FALCO_KMOD)!;
    assert.equal(c.driver.version, '2aa88dcf6243982697811df4c1b484bcbe9488a2');
    assert.deepEqual([c.driver.api, c.driver.schema], ['0.0.0', '0.0.0'], 'before API/schema versions');
    // seen here: builds (sysdig-probe.ko), loads, and sysdig of the same commit reads the marker
    assert.equal(c.status, 'pass', describeCell(c));
    assert.match(c.consumer?.version ?? '', /^sysdig https:\/\/github\.com\/draios\/sysdig@2aa88dcf6243 \(built in bullseye/);
  });

  it('the ECS and EKS Fargate rows are judged from the pdig cells', () => {
    const file = readResults(path.join(REPORTS, r.run.id, 'results.json'));
    for (const platform of ['AWS ECS', 'AWS EKS (Fargate)']) {
      const v = file.verdicts!.platforms.find((p) => p.platform === platform)!;
      assert.equal(v.recommended, 'pdig');
      const k61 = v.evidence.find((e) => e.kernel === 'debian-6.1-amd64')!;
      assert.deepEqual([k61.outcome, k61.cells], ['fail', [PDIG_PTRACE]]);
      assert.match(k61.why ?? '', /corrupted filler/);
      assert.notEqual(v.verdict, 'untested', v.why);
    }
    // pdig missed the untraced process's marker; the kernel module (Falco 0.26.0's, on 5.10) sees the whole host
    const scope = file.verdicts!.claims.find((c) => c.id === 'pdig-process-scope')!;
    assert.equal(scope.verdict, 'supported', scope.why);
    assert.deepEqual(scope.cells.sort(), [FALCO_KMOD, PDIG_HOST, PDIG_PTRACE].sort());
  });
});
