// Issue 16 on real VMs: today's Falco. Driver 10.2.0 (what Falco 0.44.1
// pins) from git, read by Falco 0.44.1 itself — built from git against libs
// 0.25.4 and that driver, its kernel module named falco — and by libs 0.25.4's
// scap-open, on Debian 6.1 amd64. Runs when git can fetch the pinned commits
// (the mirrors of ../shared/git through git's insteadOf, as .ci/run sets it,
// or the network); otherwise each test is pending, the title giving git's reason.
import assert from 'node:assert/strict';
import path from 'node:path';
import { falcoAlerts, isMarkerAlert } from '../../harness/guest.js';
import { loadMatrix } from '../../harness/matrix.js';
import { readResults } from '../../harness/results.js';
import { claimVerdicts, loadRecommended } from '../../harness/verdicts.js';
import { pendingUnlessFetchable, useSharedGit } from '../git-mirror.js';
import { describeCell, endRuns, REPORTS, runMatrix } from './helpers.js';

const m = loadMatrix('matrix.yaml');
const falco = m.consumers['falco-0.44.1']?.falco;
const pins = falco ? [falco.git, falco.libs, falco.driver] : [];
const pending = await pendingUnlessFetchable(pins, 'matrix.yaml no longer has the consumer falco-0.44.1');

