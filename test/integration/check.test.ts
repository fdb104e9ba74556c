// `kmatrix check` on real VMs: the Linux 4.9.229 amd64 kernel given as its
// `make bindeb-pkg` packages (../shared/kernels/linux-4.9.229), today's
// Falco's drivers under the host profile, --json. Pending with the reason
// when the packages are missing or git cannot fetch Falco's pinned commits.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CheckAnswer } from '../../harness/check.js';
import { loadMatrix } from '../../harness/matrix.js';
import { PREFERENCE } from '../../harness/verdicts.js';
import { pendingUnlessFetchable, useSharedGit } from '../git-mirror.js';
import { REPORTS } from './helpers.js';

const SHARED = path.resolve('../shared/kernels/linux-4.9.229');
const debs = existsSync(SHARED) ? readdirSync(SHARED).filter((f) => /_amd64\.deb$/.test(f)).map((f) => path.join(SHARED, f)) : [];
const falco = loadMatrix('matrix.yaml').consumers['falco-0.44.1']?.falco;
const pending = debs.length < 2
  ? ` (pending: no linux-image and linux-headers amd64 .deb in ${SHARED})`
  : await pendingUnlessFetchable(falco ? [falco.git, falco.libs, falco.driver] : [], 'matrix.yaml no longer has the consumer falco-0.44.1');

(pending ? describe.skip : describe)(`integration: kmatrix check on Linux 4.9.229 (amd64 .debs), today's Falco, host profile${pending}`, function () {
  // warm: the module's build (a few minutes) and three guests under TCG; cold, Falco's build (≈ 25 min) first
  this.timeout(60 * 60_000);
  let r: Awaited<ReturnType<typeof execa>>;
  let answer: CheckAnswer & { run: string };

  before(async () => {
    useSharedGit();
    const started = Date.now();
    r = await execa('node', [path.resolve('bin/kmatrix.js'), '--reports', REPORTS, 'check', ...debs, '--profile', 'host', '--json'], { reject: false, env: { CI: 'true' } });
    console.log(`    kmatrix check took ${Math.round((Date.now() - started) / 1000)} s`);
    answer = JSON.parse(String(r.stdout)) as typeof answer;
  });

  it('answers with a driver whose cell passed, the first passing one in falcoctl\'s order', () => {
    assert.equal(r.exitCode, 0, String(r.stderr).slice(-2000));
    const host = answer.answers.find((a) => a.profile === 'host' && a.era === 'today');
    assert.ok(host?.use, JSON.stringify(answer.answers));
    const used = answer.cells.find((c) => c.id === host.use!.cell)!;
    assert.equal(used.status, 'pass');
    assert.equal(used.driver, host.use!.driver);
    const passing = answer.cells.filter((c) => c.status === 'pass').map((c) => c.driver);
    assert.equal(host.use!.driver, PREFERENCE.find((d) => passing.includes(d)));
    assert.equal(answer.kernel.release, '4.9.229');
  });

  it('each cell has its evidence: a pass its whole battery, the others their first error or reason', () => {
    assert.deepEqual(answer.cells.map((c) => c.driver).sort(), ['ebpf', 'kmod', 'modern-ebpf']);
    for (const c of answer.cells) {
      assert.match(c.id, /^check-4\.9\.229-amd64\/[a-z-]+@falco-0\.44\.1\/host$/);
      if (c.status === 'pass') {
        assert.ok(c.battery && c.battery.calls > 0, `${c.id}: ${JSON.stringify(c)}`);
        assert.equal(c.battery.right, c.battery.calls, `${c.id}: every call of the battery right`);
        assert.equal(c.battery.wrong + c.battery.missing, 0);
        assert.ok((c.events ?? 0) > 0 && c.marker === true);
      } else assert.ok(c.firstError ?? c.reason, `${c.id} ${c.status} says why`);
    }
  });

  it('writes its run directory under reports/ like `run`, the answer beside the results', () => {
    const dir = path.isAbsolute(answer.run) ? answer.run : path.resolve(answer.run);
    const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as { cells: { id: string }[] };
    assert.deepEqual(results.cells.map((c) => c.id).sort(), answer.cells.map((c) => c.id).sort());
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'check.json'), 'utf8')).answers, answer.answers);
    assert.ok(existsSync(path.join(dir, 'index.html')), 'the HTML report');
  });
});
