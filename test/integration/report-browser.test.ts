// The published report in a real browser (Debian's chromium driven by
// playwright-core), from disk: two synthetic runs published into one site.
// Each filter changes what is shown, hostile log text stays text, the
// history shows the regression between the runs; a screenshot is kept.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadMatrix } from '../../harness/matrix.js';
import { publish } from '../../harness/reports/index.js';
import { renderReport } from '../../harness/reports/html.js';
import { matrixVerdicts, readResults, type ResultsFile } from '../../harness/results.js';
import type { CellResult, DriverId, Status } from '../../harness/types.js';

const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT = path.resolve('reports/tests/report-browser.png');
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

const KERNELS: [string, string, CellResult['kernel']['arch'], string][] = [
  ['debian-5.10-amd64', '5.10.237', 'amd64', 'q35'],
  ['debian-6.1-amd64', '6.1.176', 'amd64', 'q35'],
  ['debian-6.12-amd64', '6.12.41', 'amd64', 'q35'],
  ['linux-4.9-amd64', '4.9.229', 'amd64', 'q35'],
  ['debian-6.1-arm64-virt', '6.1.176', 'arm64', 'virt'],
];

function cell(k: (typeof KERNELS)[number], driver: DriverId, source: string, profile: string, status: Status, extra: Partial<CellResult> = {}): CellResult {
  const [id, version, arch, machine] = k;
  const cid = `${id}/${driver}@${source}/${profile}`;
  return {
    id: cid, kernel: { id, version, release: `${version}-${arch}`, arch, machine }, driver: { id: driver, source }, profile, status,
    ...(status === 'fail' ? { phase: 'load' as const, reason: 'insmod failed', firstError: 'insmod: ERROR: could not insert module' } : {}),
    ...(status === 'skip' ? { phase: 'fetch' as const, reason: 'no legacy eBPF probe in this source' } : {}),
    durations: { fetch: 0.4, build: 3.2, boot: 6.1, load: 1.2, capture: 2.5 },
    logs: { build: `cells/${cid.replace(/[^A-Za-z0-9._@+-]+/g, '_')}/build.log`, console: `cells/${cid.replace(/[^A-Za-z0-9._@+-]+/g, '_')}/console.log` },
    attempts: 1,
    ...extra,
  };
}

/** A run's directory with results.json and every cell's logs (the console log is hostile). */
function runDir(id: string, startedAt: string, cells: CellResult[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), `kmatrix-browser-${id}-`));
  for (const c of cells)
    for (const [k, f] of Object.entries(c.logs)) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), `${k} log of ${c.id}\n${HOSTILE}\n`);
    }
  const data: ResultsFile = {
    run: { id, startedAt, finishedAt: startedAt, host: 'ci', accel: 'tcg', kmatrixVersion: '0.1.0', matrix: { path: 'matrix.yaml', hash: 'x' }, mirror: 'http://mirror.example/debian', expiredSuitesAccepted: [] },
    cells,
    verdicts: matrixVerdicts(loadMatrix('matrix.yaml'))?.(cells),
  };
  writeFileSync(path.join(dir, 'results.json'), JSON.stringify(data));
  return dir;
}

function cells(regressed: boolean): CellResult[] {
  const [k510, k61, k612, k49, arm] = KERNELS;
  return [
    cell(k510!, 'kmod', '0.23.2', 'host', 'pass'),
    cell(k61!, 'kmod', '0.23.2', 'host', regressed ? 'fail' : 'pass', regressed ? { firstError: `capture: ${HOSTILE}`, oops: `BUG: unable to handle page fault\n${HOSTILE}` } : {}),
    cell(k612!, 'kmod', '0.23.2', 'host', 'pass'),
    cell(k612!, 'kmod', '0.1.1dev', 'host', 'fail', { phase: 'build', reason: 'the kernel module did not build', firstError: "error: implicit declaration of function 'fd_is_open'" }),
    cell(k49!, 'kmod', '0.23.2', 'host', 'pass'),
    cell(k49!, 'ebpf', '0.23.2', 'host', 'fail', { phase: 'build', firstError: 'Kernel version must be >= 4.14 with eBPF enabled' }),
    cell(k61!, 'ebpf', '0.23.2', 'host', 'pass'),
    cell(k61!, 'modern-ebpf', '0.20.0', 'host', 'pass'),
    cell(k61!, 'ebpf', 'local-nobpf', 'host', 'skip'),
    cell(arm!, 'kmod', '0.23.2', 'host', 'pass'),
    cell(arm!, 'ebpf', '0.23.2', 'host', 'error', { phase: 'boot', reason: 'boot timed out' }),
    cell(k61!, 'kmod', '0.23.2', 'locked-down', 'fail', { firstError: 'insmod: ERROR: could not insert module /kmatrix/scap.ko: Key was rejected by service' }),
    ...(regressed ? [cell(k510!, 'ebpf', '0.23.2', 'host', 'pass')] : []),
  ];
}