(pending ? describe.skip : describe)(`integration: today's Falco — driver 10.2.0 with Falco 0.44.1 and scap-open 0.25.4${pending}`, function () {
  // Sized for a cold cache: trixie's builder root (mmdebstrap, 2–3 min), Falco 0.44.1
  // (≈ 10 min on 2 idle cores, 25 with another job), scap-open 0.25.4 (≈ 5 min), bookworm's
  // root and the 6.1 kernels, two kernel modules, a multiarch trixie root and scap-open cross-built
  // for arm64 (≈ 7 min), then six guests under TCG.
  this.timeout(75 * 60_000);
  const FALCO_KMOD = 'debian-6.1-amd64/kmod@falco-0.44.1/host';
  const FALCO_MODERN = 'debian-6.1-amd64/modern-ebpf@falco-0.44.1/host';
  const SCAP_KMOD = 'debian-6.1-amd64/kmod@10.2.0/host';
  const SCAP_MODERN = 'debian-6.1-amd64/modern-ebpf@10.2.0/host';
  const EBPF = 'debian-6.1-amd64/ebpf@10.2.0/host';
  const ARM_MODERN = 'debian-6.1-arm64-virt/modern-ebpf@10.2.0/host';
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    useSharedGit();
    r = await runMatrix([FALCO_KMOD, FALCO_MODERN, SCAP_KMOD, SCAP_MODERN, EBPF, ARM_MODERN]);
  });

  after(endRuns);

  const falcoAlerted = (id: string, engine: string) => () => {
    const c = r.byId.get(id)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.match(c.consumer?.version ?? '', /^Falco version: 0\.44\.1/);
    // the evidence is Falco's own alert for kmatrix's rule, naming the marker, the process and the event
    const alert = c.evidence?.falco?.alert ?? '';
    const [a] = falcoAlerts(alert);
    const nonce = /kmatrix-marker-([0-9a-f]+)/.exec(alert)?.[1] ?? '';
    assert.ok(a && isMarkerAlert(a, nonce), `Falco's alert: ${alert}`);
    assert.ok(String(a.fields['proc.name'] ?? ''), 'the process is named');
    assert.match(String(a.fields['fd.name']), /^\/tmp\/kmatrix-marker-[0-9a-f]{12}$/);
    assert.match(String(a.fields['evt.type']), /^open(at2?)?$/);
    // Falco's start-up and its own counters are kept
    assert.ok((c.evidence?.falco?.startupSeconds ?? -1) >= 0, JSON.stringify(c.evidence?.falco));
    assert.ok((c.evidence?.falco?.driverEvents ?? 0) > 0, JSON.stringify(c.evidence?.falco));
    assert.equal(typeof c.evidence?.falco?.dropsDetected, 'number');
    assert.match(c.evidence?.falco?.alert ?? '', new RegExp(`"rule":"kmatrix marker opened"`));
    assert.ok(engine);
    // the battery through kmatrix's battery rule: every call right; the soak with Falco's drop counter beside it
    const b = c.evidence?.battery;
    assert.deepEqual([b?.right, b?.wrong, b?.missing], [20, 0, 0], b?.firstProblem);
    assert.ok((c.evidence?.soak?.events ?? 0) > 0 && c.evidence?.soak?.parseErrors === 0, JSON.stringify(c.evidence?.soak));
    assert.equal(typeof c.evidence?.falco?.driverDrops, 'number');
  };
  it("Falco 0.44.1 with driver 10.2.0's kernel module (falco.ko) alerts on the marker", falcoAlerted(FALCO_KMOD, 'kmod'));
  it('Falco 0.44.1 with modern eBPF alerts on the marker', falcoAlerted(FALCO_MODERN, 'modern_ebpf'));

  it('ebpf-same-data-as-kmod, today: Falco reads the same battery from modern eBPF as from the kernel module on 6.1', () => {
    const v = claimVerdicts(loadRecommended('recommended-drivers.yaml'), [r.byId.get(FALCO_KMOD)!, r.byId.get(FALCO_MODERN)!]).find((x) => x.id === 'ebpf-same-data-as-kmod')!;
    assert.equal(v.verdict, 'supported', v.why);
  });

  it('the kernel module for Falco is named falco, as the document\'s `insmod driver/falco.ko`', () => {
    const c = r.byId.get(FALCO_KMOD)!;
    assert.deepEqual([c.driver.api, c.driver.schema], ['10.1.0', '4.5.1'], 'driver 10.2.0 declares API 10.1.0, schema 4.5.1');
    assert.equal(r.byId.get(SCAP_KMOD)!.driver.version, c.driver.version, 'one driver, two consumers');
  });

  it('scap-open 0.25.4 reads the same driver: kernel module and modern eBPF', () => {
    for (const id of [SCAP_KMOD, SCAP_MODERN]) {
      const c = r.byId.get(id)!;
      assert.equal(c.status, 'pass', describeCell(c));
      assert.equal(c.evidence?.marker, true);
      assert.match(c.consumer?.version ?? '', /^scap-open https:\/\/github\.com\/falcosecurity\/libs@80e695f6b123 with driver\/ of 296aedabe763/);
    }
  });

  it('modern eBPF on arm64 (QEMU virt) has a real status, read by scap-open 0.25.4 cross-built for arm64', () => {
    const c = r.byId.get(ARM_MODERN)!;
    assert.ok(c.status === 'pass' || c.status === 'fail', describeCell(c));
    if (c.status === 'fail') assert.ok(c.firstError, `a failure names its first error: ${describeCell(c)}`);
    else assert.equal(c.evidence?.marker, true);
    assert.match(c.consumer?.version ?? '', /cross-built for arm64/);
    assert.equal(c.kernel.arch, 'arm64');
  });

  it('the legacy eBPF probe of driver 10.2.0 is a skip with the upstream reason, never a failure', () => {
    const c = r.byId.get(EBPF)!;
    assert.equal(c.status, 'skip', describeCell(c));
    assert.match(c.reason ?? '', /no legacy eBPF probe \(removed upstream/);
  });

  it('the report puts today\'s Falco beside the document: one kernel of four is not enough to recommend', () => {
    const file = readResults(path.join(REPORTS, r.run.id, 'results.json'));
    assert.deepEqual(file.verdicts?.today, { falco: '0.44.1', sources: ['10.2.0', 'falco-0.44.1'] });
    const bare = file.verdicts!.platforms.find((p) => p.platform === 'Baremetal Kubernetes')!;
    assert.equal(bare.today?.falco, '0.44.1');
    assert.match(bare.today?.why ?? '', /not enough evidence: only debian-6\.1-amd64 of 4/);
    const gke = file.verdicts!.platforms.find((p) => p.platform === 'GKE')!;
    assert.match(gke.removedUpstream ?? '', /removed upstream/);
  });
});
