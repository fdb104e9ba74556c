// The report's first screen and the report while the run goes, over the cells
// of a real run: today's Falco (driver 10.2.0 read by Falco 0.44.1 and by
// scap-open 0.25.4) on Debian 6.1 amd64 and arm64 (test/fixtures/results).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadMatrix } from '../../harness/matrix.js';
import { renderReport } from '../../harness/reports/html.js';
import { progressiveReport } from '../../harness/reports/progress.js';
import { matrixVerdicts, readResults, type ResultsFile } from '../../harness/results.js';
import type { CellResult } from '../../harness/types.js';
import { tempDir } from '../tmp.js';
import { todayPick } from '../../harness/verdicts.js';

const REAL = readResults(path.resolve('test/fixtures/results/today-20261202-084610Z.json'));
const m = loadMatrix('matrix.yaml');
const today = m.today!;
const row = (platform: string) => m.platforms.find((p) => p.platform === platform)!;
/** A row of the one kernel the real run has for amd64: the rule without the "one kernel of several" guard. */
const ONE = { profile: 'host', kernels: ['debian-6.1-amd64'] };
/** The real amd64 cells again as if run on debian-6.12-amd64 too: a row of two kernels with evidence on both. */
const TWICE = [...REAL.cells, ...REAL.cells.filter((c) => c.kernel.id === 'debian-6.1-amd64').map((c) => ({ ...c, id: c.id.replace('debian-6.1-amd64', 'debian-6.12-amd64'), kernel: { ...c.kernel, id: 'debian-6.12-amd64' } }))];
const MODERN_FALCO = 'debian-6.1-amd64/modern-ebpf@falco-0.44.1/host';
const MODERN_SCAP = 'debian-6.1-amd64/modern-ebpf@10.2.0/host';
const KMOD_FALCO = 'debian-6.1-amd64/kmod@falco-0.44.1/host';
const KMOD_SCAP = 'debian-6.1-amd64/kmod@10.2.0/host';

/** The real cells with one of them changed. */
function flip(id: string, change: Partial<CellResult>, cells = REAL.cells): CellResult[] {
  assert.ok(cells.some((c) => c.id === id), `${id} is in the fixture`);
  return cells.map((c) => (c.id === id ? { ...c, ...change } : c));
}
const failAtLoad: Partial<CellResult> = { status: 'fail', phase: 'load', class: 'load:verifier', firstError: 'libbpf: prog \'sys_enter\': BPF program load failed: Permission denied', reason: 'the driver did not load' };