/** Cells the filters leave visible. */
const visibleCells = (page: Page) => page.locator('td.c:not(.off):visible').count();

/** Debian's Chromium, headless, on a fresh profile (--user-data-dir: playwright passes it itself), no network of its own. */
function launchChromium(profileDir: string, height: number): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height },
  });
}

// without Debian's chromium (scripts/setup.sh installs it) each test is pending, the suite's title saying why
const pending = existsSync(CHROMIUM) ? '' : ` (pending: no ${CHROMIUM} — Debian's chromium, installed by scripts/setup.sh)`;

(pending ? describe.skip : describe)(`report in a browser (chromium, from file://)${pending}`, function () {
  this.timeout(2 * 60_000); // publishing two runs and starting chromium, on 2 busy cores
  let browser: BrowserContext | undefined;
  let page: Page;
  let site: string;
  let profileDir: string;

  before(async function () {
    site = mkdtempSync(path.join(tmpdir(), 'kmatrix-site-'));
    await publish(runDir('20261126-010000Z', '2026-11-26T01:00:00Z', cells(false)), site);
    await publish(runDir('20261127-010000Z', '2026-11-27T01:00:00Z', cells(true)), site);
    profileDir = mkdtempSync(path.join(tmpdir(), 'kmatrix-chromium-'));
    browser = await launchChromium(profileDir, 1000);
    page = await browser.newPage();
    await page.goto(pathToFileURL(path.join(site, 'index.html')).href);
  });

  after(async () => {
    await browser?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it('loads from disk, self-contained, with no script error', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.reload();
    assert.match(await page.title(), /Falco driver compatibility \(20261127-010000Z\)/);
    assert.equal(await page.locator('script[src], link[href]').count(), 0, 'no external script or stylesheet');
    assert.match((await page.locator('#shown').textContent()) ?? '', /^13 of 13 cells shown$/);
    assert.deepEqual(errors, []);
  });

  it('groups rows by arch and machine, sorted by version, with a line at 4.14', async () => {
    const host = page.locator('section.profile[data-profile="host"]');
    const rows = await host.locator('tr.r th.k, tr.grp th, tr.v414 td').evaluateAll((els) => els.map((e) => (e.closest('tr')!.className === 'r' ? e.firstChild!.textContent : e.closest('tr')!.className)));
    assert.deepEqual(rows, ['grp', 'linux-4.9-amd64', 'v414', 'debian-5.10-amd64', 'debian-6.1-amd64', 'debian-6.12-amd64', 'grp', 'v414', 'debian-6.1-arm64-virt']);
    assert.ok(await host.locator('tr.v414').first().isVisible());
  });

  it('each filter changes what is shown', async () => {
    const all = await visibleCells(page);
    const tries: [string, string, number][] = [
      ['arch', 'arm64', 2],
      ['driver', 'ebpf', 5],
      ['source', '0.1.1dev', 1],
      ['profile', 'locked-down', 1],
      ['status', 'fail', 4],
      ['class', 'build:compiler', 1],
    ];
    for (const [name, value, expected] of tries) {
      await page.selectOption(`[data-filter="${name}"]`, value);
      assert.equal(await visibleCells(page), expected, `${name}=${value}`);
      await page.selectOption(`[data-filter="${name}"]`, '');
      assert.equal(await visibleCells(page), all, `${name} reset`);
    }
    await page.fill('[data-filter="text"]', 'fd_is_open');
    assert.equal(await visibleCells(page), 1, 'text');
    assert.equal(await page.locator('section.profile[data-profile="locked-down"]').isVisible(), false, 'a profile with nothing left is hidden');
    await page.fill('[data-filter="text"]', '');
    assert.equal(await visibleCells(page), all);
  });

  it('a log line with <script> renders as text, never runs', async () => {
    const regressed = page.locator('[id="cell-debian-6.1-amd64_kmod@0.23.2_host"]');
    // the cell's own summary (its status); the Oops excerpt is a details block of its own inside
    await regressed.locator('summary.st').click();
    const err = regressed.locator('pre.err').first();
    assert.ok(await err.isVisible());
    assert.match((await err.textContent()) ?? '', /<script>window.__pwned = 1<\/script><img src=x/);
    assert.match((await regressed.locator('pre.oops').textContent()) ?? '', /BUG: unable to handle page fault\n<script>/);
    await regressed.locator('summary', { hasText: 'kernel console (Oops)' }).click();
    assert.ok(await regressed.locator('pre.oops').isVisible(), 'the Oops excerpt opens');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.match((await regressed.locator('table.ph').textContent()) ?? '', /boot6\.1 s/);
    assert.equal(await regressed.locator('.streak').textContent(), 'fail for 1 published run(s) in a row');
    assert.equal(await page.locator('[id="cell-debian-5.10-amd64_kmod@0.23.2_host"] .streak').textContent(), 'pass for 2 published run(s) in a row');
    const links = await regressed.locator('a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    assert.equal(links.length, 2, 'build and console log links');
    for (const l of links) assert.ok(existsSync(new URL(l).pathname), `${l} exists in the site`);
  });

  it('the history shows the regression between the two published runs', async () => {
    const hist = page.locator('#history');
    assert.match((await hist.locator('h2').textContent()) ?? '', /Since the previous run \(20261126-010000Z\)/);
    assert.match((await hist.locator('.reg').textContent()) ?? '', /Regressions: passed in the previous run, fail now \(1\)debian-6\.1-amd64\/kmod@0\.23\.2\/host fail for 1 run/);
    assert.match((await hist.locator('.new').textContent()) ?? '', /debian-5\.10-amd64\/ebpf@0\.23\.2\/host/);
    assert.equal(await hist.locator('svg.chart a').count(), 2, 'a bar per run');
    await page.locator('#history details summary').click();
    await page.locator('#history a[href="runs/20261126-010000Z/index.html"]').first().click();
    assert.match(await page.title(), /20261126-010000Z/, 'the earlier run stays reachable');
    await page.goBack();
  });

  it('recommended drivers read at a glance: one line per platform, evidence folded', async () => {
    const rows = page.locator('#recommended tr.plat');
    assert.ok((await rows.count()) >= 10);
    assert.equal(await page.locator('#recommended details[open]').count(), 0);
    assert.equal(await rows.first().locator('ul.ev').isVisible(), false);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
  });

  it('the run\'s mochawesome report: a test per cell grouped by kernel, failures with phase and first error', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(path.join(site, 'runs', '20261127-010000Z', 'mochawesome.html')).href);
    await page.getByText('debian-6.12-amd64', { exact: true }).first().waitFor();
    const text = (await page.locator('body').textContent()) ?? '';
    for (const k of KERNELS) assert.ok(text.includes(k[0]), `suite ${k[0]}`);
    assert.match(text, /failed at build: error: implicit declaration of function 'fd_is_open'/);
    assert.match(text, /infrastructure error at boot/);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(errors, []);
  });

  it('a one-cell run says "not enough evidence" instead of recommending a driver', async () => {
    const one = [cell(KERNELS[1]!, 'kmod', '0.23.2', 'host', 'pass')];
    const file = path.join(site, 'one.html');
    writeFileSync(file, renderReport({ run: { id: 'one', startedAt: '', host: '', accel: '', kmatrixVersion: '', matrix: { path: '', hash: '' }, mirror: '', expiredSuitesAccepted: [] }, cells: one, verdicts: matrixVerdicts(loadMatrix('matrix.yaml'))?.(one) }));
    await page.goto(pathToFileURL(file).href);
    const text = (await page.locator('#recommended').textContent()) ?? '';
    assert.match(text, /not enough evidence/);
    assert.doesNotMatch(text, /evidence recommends: kmod passes/);
    const recommends = await page.locator('#recommended tr.plat td.now').allTextContents();
    assert.ok(recommends.length >= 10 && recommends.every((t) => /^no evidence/.test(t)), `no driver recommended from one cell of the document's era: ${recommends.join(' | ')}`);
    assert.doesNotMatch(text, /the evidence recommends (Kernel module|Modern eBPF)/);
  });
});

