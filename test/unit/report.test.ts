import assert from 'node:assert/strict';
import { compareVersions, overheadText, renderReport } from '../../harness/reports/html.js';
import { renderJUnit } from '../../harness/reports/junit.js';
import { resultLine, terminalUi } from '../../harness/ui.js';
import type { CellResult } from '../../harness/types.js';

function cell(kernel: string, version: string, status: CellResult['status'], extra: Partial<CellResult> = {}): CellResult {
  return {
    id: `${kernel}/kmod@0.23.2/host`,
    kernel: { id: kernel, version, release: `${version}-amd64`, arch: 'amd64', machine: 'q35' },
    driver: { id: 'kmod', source: '0.23.2' },
    profile: 'host',
    status,
    durations: { fetch: 1, build: 2.5 },
    logs: { build: `cells/${kernel}/build.log` },
    attempts: 1,
    ...extra,
  };
}

const run = { id: 'r1', startedAt: 'now', host: 'h', accel: 'tcg', kmatrixVersion: '0', matrix: { path: 'm', hash: 'x' }, mirror: 'http://m/debian', expiredSuitesAccepted: ['sid'] };

describe('report', () => {
  it('sorts kernel versions numerically', () => {
    assert.deepEqual(['6.12.5', '5.10.2', '6.1.176', '6.1.20'].sort(compareVersions), ['5.10.2', '6.1.20', '6.1.176', '6.12.5']);
  });

  it('draws the 4.14 line between the rows below and above it, once per machine group', () => {
    const html = renderReport({ run, cells: [cell('k6.1', '6.1.176', 'pass'), cell('k4.9', '4.9.229', 'pass'), cell('k4.4', '4.4.302', 'fail'), cell('k5.10', '5.10.237', 'pass')] });
    const at = (s: string) => html.indexOf(s);
    assert.equal(html.match(/class="v414"/g)?.length, 1);
    assert.ok(at('>k4.9<') < at('class="v414"') && at('class="v414"') < at('>k5.10<'), 'between 4.9 and 5.10');
    assert.doesNotMatch(renderReport({ run, cells: [cell('k6.1', '6.1.176', 'pass'), cell('k5.10', '5.10.237', 'pass')] }), /class="v414"/, 'no line without a row below 4.14');
  });

  it('renders status as text and class, rows by version, the first error escaped, log links', () => {
    const html = renderReport({
      run,
      cells: [
        cell('debian-6.12-amd64', '6.12.41', 'fail', { phase: 'build', firstError: "error: implicit declaration of function 'fd_is_open' <x>" }),
        cell('debian-5.10-amd64', '5.10.237', 'pass', { evidence: { events: 3, marker: true } }),
      ],
    });
    assert.ok(html.indexOf('debian-5.10-amd64') < html.indexOf('debian-6.12-amd64'), '5.10 row first');
    assert.match(html, /class="st fail">fail · build</);
    assert.match(html, /class="st pass">pass</);
    assert.match(html, /fd_is_open&#39; &lt;x&gt;/);
    assert.match(html, /href="cells\/debian-5.10-amd64\/build.log"/);
    assert.match(html, /expired Release accepted for: sid/);
    assert.doesNotMatch(html, /<script[^>]*\ssrc=|<link[^>]*\shref=|https?:\/\/(?!m\/debian)/, 'self-contained: no external scripts, styles or URLs');
  });

  it("shows a pdig cell's scope and cost: the untraced marker, the loop's ratios, the consumer's warnings (escaped)", () => {
    const pdig = cell('debian-6.1-amd64', '6.1.176', 'pass', {
      id: 'debian-6.1-amd64/pdig@pdig-fc679b8/host',
      driver: { id: 'pdig', source: 'pdig-fc679b8' },
      evidence: {
        events: 4,
        marker: true,
        untracedMarker: false,
        overhead: { count: 20000, untracedNs: 1e9, kmodNs: 2e9, pdigNs: 3.1e10, pdigVsKmod: 15.5, pdigSlowdown: 31, kmodSlowdown: 2 },
        warnings: ['corrupted filler for event type 293 <b>'],
      },
    });
    const html = renderReport({ run, cells: [pdig] });
    assert.match(html, /untraced process's marker: not captured/);
    assert.match(html, /syscall loop \(20000 openat\/close\): pdig 15\.5× slower than the kernel module; pdig 31\.0× the untraced time; kernel module 2\.0× the untraced time/);
    assert.match(html, /consumer warnings \(1\)/);
    assert.match(html, /event type 293 &lt;b&gt;/);
    assert.equal(overheadText({ count: 10, notes: ['no kmod here'] }), 'syscall loop (10 openat/close): no ratio (no kmod here)');
  });

  it('one terminal line per finished cell names phase, reason and first error', () => {
    assert.equal(
      resultLine(cell('k', '6.1.1', 'fail', { phase: 'build', reason: 'the kernel module did not build', firstError: 'error: x' })),
      'FAIL  k/kmod@0.23.2/host at build — the kernel module did not build: "error: x" (fetch 1s, build 2.5s)',
    );
  });

  it('JUnit XML keeps failures, infrastructure errors and skips apart', () => {
    const xml = renderJUnit({ run, cells: [cell('a', '6.1.1', 'fail', { phase: 'build', reason: 'no build', firstError: 'x < y' }), cell('b', '6.1.1', 'error', { phase: 'boot', reason: 'timeout' }), cell('c', '6.1.1', 'skip', { reason: 'no source' }), cell('d', '6.1.1', 'pass')] });
    assert.match(xml, /<testsuites name="kmatrix r1" tests="4" failures="1" errors="1" skipped="1">/);
    assert.match(xml, /<failure message="build: no build" type="build:other">x &lt; y<\/failure>/);
    assert.match(xml, /<error message="boot: timeout" type="infra:other"\/>/);
    assert.match(xml, /<skipped message="no source"\/>/);
    assert.match(xml, /name="d\/kmod@0.23.2\/host" time="3.5"><\/testcase>/);
  });

  describe('flaky cells are counted beside pass, fail, skip and error', () => {
    const flaky = (k: string) => cell(k, '6.1.1', 'flaky', { reason: 'failed at capture (killed), then passed: marker seen', runs: [{ status: 'fail', phase: 'capture', reason: 'killed' }, { status: 'pass' }] });
    const cells = [cell('k1', '6.1.1', 'pass'), cell('k2', '6.1.1', 'fail', { phase: 'load' }), flaky('k3'), flaky('k4'), cell('k5', '6.1.1', 'skip'), cell('k6', '6.1.1', 'error', { phase: 'boot' })];

    it("the report's header", () => {
      const html = renderReport({ run, cells });
      const header = /<p>(<span class="st [^"]+">[^<]*<\/span> ?)+<\/p>/.exec(html)?.[0] ?? '';
      assert.equal(header, '<p><span class="st pass">1 pass</span> <span class="st fail">1 fail</span> <span class="st flaky">2 flaky</span> <span class="st skip">1 skip</span> <span class="st error">1 error</span></p>');
      assert.match(renderReport({ run, cells: [cell('k1', '6.1.1', 'pass')] }), /<span class="st flaky">0 flaky<\/span>/, 'none: still counted');
    });

    it("the CLI's closing summary", async () => {
      let text = '';
      const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
      const ui = terminalUi({ out });
      await ui({ type: 'run-start', run: { ...run, id: 'r1' }, cells: cells.map((c) => c.id), resume: false });
      await ui({ type: 'run-end', run: { ...run, id: 'r1' }, results: cells });
      assert.match(text, /run r1 done: 1 pass, 1 fail, 2 flaky, 1 skip, 1 error in \d/);
    });
  });
});