describe('first screen', () => {
  describe("today's pick: the first of modern-ebpf > kmod > ebpf whose today's cells all passed", () => {
    it('modern eBPF on the Debian amd64 kernels, from its passing cells, with the kernels it was judged on', () => {
      const p = todayPick(row('Baremetal Kubernetes'), TWICE, today);
      assert.equal(p.driver, 'modern-ebpf');
      assert.deepEqual(p.cells.sort(), [MODERN_SCAP, MODERN_FALCO, MODERN_SCAP.replace('6.1', '6.12'), MODERN_FALCO.replace('6.1', '6.12')].sort());
      assert.deepEqual(p.kernels, ['debian-6.1-amd64', 'debian-6.12-amd64']);
      assert.equal(p.of.length, 4);
      assert.match(p.why, /modern-ebpf passed all its 4 cell\(s\), on debian-6\.1-amd64, debian-6\.12-amd64 \(2 of 4 kernel\(s\)\)/);
      // one kernel's failure flips it
      assert.equal(todayPick(row('Baremetal Kubernetes'), flip(MODERN_FALCO.replace('6.1', '6.12'), failAtLoad, TWICE), today).driver, 'kmod');
    });

    it('one kernel of the four is not enough: no driver picked, the cells there behind the answer', () => {
      const p = todayPick(row('Baremetal Kubernetes'), REAL.cells, today);
      assert.equal(p.driver, undefined);
      assert.equal(p.insufficient, true);
      assert.deepEqual(p.kernels, ['debian-6.1-amd64']);
      assert.equal(p.cells.length, 4, 'the four passing cells (the legacy probe skipped as removed is no evidence)');
      assert.equal(p.why, 'not enough evidence: only debian-6.1-amd64 of 4 representative kernels has a result (there, modern-ebpf passed all its cells)');
    });

    it("flips to the kernel module when a modern eBPF cell's evidence fails, naming the failure", () => {
      const p = todayPick(ONE, flip(MODERN_FALCO, failAtLoad), today);
      assert.equal(p.driver, 'kmod');
      assert.deepEqual(p.cells.sort(), [KMOD_SCAP, KMOD_FALCO].sort());
      assert.match(p.why, /^modern-ebpf failed: debian-6\.1-amd64\/modern-ebpf@falco-0\.44\.1\/host failed at load: libbpf/);
    });

    it('an errored cell is no evidence: the answer stands on the cells that passed, without it', () => {
      const p = todayPick(ONE, flip(MODERN_FALCO, { status: 'error', phase: 'boot', reason: 'boot timed out' }), today);
      assert.equal(p.driver, 'modern-ebpf');
      assert.deepEqual(p.cells, [MODERN_SCAP]);
    });

    it('a driver with no evidence at all is passed over, and the why says so', () => {
      const none = flip(MODERN_SCAP, { status: 'error', reason: 'boot timed out' }, flip(MODERN_FALCO, { status: 'skip', reason: 'no BTF' }));
      const p = todayPick(ONE, none, today);
      assert.equal(p.driver, 'kmod');
      assert.match(p.why, /^modern-ebpf: no evidence \(2 skipped\/errored\/flaky cell\(s\): boot timed out\)/);
    });

    it("the document's era sources never count, nor other profiles' or other kernels' cells", () => {
      const era = REAL.cells.filter((c) => c.driver.id === 'modern-ebpf').map((c) => ({ ...c, id: c.id.replace(/@[^/]+/, '@0.23.2'), driver: { ...c.driver, source: '0.23.2' } }));
      const p = todayPick(ONE, [...flip(MODERN_FALCO, failAtLoad), ...era], today);
      assert.equal(p.driver, 'kmod');
      // GKE is judged under locked-down: no cell of today's sources there
      const gke = todayPick(row('GKE'), REAL.cells, today);
      assert.equal(gke.driver, undefined);
      assert.match(gke.why, /no cell of today's sources \(10\.2\.0, falco-0\.44\.1\) on these kernels under profile locked-down/);
      // the arm64 cell is no Raspberry Pi kernel
      assert.equal(todayPick(row('ARM/Raspberry PI'), REAL.cells, today).driver, undefined);
    });

    it('every driver failing: none picked, the failing cells behind the answer', () => {
      let cells = REAL.cells;
      for (const id of [MODERN_FALCO, MODERN_SCAP, KMOD_FALCO, KMOD_SCAP]) cells = flip(id, failAtLoad, cells);
      const p = todayPick(ONE, cells, today);
      assert.equal(p.driver, undefined);
      assert.equal(p.cells.length, 5, 'four failures and the legacy probe skipped as removed');
      assert.match(p.why, /modern-ebpf failed: .*; kmod failed: .*; ebpf: no evidence \(1 skipped\/errored\/flaky cell\(s\): this driver source has no legacy eBPF probe/);
    });
  });

  describe('the page', () => {
    const page = (cells: CellResult[], opts: Parameters<typeof renderReport>[1] = {}) =>
      renderReport({ run: REAL.run, cells, verdicts: matrixVerdicts(m)?.(cells) }, opts);
    const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/\s+/g, ' ');
    // a row's text, its folded why left out
    const answerRow = (html: string, platform: string) => text(/<tr class="plat"><th>.*?<details>/s.exec(html.slice(html.indexOf(`<tr class="plat"><th>${platform}<`)))![0]).trim();

    it('answers first: per platform, the document and today, with the kernels it was judged on, before the grid', () => {
      const html = page(REAL.cells);
      assert.ok(html.indexOf('id="recommended"') < html.indexOf('<h2>Cells</h2>'), 'the answer before the grid');
      assert.ok(html.indexOf('<h2>Cells</h2>') < html.indexOf('id="claims"'), 'the grid before the claims');
      assert.equal(
        answerRow(html, 'Baremetal Kubernetes'),
        // no kmod cell of the document's era in this run: its verdict is untested
        'Baremetal Kubernetes profile host Kernel module untested not enough evidence debian-6.1-amd64 kmod@10.2.0 kmod@falco-0.44.1 modern-ebpf@10.2.0 modern-ebpf@falco-0.44.1 debian-6.1-amd64 (1 of 4 kernel(s); no evidence on debian-5.10-amd64, debian-6.12-amd64, debian-sid-amd64) judged on debian-5.10-amd64, debian-6.1-amd64, debian-6.12-amd64, debian-sid-amd64',
      );
      assert.equal(
        answerRow(page(TWICE), 'Baremetal Kubernetes'),
        'Baremetal Kubernetes profile host Kernel module untested Modern eBPF differs debian-6.1-amd64 10.2.0 falco-0.44.1 debian-6.12-amd64 10.2.0 falco-0.44.1 debian-6.1-amd64, debian-6.12-amd64 (2 of 4 kernel(s); no evidence on debian-5.10-amd64, debian-sid-amd64) judged on debian-5.10-amd64, debian-6.1-amd64, debian-6.12-amd64, debian-sid-amd64',
      );
      assert.match(answerRow(html, 'GKE'), /^GKE profile locked-down Legacy eBPF probe untested removed upstream: .* no evidence no evidence \(0 of 4 kernel\(s\)\) stand-in kernels judged on stand-in kernels \(debian-5\.10-amd64, .*\): its own kernels \(ubuntu-gke-amd64\) gave no evidence: .* — .*Container-Optimized OS/);
      // every driver of today's failing: none passed, on the kernel that ran
      let failing = TWICE;
      for (const id of [MODERN_FALCO, MODERN_SCAP, KMOD_FALCO, KMOD_SCAP]) failing = flip(id.replace('6.1', '6.12'), failAtLoad, flip(id, failAtLoad, failing));
      assert.match(answerRow(page(failing), 'Minikube'), / untested none passed debian-6\.1-amd64 modern-ebpf@10\.2\.0 modern-ebpf@falco-0\.44\.1 kmod@10\.2\.0 kmod@falco-0\.44\.1 ebpf@10\.2\.0 debian-6\.12-amd64 modern-ebpf@10\.2\.0 modern-ebpf@falco-0\.44\.1 kmod@10\.2\.0 kmod@falco-0\.44\.1 ebpf@10\.2\.0 debian-6\.1-amd64, debian-6\.12-amd64 \(2 of 4 kernel\(s\); no evidence on debian-5\.10-amd64, debian-sid-amd64\) judged on debian-5\.10-amd64, debian-6\.1-amd64, debian-6\.12-amd64, debian-sid-amd64$/);
    });

    it("each answer's links resolve to a cell of the page", () => {
      const html = page(TWICE);
      const answer = html.slice(html.indexOf('id="recommended"'), html.indexOf('<h2>Cells</h2>'));
      const links = [...answer.matchAll(/href="#([^"]+)"/g)].map((x) => x[1]!);
      assert.ok(links.length >= 4);
      for (const l of links) assert.match(html, new RegExp(`<div class="cell" id="${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">`), l);
      // the flipped cell is linked from the answer as a failure
      const flipped = page(flip(MODERN_FALCO, failAtLoad, TWICE));
      assert.match(answerRow(flipped, 'Baremetal Kubernetes'), / Kernel module untested Kernel module debian-6\.1-amd64 10\.2\.0 falco-0\.44\.1 debian-6\.12-amd64 10\.2\.0 falco-0\.44\.1 /);
    });

    it('a failing cell shows its class and first error without a click', () => {
      const html = page(flip(MODERN_FALCO, failAtLoad));
      const at = html.indexOf('<div class="cell" id="cell-debian-6.1-amd64_modern-ebpf@falco-0.44.1_host">');
      const cellHtml = html.slice(at, html.indexOf('</div></td>', html.indexOf('</details><div class="fe"', at)) + 6);
      assert.match(cellHtml, /^<div class="cell" id="[^"]+"><details><summary class="st fail">fail · load<span class="cls">load:verifier<\/span><\/summary>/);
      // after the cell's folded details, not inside them
      assert.match(cellHtml, /<\/details><div class="fe" title="[^"]+">libbpf: prog &#39;sys_enter&#39;: BPF program load failed: Permission denied<\/div><\/div>$/);
    });
  });

  describe('the report while the run goes', () => {
    it("a run's events: the page says N of M while it goes, and the final page does not", async () => {
      const dir = tempDir('kmatrix-progress-');
      const run = { ...REAL.run, id: 'r-progress' };
      mkdirSync(path.join(dir, run.id));
      const index = path.join(dir, run.id, 'index.html');
      const read = () => readFileSync(index, 'utf8');
      const sink = progressiveReport(dir, { verdicts: matrixVerdicts(m), everyMs: 1000 });
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      // the throttled write comes about everyMs after the last one: wait for it (a busy machine renders slowly)
      const until = async (re: RegExp) => {
        for (let t = Date.now(); !re.test(read()) && Date.now() - t < 15_000; ) await sleep(50);
        assert.match(read(), re);
      };
      await sink({ type: 'run-start', run, cells: REAL.cells.map((c) => c.id) });
      assert.match(read(), /Run in progress, 0 of 6 cells finished/);
      // throttled: a cell ending less than everyMs after a write waits for the next one
      await sink({ type: 'cell-end', result: REAL.cells[0]! });
      assert.match(read(), /0 of 6 cells/);
      await until(/Run in progress, 1 of 6 cells finished/);
      await sink({ type: 'cell-end', result: REAL.cells[1]! });
      await sink({ type: 'cell-end', result: REAL.cells[2]! });
      assert.match(read(), /1 of 6 cells/);
      await until(/Run in progress, 3 of 6 cells finished/);
      assert.match(read(), /id="cell-debian-6\.1-amd64_modern-ebpf@10\.2\.0_host"/, 'the finished cells are in the grid');
      await sink({ type: 'cell-end', result: REAL.cells[3]! });
      for (const r of REAL.cells.slice(4)) await sink({ type: 'cell-end', result: r });
      await sink({ type: 'run-end', run, results: REAL.cells });
      // the final page, as the results writer's onEnd writes it (writeReport)
      const { writeReport } = await import('../../harness/reports/index.js');
      const final: ResultsFile = { run, cells: REAL.cells, verdicts: matrixVerdicts(m)?.(REAL.cells) };
      await writeReport(final, path.join(dir, run.id));
      await sleep(1300); // no write of the progressive report is left to come
      assert.doesNotMatch(read(), /Run in progress|of 6 cells finished/, 'no in-progress page after the end');
      assert.match(read(), /Which driver for my platform\?/);
    });
  });
});