// The report of real runs' cells (test/fixtures/results: today's Falco on Debian 6.1, and the document's era
// sources on the four Debian amd64 kernels), as a Falco user first sees it. Its screenshot is kept in the
// test-run directory, and with KMATRIX_UPDATE_SCREENSHOT=1 copied to docs/report.png (the README's).
export const FIRST_SCREEN = path.resolve('reports/tests/report-first-screen.png');
const DOCS_SCREENSHOT = path.resolve('docs/report.png');

(pending ? describe.skip : describe)(`report in a browser: the first screen of real runs' cells${pending}`, function () {
  this.timeout(2 * 60_000);
  let browser: BrowserContext | undefined;
  let page: Page;
  let profileDir: string;
  let dir: string;
  const errors: string[] = [];

  before(async function () {
    const today = readResults(path.resolve('test/fixtures/results/today-20261202-084610Z.json'));
    const era = readResults(path.resolve('test/fixtures/results/base-a2e1ace-35.json'));
    const cells = [...era.cells, ...today.cells];
    const data: ResultsFile = { run: { ...today.run, id: `${today.run.id}+${era.run.id}` }, cells, verdicts: matrixVerdicts(loadMatrix('matrix.yaml'))?.(cells) };
    dir = mkdtempSync(path.join(tmpdir(), 'kmatrix-first-screen-'));
    writeFileSync(path.join(dir, 'index.html'), renderReport(data));
    profileDir = mkdtempSync(path.join(tmpdir(), 'kmatrix-chromium-'));
    browser = await launchChromium(profileDir, 900);
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(path.join(dir, 'index.html')).href);
  });

  after(async () => {
    await browser?.close();
    for (const d of [profileDir, dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("opens on the platforms' answers, before the grid, with no script error", async () => {
    const answer = await page.locator('#recommended').boundingBox();
    assert.ok(answer && answer.y < 200, `the answer starts the page (at ${answer?.y}px)`);
    const grid = await page.locator('h2', { hasText: /^Cells$/ }).boundingBox();
    assert.ok(grid && grid.y > answer.y + answer.height - 1, 'the grid after the answer');
    assert.deepEqual(errors, []);
  });

  it("says per platform the document's recommendation, today's Falco's and the kernels it was judged on", async () => {
    const rows = await page.locator('#recommended tr.plat').evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('th, td.doc, td.now, td.on')].map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ').trim()).join(' | ')),
    );
    assert.equal(rows.length, 12);
    assert.deepEqual(rows.slice(0, 1).concat(rows.slice(6, 7), rows.slice(9, 10), rows.slice(11)), EXPECTED_ROWS);
  });

  it("each answer's and claim's links lead to a cell of the page, opened", async () => {
    const targets = await page.locator('#recommended a[href^="#"], #claims a[href^="#"]').evaluateAll((as) =>
      as.map((a) => {
        const id = decodeURIComponent((a as HTMLAnchorElement).hash.slice(1));
        const t = document.getElementById(id);
        return { id, cell: t?.matches('div.cell') === true };
      }),
    );
    assert.ok(targets.length >= 30, `${targets.length} links`);
    assert.deepEqual(targets.filter((t) => !t.cell), [], 'every link resolves to a cell');
    const link = page.locator('#recommended tr.plat').first().locator('td.now a').first();
    const id = decodeURIComponent(await link.evaluate((a) => (a as HTMLAnchorElement).hash.slice(1)));
    await link.click();
    const cell = page.locator(`[id="${id}"]`);
    assert.ok(await cell.locator('details').evaluate((d) => (d as HTMLDetailsElement).open), 'the cell opens');
    assert.ok(await cell.isVisible());
    const at = await cell.evaluate((e) => [e.getBoundingClientRect().top, e.getBoundingClientRect().bottom, window.innerHeight]);
    assert.ok(at[1]! > 0 && at[0]! < at[2]!, `scrolled to it (top, bottom, window: ${at.join(', ')})`);
    await page.goto(pathToFileURL(path.join(dir, 'index.html')).href);
  });

  it('a failing cell shows its class and first error without a click', async () => {
    const cell = page.locator('[id="cell-debian-6.12-amd64_modern-ebpf@0.20.0_host"]');
    assert.equal(await cell.locator('details').evaluate((d) => (d as HTMLDetailsElement).open), false);
    assert.match((await cell.locator('summary').innerText()).replace(/\s+/g, ' '), /^fail · load ?load:verifier$/);
    const fe = cell.locator('.fe');
    assert.ok(await fe.isVisible(), 'the first error is shown');
    assert.ok(((await fe.innerText()) ?? '').length > 10, await fe.innerText());
  });

  it("renders the document's Chinese quotes as text in a CJK font, and keeps a screenshot", async () => {
    const quote = page.locator('#claims td', { hasText: '与主机内核以及不断变化的内核版本' }).first();
    assert.match((await quote.textContent()) ?? '', /“与主机内核以及不断变化的内核版本、体系结构、操作系统紧密结合”/);
    // the fonts chromium drew the quote's glyphs with: a CJK font, not a fallback box
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: -1 });
    const { nodeIds } = await cdp.send('DOM.querySelectorAll', { nodeId: root.nodeId, selector: '#claims td' });
    const fonts = new Set<string>();
    for (const nodeId of nodeIds) for (const f of (await cdp.send('CSS.getPlatformFontsForNode', { nodeId })).fonts) fonts.add(f.familyName);
    assert.ok([...fonts].some((f) => /WenQuanYi|Noto Sans CJK|文泉/.test(f)), `a CJK font among ${[...fonts].join(', ')}`);
    await cdp.detach();
    mkdirSync(path.dirname(FIRST_SCREEN), { recursive: true });
    await page.screenshot({ path: FIRST_SCREEN, fullPage: true });
    assert.ok(existsSync(FIRST_SCREEN));
    if (process.env.KMATRIX_UPDATE_SCREENSHOT === '1') copyFileSync(FIRST_SCREEN, DOCS_SCREENSHOT);
  });
});

