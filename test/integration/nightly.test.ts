// The nightly workflow's glue (scripts/ci/nightly.mjs), run as the workflow
// runs it, on a few cheap real cells (skips and a cached build failure: no VM):
// two shard jobs, their uploads, the merge job — one merged run with every
// cell once, the expectations met, the site published with its history.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ResultsFile } from '../../harness/results.js';
import { Children } from '../processes.js';

// skips (no modern eBPF engine in bookworm's sysdig) and a cached build failure
const CELLS = 'debian-{5.10-amd64/modern-ebpf,6.12-amd64/kmod,6.12-amd64/modern-ebpf}@0.1.1dev/host';

describe('nightly glue: shards → merge → publish', function () {
  // Sized for a cold cache, not mocha's 20 s (a timed-out hook here left both shards running):
  // the 6.12 build failure needs trixie's builder root (mmdebstrap, 1–3 min), the 6.12 headers
  // and the 0.1.1dev source, and each shard job resolves its suites' package lists. Measured on
  // an empty cache, 2 busy cores: 2.5 min.
  this.timeout(15 * 60_000);
  const children = new Children();
  let work = '';
  let out = '';
  const env = (extra: Record<string, string> = {}) => ({ KMATRIX_RUN_ID: 'nightly-test-1', KMATRIX_SHARDS: '2', KMATRIX_CELL: CELLS, CI: '1', ...extra });

  before(async function () {
    // a workspace like the runner's checkout (the project's files, linked)
    work = mkdtempSync(path.join(tmpdir(), 'kmatrix-nightly-'));
    for (const f of ['bin', 'dist', 'images', 'node_modules', 'scripts', 'package.json', 'matrix.yaml', 'expectations.yaml', 'recommended-drivers.yaml'])
      symlinkSync(path.resolve(f), path.join(work, f));
    for (const i of [1, 2]) {
      const r = await children.start('node', ['scripts/ci/nightly.mjs', 'shard', String(i)], { cwd: work, env: env(), reject: false, all: true });
      assert.equal(r.exitCode, 0, r.all);
      // what actions/upload-artifact + download-artifact do
      cpSync(path.join(work, 'reports/shards/nightly-test-1'), path.join(work, `shards/shard-${i}`), { recursive: true });
      rmSync(path.join(work, 'reports'), { recursive: true }); // each shard job is a machine of its own
    }
    out = path.join(work, 'github-output');
    const m = await children.start('node', ['scripts/ci/nightly.mjs', 'merge'], { cwd: work, env: env({ GITHUB_OUTPUT: out }), reject: false, all: true });
    assert.equal(m.exitCode, 0, m.all);
  });

  after(async () => {
    // a hook that timed out left its shard or merge running: end it (and its harness, builds, VMs) before removing its work dir
    await children.endAll();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('splits the cells over the shards, each cell in exactly one', () => {
    const shards = [1, 2].map((i) => JSON.parse(readFileSync(path.join(work, `shards/shard-${i}/results.json`), 'utf8')) as ResultsFile);
    const ids = shards.flatMap((s) => s.cells.map((c) => c.id)).sort();
    assert.deepEqual(ids, ['debian-5.10-amd64/modern-ebpf@0.1.1dev/host', 'debian-6.12-amd64/kmod@0.1.1dev/host', 'debian-6.12-amd64/modern-ebpf@0.1.1dev/host']);
    assert.ok(shards.every((s) => s.cells.length > 0 && s.run.shard?.total === 2));
  });

  it('merges into one run whose expectations are met, and publishes it', () => {
    const merged = JSON.parse(readFileSync(path.join(work, 'reports/nightly-test-1/results.json'), 'utf8')) as ResultsFile;
    assert.equal(merged.cells.length, 3);
    assert.equal(merged.run.shard, undefined);
    const fail = merged.cells.find((c) => c.id === 'debian-6.12-amd64/kmod@0.1.1dev/host')!;
    assert.equal(fail.status, 'fail', 'the known 0.1.1dev build failure on 6.12');
    assert.match(fail.firstError ?? '', /fd_is_open/);
    assert.match(readFileSync(out, 'utf8'), /^published=true\ncode=0\n$/);
    for (const f of ['index.html', 'history.json', 'runs/nightly-test-1/index.html', 'runs/nightly-test-1/mochawesome.html', 'runs/nightly-test-1/junit.xml'])
      assert.ok(existsSync(path.join(work, 'site', f)), f);
    assert.ok(existsSync(path.join(work, 'previous/results.json')), 'kept for the next night\'s shard balance');
  });
});
