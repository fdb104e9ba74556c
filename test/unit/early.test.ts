// Early answers without a VM: the order (given the cells and which heavy
// builds are cached), the ranked queue and its gates, the background slot,
// and the ETA from a produced.log fixture.
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { builderRootPath } from '../../harness/builder.js';
import { setCacheDir } from '../../harness/cache/cache.js';
import { planLines } from '../../harness/cli/plan.js';
import { FALCO_BUILD_DEPS } from '../../harness/consumers/falco.js';
import { SYSDIG_BUILD_DEPS, SYSDIG_FULL_BUILD_DEPS } from '../../harness/consumers/sysdig-git.js';
import { cachedHeavyBuilds, coldTier, earlyPlan, evidenceGroups, heavyBuilds, simulate, type EvidenceGroup } from '../../harness/early.js';
import { DEFAULT_BUILD_SECONDS, estimateBuild, pastBuildCosts, runEta } from '../../harness/eta.js';
import { loadMatrix } from '../../harness/matrix.js';
import { backgroundBuilds, runRanked } from '../../harness/scheduler.js';
import type { Cell } from '../../harness/types.js';
import { progressEta, summaryBlock, type Progress } from '../../harness/ui.js';
import { tempDir } from '../tmp.js';
import { CLAIM_FEEDS, loadRecommended } from '../../harness/verdicts.js';

const tmp = (p: string) => tempDir(`kmatrix-${p}-`);
const m = loadMatrix('matrix.yaml');
const table = loadRecommended(m.recommended!);
const groups = evidenceGroups(m.platforms, table, m.today);
const heavyNames = (cells: Cell[]) => new Set(cells.flatMap((c) => heavyBuilds(c, 'amd64').map((b) => b.name)));