// The rows a Falco user reads first (Baremetal Kubernetes stands for the eight rows of the Debian amd64 kernels under host).
const EXPECTED_ROWS: string[] = [
  'Baremetal Kubernetes profile host | Kernel module confirmed debian-5.10-amd64 0.1.1dev 0.20.0 0.23.2 debian-6.1-amd64 0.1.1dev 0.20.0 0.23.2 debian-6.12-amd64 0.20.0 0.23.2 debian-sid-amd64 0.20.0 0.23.2 | not enough evidence debian-6.1-amd64 kmod@10.2.0 kmod@falco-0.44.1 modern-ebpf@10.2.0 modern-ebpf@falco-0.44.1 | debian-6.1-amd64 (1 of 4 kernel(s); no evidence on debian-5.10-amd64, debian-6.12-amd64, debian-sid-amd64) judged on debian-5.10-amd64, debian-6.1-amd64, debian-6.12-amd64, debian-sid-amd64',
  "GKE profile locked-down | Legacy eBPF probe untested removed upstream: libs 0.24.0 / driver 10.0.0 dropped the legacy eBPF probe (2026) | no evidence | no evidence (0 of 4 kernel(s)) stand-in kernels judged on stand-in kernels (debian-5.10-amd64, debian-6.1-amd64, debian-6.12-amd64, debian-sid-amd64): its own kernels (ubuntu-gke-amd64) gave no evidence: no cell of them under profile locked-down in this run — GKE's default node image, Container-Optimized OS, ships its kernel only inside GCE images (no package repository has it): GKE's Ubuntu node kernel (Ubuntu's gke flavour) stands for the row",
  "AWS ECS profile ptrace-only | pdig (ptrace) untested removed upstream: libs dropped pdig's userspace engine (udig) in 2023; pdig is archived | no evidence | no evidence (0 of 4 kernel(s)) stand-in kernels judged on stand-in kernels (debian-5.10-amd64, debian-6.1-amd64, debian-6.12-amd64, debian-sid-amd64): its own kernels (amazonlinux-2-amd64, amazonlinux-2023-amd64) gave no evidence: no cell of them under profile ptrace-only in this run",
  'ARM/Raspberry PI profile host | Legacy eBPF probe untested removed upstream: libs 0.24.0 / driver 10.0.0 dropped the legacy eBPF probe (2026) | no evidence | no evidence (0 of 5 kernel(s)) judged on debian-6.1-arm64-raspi3b, debian-6.12-arm64-raspi3b, debian-6.1-arm64-raspi3b-sd, debian-6.1-armhf-raspi2b, store-4.9-arm64-raspi3b',
];
