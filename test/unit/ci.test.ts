// Nightly CI building blocks: shard splitting, merge, expectations and exit
// codes, history diffing, the live UI's summary, the mochawesome data, the
// published site on disk, and the workflow file through GitHub's own parser.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { register } from 'node:module';
import { checkExpectations, exitCodeFor, loadExpectations, mismatchLines } from '../../harness/ci/expectations.js';
import { loadMatrix } from '../../harness/matrix.js';
import { mergeShards } from '../../harness/ci/merge.js';
import { addRun, diffRuns, historyEntry, streak, type History } from '../../harness/reports/history.js';
import { publish } from '../../harness/reports/index.js';
import { mochawesomeData } from '../../harness/reports/mochawesome.js';
import type { ResultsFile } from '../../harness/results.js';
import { expectedCost, parseShard, shardCells, splitCells } from '../../harness/ci/shard.js';
import type { CellResult, RunInfo, Status } from '../../harness/types.js';
import { tempDir } from '../tmp.js';
import { etaSeconds, summaryBlock, type Progress } from '../../harness/ui.js';

function result(id: string, status: Status, extra: Partial<CellResult> = {}): CellResult {
  const [kernel = 'k', drv = 'kmod@1'] = id.split('/');
  const [driver, source] = drv.split('@') as [CellResult['driver']['id'], string];
  return {
    id, kernel: { id: kernel, arch: 'amd64', machine: 'q35', version: '6.1.1' }, driver: { id: driver, source }, profile: 'host', status,
    ...(status === 'fail' ? { phase: 'build' as const, firstError: `error: ${id}` } : {}),
    durations: { fetch: 1, build: 2 }, logs: {}, attempts: 1, ...extra,
  };
}
const run = (id: string, extra: Partial<RunInfo> = {}): RunInfo => ({
  id, startedAt: `2026-11-0${id.slice(-1)}T01:00:00Z`, host: 'h', accel: 'tcg', kmatrixVersion: '0', matrix: { path: 'm', hash: 'x' }, mirror: 'http://m', expiredSuitesAccepted: [], ...extra,
});