describe('early answers', () => {
  describe('the order', () => {
    const cold = earlyPlan(m.cells, groups, new Set(), 'amd64');

    it('every cell once; the same order every time', () => {
      assert.equal(cold.order.length, m.cells.length);
      assert.equal(new Set(cold.order.map((c) => c.id)).size, m.cells.length);
      assert.deepEqual(earlyPlan(m.cells, groups, new Set(), 'amd64').order.map((c) => c.id), cold.order.map((c) => c.id));
    });

    it('round-robin: every platform row and claim with a cell has its first before any has a second', () => {
      const fed = groups.filter((g) => m.cells.some(g.feeds));
      const firstAt = (g: EvidenceGroup) => cold.order.findIndex(g.feeds);
      const lastFirst = Math.max(...fed.map(firstAt));
      // round one: each group's first cell; no cell before the last of them is there only as a group's second
      for (const c of cold.order.slice(0, lastFirst + 1)) assert.ok(cold.firstOf.has(c.id), `${c.id} is no group's first, before the last group's first (${lastFirst})`);
      assert.equal(cold.firstOf.size, lastFirst + 1);
      assert.ok(lastFirst < m.cells.length / 4, `every group has its first cell in the first quarter (${lastFirst})`);
      // the rows of the document's table come first: each gets a cell among the first ranks
      for (const g of fed.filter((x) => x.id.startsWith('platform:'))) assert.ok(firstAt(g) < 12, `${g.id} first at ${firstAt(g)}`);
    });

    it('cheap first: a Debian sysdig and the kmod of a Debian source lead; a cell of an uncached heavy build waits for it', () => {
      assert.equal(coldTier(cold.order[0]!), 0);
      assert.equal(cold.order[0]!.driver, 'kmod');
      assert.ok(cold.order[0]!.source.debian && cold.order[0]!.consumer.debian);
      const heavy = new Set(cold.builds.flatMap((b) => b.cells.map((c) => c.id)));
      assert.deepEqual(heavy, new Set(m.cells.filter((c) => heavyBuilds(c, 'amd64').length).map((c) => c.id)));
      assert.deepEqual(
        cold.builds.map((b) => b.kind).sort(),
        ['falco', 'pdig', 'sysdig-git', 'sysdig-git'],
        'Falco from git, sysdig from git (minimal and with the eBPF engine), pdig',
      );
      // the builds are started in the order their first waiting cell has
      const firstRank = cold.builds.map((b) => cold.order.indexOf(b.cells[0]!));
      assert.deepEqual(firstRank, [...firstRank].sort((a, b) => a - b));
      // pdig's platforms (ECS, Fargate) are about pdig: its build comes before Falco's (today's)
      assert.ok(cold.builds.findIndex((b) => b.kind === 'pdig') < cold.builds.findIndex((b) => b.kind === 'falco'));
    });

    it('a cached heavy build makes its cells ordinary: nothing waits, they move up', () => {
      const warm = earlyPlan(m.cells, groups, heavyNames(m.cells), 'amd64');
      assert.deepEqual(warm.builds, []);
      const pdig = (o: Cell[]) => o.findIndex((c) => c.driver === 'pdig');
      assert.ok(pdig(warm.order) <= pdig(cold.order), `pdig's first cell at ${pdig(warm.order)} warm, ${pdig(cold.order)} cold`);
      // only that build's cells change tier
      const onlyPdig = earlyPlan(m.cells, groups, new Set([...heavyNames(m.cells)].filter((n) => n.startsWith('pdig:') || n === 'sysdig-git:sysdig-2aa88dc')), 'amd64');
      assert.deepEqual(onlyPdig.builds.map((b) => b.kind).sort(), ['falco', 'sysdig-git']);
    });

    it('a small case, exactly: two rows, cheap before dear, the row\'s driver first, kernels spread', () => {
      const k = (id: string, kind = 'debian') => ({ id, arch: 'amd64' as const, machine: 'q35', source: { kind } });
      const deb = { id: 'deb', kind: 'sysdig' as const, debian: { suite: 'sid', package: 'sysdig' }, engines: ['kmod', 'ebpf'] as Cell['driver'][], requires: { api: '0.0.0', schema: '0.0.0' } };
      const falco = { ...deb, id: 'falco', kind: 'falco' as const, debian: undefined, falco: { git: { url: 'u', commit: 'a'.repeat(40) }, libs: { url: 'u', commit: 'b'.repeat(40) }, driver: { url: 'u', commit: 'c'.repeat(40) }, suite: 'trixie', version: '1.0.0' } };
      const src = { id: 's', debian: { suite: 'sid', package: 'p' }, consumer: 'deb' };
      const cell = (kernel: string, driver: Cell['driver'], profile: string, consumer: Cell['consumer'] = deb): Cell => ({ id: `${kernel}/${driver}@s/${profile}${consumer === deb ? '' : `+${consumer.id}`}`, kernel: k(kernel), driver, source: src, consumer, profile: { id: profile } });
      const cells = [cell('a', 'ebpf', 'host'), cell('a', 'kmod', 'host', falco), cell('a', 'kmod', 'host'), cell('b', 'kmod', 'host'), cell('a', 'kmod', 'locked'), cell('b', 'ebpf', 'locked')];
      const g = evidenceGroups([{ platform: 'H', profile: 'host', kernels: ['a', 'b'] }, { platform: 'L', profile: 'locked', kernels: ['a', 'b'] }], { source: '', platforms: [{ platform: 'H', recommended: 'kmod' }, { platform: 'L', recommended: 'ebpf' }], claims: [] });
      const plan = earlyPlan(cells, g, new Set(), 'amd64');
      // H: kmod on a (cheap, its driver); L: kmod on a is cheaper than L's ebpf; then H's second on kernel b, L's ebpf on b; then the rest
      assert.deepEqual(plan.order.map((c) => c.id), ['a/kmod@s/host', 'a/kmod@s/locked', 'b/kmod@s/host', 'b/ebpf@s/locked', 'a/ebpf@s/host', 'a/kmod@s/host+falco']);
      assert.deepEqual(plan.builds.map((b) => [b.name, b.cells.map((c) => c.id)]), [['falco:falco', ['a/kmod@s/host+falco']]]);
      assert.deepEqual(plan.firstOf.get('a/kmod@s/host'), ['platform:H']);
      // cached: Falco's cell is an ordinary dear cell (tier 2), still after the cheap ones, and nothing waits
      const warm = earlyPlan(cells, g, new Set(['falco:falco']), 'amd64');
      assert.deepEqual(warm.builds, []);
      assert.equal(warm.order.at(-1)!.id, 'a/kmod@s/host+falco');
      // a foreign arch's cell builds no Falco (a skip): nothing to wait for
      assert.deepEqual(heavyBuilds({ ...cells[1]!, kernel: { ...k('a'), arch: 'arm64' } }, 'amd64'), []);
    });

    it('which heavy builds are cached: read from the cache entries\' inputs, of the builder root this matrix makes', () => {
      const root = tmp('early-cache');
      const falco = m.consumers['falco-0.44.1']!.falco!;
      const sysdig = m.consumers['sysdig-2aa88dc']!.git!;
      const debian = { mirror: 'http://deb.example/debian', suites: m.suites };
      const entry = (kind: string, name: string, inputs: unknown, done = true) => {
        mkdirSync(path.join(root, kind, name), { recursive: true });
        writeFileSync(path.join(root, kind, name, '.inputs.json'), JSON.stringify(inputs));
        if (done) writeFileSync(path.join(root, kind, name, '.done'), 'x');
      };
      entry('consumers', 'f1', { falco: falco.git.commit, libs: falco.libs.commit, driver: falco.driver.commit, script: 's', root: builderRootPath(debian, falco.suite, FALCO_BUILD_DEPS, root) });
      entry('consumers', 's1', { sysdig: sysdig.commit, script: 'cmake -DMINIMAL_BUILD=ON', root: builderRootPath(debian, sysdig.suite, SYSDIG_BUILD_DEPS, root) }, false); // half-made: not cached
      entry('consumers', 's2', { sysdig: sysdig.commit, script: 'cmake -DUSE_BUNDLED_DEPS=OFF', root: builderRootPath(debian, sysdig.suite, SYSDIG_FULL_BUILD_DEPS, root) }); // the full build, not the minimal one
      // pdig built in another builder root (other packages, or another cache's path): its cell would build it again
      entry('builds', 'p1', { pdig: `git:${m.sources['pdig-fc679b8+sysdig-2aa88dc']!.git!.url}@${m.sources['pdig-fc679b8+sysdig-2aa88dc']!.git!.commit} + ${m.sources['pdig-fc679b8+sysdig-2aa88dc']!.libs!.url}@${m.sources['pdig-fc679b8+sysdig-2aa88dc']!.libs!.commit}`, root: '/elsewhere/builders/x/root' });
      assert.deepEqual([...cachedHeavyBuilds(m.cells, root, debian)].sort(), ['falco:falco-0.44.1', 'sysdig-git:sysdig-2aa88dc-bpf']);
      // another mirror makes other roots: nothing matches; without the roots, the trees alone
      assert.deepEqual([...cachedHeavyBuilds(m.cells, root, { ...debian, mirror: 'http://other/debian' })], []);
      assert.deepEqual([...cachedHeavyBuilds(m.cells, root)].sort(), ['falco:falco-0.44.1', 'pdig:pdig-fc679b8+sysdig-2aa88dc', 'sysdig-git:sysdig-2aa88dc-bpf']);
    });

    it('every claim of recommended-drivers.yaml has its feed', () => {
      for (const c of table.claims) assert.ok(CLAIM_FEEDS[c.id], `${c.id} has no entry in CLAIM_FEEDS`);
      const claimGroups = groups.filter((g) => g.id.startsWith('claim:'));
      assert.ok(claimGroups.find((g) => g.id === 'claim:kmod-tied-to-kernel')!.feeds(m.cells.find((c) => c.control)!));
      assert.ok(!claimGroups.find((g) => g.id === 'claim:kmod-any-kernel')!.feeds(m.cells.find((c) => c.control)!), 'a control is no driver evidence');
      // today's sources feed "today:" rows only, never the document's rows or claims
      const today = m.cells.find((c) => m.today!.sources.includes(c.source.id) && c.profile.id === 'host' && c.kernel.id === 'debian-6.1-amd64')!;
      assert.deepEqual(groups.filter((g) => g.feeds(today)).map((g) => g.id.split(':')[0]), Array(11 - 3).fill('today'));
    });

    it('a warm cache: the early order ends no later than the matrix order (simulated, VMs only)', () => {
      const vm = (c: Cell) => ({ kmod: 20, ebpf: 35, 'modern-ebpf': 45, pdig: 5 })[c.driver];
      const end = (order: Cell[]) => Math.max(...[...simulate({ order, builds: [], firstOf: new Map() }, 2, (c, s) => s + vm(c), () => 0).values()].map((t) => t.end));
      const warm = earlyPlan(m.cells, groups, heavyNames(m.cells), 'amd64');
      assert.ok(end(warm.order) <= end(m.cells) + 45, `${end(warm.order)} vs ${end(m.cells)}`);
    });
  });

  it('kmatrix plan --cold: on an empty cache with the default estimates, every row and claim has a cell long before the matrix\'s order gives one', () => {
    setCacheDir(tmp('early-plan')); // no produced.log: the stated defaults
    try {
      const lines = planLines(m, m.cells, { jobs: 2, cold: true, previous: [] });
      assert.match(lines[1]!, /^background slot: pdig:.* \(estimated\) → .*falco:falco-0\.44\.1 ~45m00s \(estimated\)/);
      const secs = (t: string) => [...t.matchAll(/(\d+)([hms])/g)].reduce((a, x) => a + Number(x[1]) * { h: 3600, m: 60, s: 1 }[x[2] as 'h' | 'm' | 's'], 0);
      const early = /^every platform row has a first cell after (\S+); every claim after (\S+); the whole selection after (\S+)$/.exec(lines.find((l) => l.startsWith('every platform row'))!)!;
      const before = /^the matrix's order, for comparison: every platform row after (\S+); every claim after (\S+); the whole selection after (\S+)$/.exec(lines.find((l) => l.startsWith("the matrix's order"))!)!;
      assert.ok(secs(early[1]!) * 4 < secs(before[1]!), `rows: ${early[1]} early, ${before[1]} in the matrix's order`);
      assert.ok(secs(early[2]!) * 4 < secs(before[2]!), `claims: ${early[2]} early, ${before[2]} in the matrix's order`);
      assert.ok(secs(early[3]!) <= secs(before[3]!), `the whole: ${early[3]} early, ${before[3]}`);
      assert.ok(lines.some((l) => /^ {3}1 .*first for platform:/.test(l)));
      assert.ok(lines.includes('no cell of the selection feeds: claim:kmod-fastest'));
    } finally {
      setCacheDir(undefined);
    }
  });

  describe('the queue', () => {
    it('at most N at once, in rank order; a gated item joins when its gate opens, before the later ready ones', async () => {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const started: string[] = [];
      let running = 0;
      let most = 0;
      const run = async (x: string) => {
        started.push(x);
        most = Math.max(most, ++running);
        if (x === 'a') open(); // the build ends while the first cell runs
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return x.toUpperCase();
      };
      const out = await runRanked([{ item: 'a' }, { item: 'b', gate }, { item: 'c' }, { item: 'd' }], 1, run);
      assert.deepEqual(out, ['A', 'B', 'C', 'D'], 'results in the items\' order');
      assert.deepEqual(started, ['a', 'b', 'c', 'd']);
      assert.equal(most, 1);
      // a gate still closed: the ready ones go; a failed gate lets its item run (it says why)
      const never = Promise.reject(new Error('build failed'));
      const order: string[] = [];
      await runRanked([{ item: 'x', gate: never }, { item: 'y' }, { item: 'z' }], 2, async (i) => void order.push(i));
      assert.deepEqual(order.sort(), ['x', 'y', 'z']);
      assert.deepEqual(await runRanked([], 2, async () => 1), []);
    });

    it('the background slot: one build after the other, the next waiting cell tried when one ends before the build', async () => {
      const tried: string[] = [];
      const log: string[] = [];
      const done = backgroundBuilds(
        [{ name: 'sysdig', cells: ['c1', 'c2', 'c3'] }, { name: 'falco', cells: ['f1'] }],
        async (c) => {
          tried.push(c);
          if (c === 'f1') assert.ok(log.includes('end sysdig'), 'falco starts after sysdig ends');
          return c !== 'c1'; // c1's driver did not build: no consumer build through it
        },
        undefined,
        { start: (n) => log.push(`start ${n}`), end: (n) => log.push(`end ${n}`) },
      );
      await Promise.all(done.values());
      assert.deepEqual(tried, ['c1', 'c2', 'f1']);
      assert.deepEqual(log, ['start sysdig', 'end sysdig', 'start falco', 'end falco']);
      // a prebuild that throws ends that build (its cell will say why), the next starts
      const after = backgroundBuilds([{ name: 'x', cells: ['x1', 'x2'] }, { name: 'y', cells: ['y1'] }], async (c) => (c === 'x1' ? Promise.reject(new Error('boom')) : true));
      await Promise.all(after.values());
    });
  });

  describe('the ETA', () => {
    it('past costs per build kind from produced.log: the seconds it logs, else the entry from its birth to .done', () => {
      const root = tmp('early-eta');
      const entry = (rel: string, inputs: unknown) => {
        mkdirSync(path.join(root, rel), { recursive: true });
        writeFileSync(path.join(root, rel, '.inputs.json'), JSON.stringify(inputs));
        writeFileSync(path.join(root, rel, '.done'), 'x');
      };
      entry('consumers/f1', { falco: 'a', libs: 'b', driver: 'c' });
      entry('consumers/f2', { falco: 'a2', libs: 'b', driver: 'c' });
      entry('consumers/s1', { sysdig: 'a', script: 'x' });
      entry('consumers/o1', { dsc: 'x.dsc' });
      entry('builds/k1', { driver: 'kmod' });
      entry('builds/p1', { pdig: 'git:x' });
      // an older line without seconds: its entry's directory was made 300 s before its .done
      const done = new Date(Date.now() + 300_000);
      utimesSync(path.join(root, 'builds/p1/.done'), done, done);
      writeFileSync(
        path.join(root, 'produced.log'),
        [
          'consumers/f1 1 2026-12-01T10:00:00.000Z 2300s',
          'consumers/f2 1 2026-12-01T11:00:00.000Z 2500s',
          'consumers/s1 2 2026-12-01T10:00:00.000Z 905s',
          'consumers/o1 2 2026-12-01T10:00:00.000Z 547s',
          'builds/k1 3 2026-12-01T10:00:00.000Z 60s',
          'builds/p1 3 2026-12-01T10:00:00.000Z',
          'builds/gone 3 2026-12-01T10:00:00.000Z 99s', // pruned since: left out
          'apt/sid-amd64/debs/x.deb 3 2026-12-01T10:00:00.000Z',
          '',
        ].join('\n'),
      );
      const past = pastBuildCosts(root);
      assert.deepEqual(past.falco, [2300, 2500]);
      assert.deepEqual(past['sysdig-git'], [905]);
      assert.deepEqual(past['scap-open'], [547]);
      assert.deepEqual(past.kmod, [60]);
      assert.ok(Math.abs(past.pdig![0]! - 300) <= 2, `pdig from the entry's times: ${past.pdig}`);
      assert.deepEqual(estimateBuild('falco:x', 'falco', past), { name: 'falco:x', kind: 'falco', seconds: 2500, estimated: false });
      // a kind never built: the stated default, said estimated
      assert.deepEqual(estimateBuild('sysdig-git:y', 'scap-open-git', {}), { name: 'sysdig-git:y', kind: 'scap-open-git', seconds: DEFAULT_BUILD_SECONDS['scap-open-git'], estimated: true });
      assert.deepEqual(pastBuildCosts(tmp('early-empty')), {});
    });

    it('counts the builds to come: one after the other, then their cells; the cells\' own when they end later', () => {
      const builds = [
        { name: 'falco:f', kind: 'falco' as const, seconds: 2000, estimated: false },
        { name: 'pdig:p', kind: 'pdig' as const, seconds: 400, estimated: true },
      ];
      // 1000 s of cells left over 2 slots, 200 of them waiting for the builds
      const e = runEta({ cellsLeft: 1000, cellsDone: 0, elapsed: 0, jobs: 2, builds, gatedLeft: 200 });
      assert.deepEqual(e, { seconds: 2000 + 400 + 100, buildsLeft: 2, estimated: true });
      // the running build has run 500 s
      assert.equal(runEta({ cellsLeft: 1000, cellsDone: 0, elapsed: 0, jobs: 2, builds, gatedLeft: 200, runningFor: 500 }).seconds, 2000);
      // the cells end later than the builds: theirs (scaled by how fast the done ones went)
      assert.equal(runEta({ cellsLeft: 9000, cellsDone: 1000, elapsed: 600, jobs: 2, builds: builds.slice(1, 2), gatedLeft: 0 }).seconds, 5400);
      assert.deepEqual(runEta({ cellsLeft: 0, cellsDone: 10, elapsed: 5, jobs: 2, builds: [], gatedLeft: 0 }), { seconds: 0, buildsLeft: 0, estimated: false });
    });

    it('the live summary says it, and the builds still to come, "estimated" where a default stands', () => {
      const p: Progress = { total: 10, counts: { pass: 0, fail: 0, skip: 0, error: 0, flaky: 0 }, running: new Map(), startedAt: 0, expectedDone: 0, expectedLeft: 300, jobs: 2, gatedLeft: 100, builds: [{ name: 'falco:f', kind: 'falco', seconds: 3600, estimated: true }], buildSince: 0 };
      assert.deepEqual(progressEta(p, 600_000), { seconds: 3000 + 50, buildsLeft: 1, estimated: true });
      assert.match(summaryBlock(p, 600_000), /ETA 50m50s \(1 build to come, estimated\)/);
      // no builds: the cells' ETA as before (none before a cell is done)
      const q: Progress = { ...p, builds: [], expectedDone: 100, expectedLeft: 100 };
      assert.deepEqual(progressEta(q, 60_000), { seconds: 60, buildsLeft: 0, estimated: false });
      assert.equal(progressEta({ ...q, expectedDone: 0 }, 60_000), undefined);
      assert.doesNotMatch(summaryBlock(q, 60_000), /build/);
    });
  });
});