describe('nightly CI', () => {
  describe('shards', () => {
    const cells = Array.from({ length: 23 }, (_, i) => ({ id: `k${i % 5}/${['kmod', 'ebpf', 'modern-ebpf'][i % 3]}@0.23.2/host` + (i >= 15 ? `-${i}` : '') }));

    it('every cell is in exactly one shard, whatever N', () => {
      const cost = expectedCost();
      for (const n of [1, 2, 3, 4, 7, 30]) {
        const parts = splitCells(cells, n, cost);
        assert.equal(parts.length, n);
        const all = parts.flat().map((c) => c.id).sort();
        assert.deepEqual(all, cells.map((c) => c.id).sort(), `N=${n}`);
      }
    });

    it('is deterministic: same split from the same inputs in another order', () => {
      const cost = expectedCost([result(cells[0]!.id, 'pass', { durations: { build: 300 } })]);
      const a = splitCells(cells, 4, cost).map((p) => p.map((c) => c.id).sort());
      const b = splitCells([...cells].reverse(), 4, cost).map((p) => p.map((c) => c.id).sort());
      assert.deepEqual(a, b);
      assert.deepEqual(shardCells(cells, { index: 2, total: 4 }, cost), shardCells(cells, { index: 2, total: 4 }, cost));
    });

    it('is balanced by the previous run\'s durations', () => {
      const previous = cells.map((c, i) => result(c.id, 'pass', { durations: { build: i === 0 ? 200 : 10 + (i % 4) } }));
      const cost = expectedCost(previous);
      const loads = splitCells(cells, 3, cost).map((p) => p.reduce((a, c) => a + cost(c.id), 0));
      // the 200 s cell alone on one shard; the rest spread within one cell's cost
      assert.ok(loads.some((l) => l === 200), `${loads}`);
      const rest = loads.filter((l) => l !== 200);
      assert.ok(Math.max(...rest) - Math.min(...rest) <= 14, `${loads}`);
      assert.equal(cost('never-seen/ebpf@1/host'), 35, 'a cell never seen: the driver guess');
    });

    it('--shard must be i/N with 1 ≤ i ≤ N', () => {
      assert.deepEqual(parseShard('2/4'), { index: 2, total: 4 });
      for (const bad of ['0/4', '5/4', '1', 'a/b', '1/0']) assert.throws(() => parseShard(bad), /expected i\/N/);
    });
  });

  describe('merge', () => {
    const shard = (index: number, ids: string[], statuses: Status[] = ids.map(() => 'pass')): { source: string; file: ResultsFile } => ({
      source: `shard-${index}`,
      file: { run: run('r1', { shard: { index, total: 2, cells: ids }, host: `h${index}` }), cells: ids.map((id, i) => result(id, statuses[i]!)) },
    });

    it('joins every cell of every shard once', () => {
      const m = mergeShards([shard(2, ['b/kmod@1/host']), shard(1, ['a/kmod@1/host', 'c/ebpf@1/host'], ['pass', 'fail'])]);
      assert.deepEqual(m.cells.map((c) => c.id), ['a/kmod@1/host', 'b/kmod@1/host', 'c/ebpf@1/host']);
      assert.equal(m.run.shard, undefined);
      assert.equal(m.run.host, 'h2,h1');
    });

    it('refuses a missing shard, a lost cell, a duplicate and a conflict, naming them', () => {
      assert.throws(() => mergeShards([shard(1, ['a/kmod@1/host'])]), /shard 2\/2 is missing/);
      const lost = shard(2, ['b/kmod@1/host', 'x/kmod@1/host']);
      lost.file.cells.pop();
      assert.throws(() => mergeShards([shard(1, ['a/kmod@1/host']), lost]), /x\/kmod@1\/host \(given to shard-2\) has no result/);
      assert.throws(() => mergeShards([shard(1, ['a/kmod@1/host']), shard(2, ['a/kmod@1/host'])]), /a\/kmod@1\/host has a result in both shard-1 and shard-2/);
      assert.throws(() => mergeShards([shard(1, ['a/kmod@1/host']), shard(2, ['a/kmod@1/host'], ['fail'])]), /conflicting results for a\/kmod@1\/host: pass in shard-1, fail at build in shard-2/);
      assert.throws(() => mergeShards([shard(1, ['a/kmod@1/host']), shard(1, ['b/kmod@1/host'])]), /shard 1\/2 given twice/);
      // split differently (each job with another --previous): a cell of the selection given to no shard
      const of = { cells: 3, hash: 'h' };
      const [s1, s2] = [shard(1, ['a/kmod@1/host']), shard(2, ['b/kmod@1/host'])];
      for (const s of [s1, s2]) s.file.run.shard!.of = of;
      assert.throws(() => mergeShards([s1, s2]), /1 cell\(s\) of the selection have no result: the shards were split differently/);
      s2.file.run.shard!.of = { cells: 3, hash: 'other' };
      assert.throws(() => mergeShards([s1, s2]), /cut from different cell selections/);
    });
  });

  describe('expectations', () => {
    const dir = tempDir('kmatrix-exp-');
    const file = path.join(dir, 'expectations.yaml');
    // the matrix's cells the expectations are checked against
    const IDS = ['k6.12/kmod@0.1.1dev/host', 'k6.12/kmod@0.1.1dev/locked-down', 'k6.1/kmod@0.23.2/host', 'k6.1/kmod@0.23.2/locked-down', 'k5.10/kmod@0.23.2/host', 'k6.1/ebpf@0.1.1dev/host', 'k6.1/pdig@1/host'];
    writeFileSync(
      file,
      'expected:\n  - cell: "k6.12/kmod@0.1.1dev/*"\n    reason: fd_is_open undeclared\n    class: build:compiler\n  - cell: k6.1/ebpf@0.1.1dev/host\n    reason: mmap fails\n    class: load:mmap\n    until: 2026-01-31\n',
    );
    const exp = loadExpectations(file, IDS);
    const today = new Date('2026-11-28T00:00:00Z');
    const flaky = (id: string) => result(id, 'flaky', { phase: 'capture', reason: 'failed at capture (killed), then passed: marker seen', runs: [{ status: 'fail', phase: 'capture', reason: 'killed' }, { status: 'pass' }] });
    const rejects = (text: string, message: RegExp) => {
      writeFileSync(file, text);
      assert.throws(() => loadExpectations(file, IDS, 'm.yaml'), (e: Error) => e.name === 'UserError' && message.test(e.message) && !e.message.includes('\n'), 'a one-paragraph UserError naming the lines');
    };

    it('exit code 0 when every cell matches (expected failures, passes, skips)', () => {
      const cells = [result('k6.12/kmod@0.1.1dev/host', 'fail'), result('k6.1/kmod@0.23.2/host', 'pass'), result('k6.1/pdig@1/host', 'skip')];
      const ms = checkExpectations(cells, exp, [], today);
      assert.deepEqual(ms, []);
      assert.equal(exitCodeFor(ms, cells), 0);
    });

    it('non-zero on a regression, an unexpected failure, an unexpected pass and an expired expectation, naming the cells', () => {
      const cells = [
        result('k6.1/kmod@0.23.2/host', 'fail'),
        result('k5.10/kmod@0.23.2/host', 'fail'),
        result('k6.12/kmod@0.1.1dev/host', 'pass'),
        result('k6.1/ebpf@0.1.1dev/host', 'fail'),
      ];
      const ms = checkExpectations(cells, exp, [result('k6.1/kmod@0.23.2/host', 'pass')], today);
      assert.deepEqual(
        ms.map((m) => [m.kind, m.cell]),
        [
          ['regression', 'k6.1/kmod@0.23.2/host'],
          ['unexpected-failure', 'k5.10/kmod@0.23.2/host'],
          ['unexpected-pass', 'k6.12/kmod@0.1.1dev/host'],
          ['expired', 'k6.1/ebpf@0.1.1dev/host'],
        ],
      );
      assert.match(ms[3]!.why, /expired on 2026-01-31 \(expectations.yaml line 5\)/);
      assert.equal(exitCodeFor(ms, cells), 1);
      assert.equal(exitCodeFor([], [result('a/kmod@1/host', 'error')]), 3, 'infrastructure errors only: 3');
    });

    it('a cell that passed in the previous run and is flaky now is a flaky regression: exit 1, named', () => {
      const cells = [flaky('k6.1/kmod@0.23.2/host'), flaky('k5.10/kmod@0.23.2/host')];
      const previous = [result('k6.1/kmod@0.23.2/host', 'pass'), result('k5.10/kmod@0.23.2/host', 'fail')];
      const ms = checkExpectations(cells, exp, previous, today);
      assert.deepEqual(ms.map((m) => [m.kind, m.cell]), [['flaky-regression', 'k6.1/kmod@0.23.2/host']], 'flaky after a failure (or with no previous run) is no regression');
      assert.match(ms[0]!.why, /^passed in the previous run, flaky now: failed at capture \(killed\), then passed/);
      assert.match(mismatchLines(ms)[0]!, /^FLAKY REGRESSION: k6\.1\/kmod@0\.23\.2\/host — passed in the previous run, flaky now/);
      assert.equal(exitCodeFor(ms, cells), 1);
      assert.deepEqual(checkExpectations(cells, exp, [], today), [], 'no previous run: no regression');
      // known to be flaky: listed, no mismatch
      const known = [{ cell: 'k6.1/kmod@0.23.2/host', status: 'flaky' as const, reason: 'the consumer dies now and then' }];
      assert.deepEqual(checkExpectations([cells[0]!], known, previous, today), []);
    });

    it('a cell expected to fail that is flaky (it passed once) is an unexpected pass', () => {
      const ms = checkExpectations([flaky('k6.12/kmod@0.1.1dev/host')], exp, [], today);
      assert.deepEqual(ms.map((m) => m.kind), ['unexpected-pass']);
      assert.match(ms[0]!.why, /expected to fail \(fd_is_open undeclared\) but was flaky \(failed at capture/);
    });

    it('a bad entry is a one-paragraph error with file and line', () => {
      rejects('expected:\n  - cell: a\n    reason: r\n    class: build:compiler\n  - cell: b\n', /expectations.yaml:5 \(expected.1\): b needs a "reason"/);
    });

    it('a failure without its class is an error naming the line', () => {
      rejects(
        'expected:\n  - cell: k6.1/kmod@0.23.2/host\n    reason: r\n    class: load:signature\n  - cell: k5.10/kmod@0.23.2/host\n    reason: no class\n',
        /expectations.yaml:5 \(expected.1\): k5\.10\/kmod@0\.23\.2\/host is expected to fail but names no "class"/,
      );
      // a skip or a flaky entry needs none
      writeFileSync(file, 'expected:\n  - cell: k6.1/pdig@1/host\n    reason: r\n    status: skip\n  - cell: k5.10/kmod@0.23.2/host\n    reason: r\n    status: flaky\n');
      assert.equal(loadExpectations(file, IDS).length, 2);
    });

    it('an entry that matches no cell of the matrix is an error naming its line', () => {
      rejects(
        'expected:\n  - cell: k6.1/kmod@0.23.2/host\n    reason: r\n    class: load:signature\n  - cell: "k9.9/*/*"\n    reason: gone\n    class: build:compiler\n',
        /expectations.yaml:5 \(expected.1\): k9\.9\/\*\/\* matches no cell of m\.yaml/,
      );
    });

    it('two entries that some cell matches both are an error naming both lines and the cell', () => {
      // the 6.12 locked-down cell: a build failure (the build comes first) and the signature refusal
      rejects(
        'expected:\n  - cell: "*/kmod@*/locked-down"\n    reason: sig_enforce\n    class: load:signature\n  - cell: "k6.12/kmod@0.1.1dev/*"\n    reason: fd_is_open\n    class: build:compiler\n',
        /expectations.yaml:2 \(expected.0\) \(\*\/kmod@\*\/locked-down\) and line 5 \(expected.1: k6\.12\/kmod@0\.1\.1dev\/\*\) overlap: both match k6\.12\/kmod@0\.1\.1dev\/locked-down of m\.yaml/,
      );
      // made disjoint, both load
      writeFileSync(file, 'expected:\n  - cell: "*/kmod@0.23.2/locked-down"\n    reason: sig_enforce\n    class: load:signature\n  - cell: "k6.12/kmod@0.1.1dev/*"\n    reason: fd_is_open\n    class: build:compiler\n');
      assert.equal(loadExpectations(file, IDS).length, 2);
    });

    it('the committed expectations.yaml loads against the committed matrix.yaml: every failure classed, each entry matching cells, none overlapping', () => {
      const m = loadMatrix('matrix.yaml');
      const ids = m.cells.map((c) => c.id);
      const committed = loadExpectations('expectations.yaml', ids, 'matrix.yaml');
      assert.ok(committed.length > 0);
      for (const e of committed) if (e.status === 'fail') assert.ok(e.class, e.cell);
      const fake = ids.map((id) => result(id, 'fail'));
      const matched = fake.length - checkExpectations(fake, committed).filter((x) => x.kind !== 'expired').length;
      assert.ok(matched > 0, 'some default cells are expected to fail');
    });
  });

  describe('history', () => {
    const r1: ResultsFile = { run: run('r1'), cells: [result('a/kmod@1/host', 'pass'), result('b/kmod@1/host', 'fail'), result('c/kmod@1/host', 'pass'), result('d/kmod@1/host', 'skip')] };
    const r2: ResultsFile = { run: run('r2'), cells: [result('a/kmod@1/host', 'fail'), result('b/kmod@1/host', 'pass'), result('c/kmod@1/host', 'pass'), result('e/kmod@1/host', 'pass'), result('d/kmod@1/host', 'error')] };

    it('diffs two runs: regressions, fixes, other changes, new and removed cells', () => {
      const d = diffRuns(historyEntry(r1), { ...historyEntry(r2), cells: { ...historyEntry(r2).cells } });
      assert.deepEqual(d.regressions, ['a/kmod@1/host']);
      assert.deepEqual(d.fixes, ['b/kmod@1/host']);
      assert.deepEqual(d.changed, [{ cell: 'd/kmod@1/host', from: 'skip', to: 'error' }]);
      assert.deepEqual(d.added, ['e/kmod@1/host']);
      const gone = diffRuns(historyEntry(r2), historyEntry(r1));
      assert.deepEqual(gone.removed, ['e/kmod@1/host']);
    });

    it('keeps runs in order (republishing replaces) and counts streaks', () => {
      let h: History = { runs: [] };
      h = addRun(h, historyEntry(r2));
      h = addRun(h, historyEntry(r1));
      h = addRun(h, historyEntry(r2));
      assert.deepEqual(h.runs.map((r) => r.id), ['r1', 'r2']);
      assert.deepEqual(streak(h, 'c/kmod@1/host'), { status: 'pass', runs: 2 });
      assert.deepEqual(streak(h, 'a/kmod@1/host'), { status: 'fail', runs: 1 });
      assert.equal(streak(h, 'zzz'), undefined);
    });

    it('publish keeps every run and shows the regression in the index', async () => {
      const site = tempDir('kmatrix-site-');
      for (const r of [r1, r2]) {
        const dir = tempDir('kmatrix-run-');
        mkdirSync(path.join(dir, 'cells'));
        writeFileSync(path.join(dir, 'results.json'), JSON.stringify(r));
        await publish(dir, site);
      }
      const h = JSON.parse(readFileSync(path.join(site, 'history.json'), 'utf8')) as History;
      assert.deepEqual(h.runs.map((r) => r.id), ['r1', 'r2']);
      for (const id of ['r1', 'r2']) for (const f of ['index.html', 'junit.xml', 'mochawesome.html', 'results.json']) assert.ok(existsSync(path.join(site, 'runs', id, f)), `${id}/${f}`);
      const index = readFileSync(path.join(site, 'index.html'), 'utf8');
      assert.match(index, /Regressions: passed in the previous run, fail now \(1\)<\/b><ul><li><a href="#cell-a_kmod@1_host"><code>a\/kmod@1\/host<\/code><\/a> <span class="rel">fail for 1 run\(s\)/);
      assert.match(index, /<svg class="chart"/);
      assert.match(index, /href="runs\/r1\/index.html"/);
    });
  });

  it('the live summary: done/total, counts, running cells with phase, ETA from expected costs', () => {
    const p: Progress = {
      total: 10, counts: { pass: 3, fail: 1, skip: 0, error: 0, flaky: 0 }, running: new Map([['k/kmod@1/host', { phase: 'boot', since: 0 }]]),
      startedAt: 0, expectedDone: 100, expectedLeft: 300,
    };
    assert.equal(etaSeconds(p, 50_000), 150, 'done went twice as fast as expected');
    assert.equal(etaSeconds({ ...p, expectedDone: 0 }, 50_000), undefined);
    const s = summaryBlock(p, 50_000).split('\n');
    assert.equal(s[0], '4/10 done · 3 pass · 1 fail · 0 flaky · 0 skip · 0 error · 50s elapsed · ETA 2m30s');
    assert.equal(s[1], '  k/kmod@1/host  boot… 50s');
  });

  it('mochawesome data: a test per cell grouped by kernel; failures carry phase and first error; skips are pending with their reason', () => {
    const data = mochawesomeData({ run: run('r1'), cells: [result('k1/kmod@1/host', 'fail'), result('k1/ebpf@1/host', 'skip', { reason: 'no probe' }), result('k2/kmod@1/host', 'pass')] }) as {
      stats: { tests: number; failures: number; pending: number; passes: number };
      results: { suites: { title: string; tests: { title: string; state?: string; pending: boolean; err: { message?: string }; context: string }[] }[] }[];
    };
    assert.deepEqual([data.stats.tests, data.stats.passes, data.stats.failures, data.stats.pending], [3, 1, 1, 1]);
    const suites = data.results[0]!.suites;
    assert.deepEqual(suites.map((s) => s.title), ['k1', 'k2']);
    const [fail, skip] = suites[0]!.tests;
    assert.equal(fail!.state, 'failed');
    assert.equal(fail!.err.message, 'failed at build: error: k1/kmod@1/host');
    assert.equal(skip!.pending, true);
    assert.match(skip!.context, /skipped because.*no probe/);
  });

  it('the nightly workflow passes GitHub\'s workflow parser and has what the nightly needs', async () => {
    // The parser's ESM imports its JSON schema without `with { type: 'json' }`, which Node 20 refuses: add it.
    register(`data:text/javascript,${encodeURIComponent("export async function load(u,c,n){return n(u,u.endsWith('.json')?{...c,importAttributes:{type:'json'}}:c)}")}`);
    const { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } = await import('@actions/workflow-parser');
    const content = readFileSync('.github/workflows/nightly.yml', 'utf8');
    const parsed = parseWorkflow({ name: 'nightly.yml', content }, new NoOperationTraceWriter());
    assert.deepEqual(parsed.context.errors.getErrors().map((e) => e.message), []);
    const wf = await convertWorkflowTemplate(parsed.context, parsed.value!);
    assert.deepEqual(wf.errors ?? [], []);
    const jobs = Object.fromEntries(wf.jobs.map((j) => [j.id.value, j]));
    assert.deepEqual(Object.keys(jobs).sort(), ['deploy', 'merge', 'mutation', 'shard']);
    // mutation testing runs in a job of its own, with no VM: it needs nothing of the shards
    assert.match(content, /\n  mutation:\n(?:    .*\n|\n)*?        run: npm run mutation\n/);
    assert.doesNotMatch(/\n  mutation:\n((?:    .*\n|\n)*)/.exec(content)![1]!, /needs:|setup\.sh|kvm/);
    assert.match(content, /schedule:\s*\n\s*- cron:/);
    assert.match(content, /workflow_dispatch:/);
    assert.match(content, /actions\/cache@v4/);
    assert.match(content, /actions\/deploy-pages@/);
    assert.match(content, /\/dev\/kvm/);
    assert.match(content, /KMATRIX_MIRROR: \$\{\{ vars\.KMATRIX_MIRROR \}\}/);
    assert.doesNotMatch(content, /debian\.org|npmjs|ubuntu\.com|https?:\/\//, 'no registry host name');
    const shards = /shard: \[([\d, ]+)\]/.exec(content)![1]!.split(',').length;
    assert.match(content, new RegExp(`KMATRIX_SHARDS: "${shards}"`), 'the shard count matches the job matrix');
  });
});

describe('console tail', () => {
  it('the last lines, the guest logs decoded', async () => {
    const { consoleTail } = await import('../../harness/ui.js');
    const dir = tempDir('kmatrix-tail-');
    const b64 = Buffer.from("insmod: can't insert: Key was rejected by service\n").toString('base64');
    writeFileSync(path.join(dir, 'console.log'), ['# qemu …', 'KMATRIX v1 boot release=6.1', `KMATRIX v1 log insmod ${b64.length} ${b64}`, 'KMATRIX v1 insmod rc=1', ''].join('\n'));
    assert.deepEqual(consoleTail(path.join(dir, 'console.log'), 3), ['[guest insmod log]', "insmod: can't insert: Key was rejected by service", 'KMATRIX v1 insmod rc=1']);
  });
});
