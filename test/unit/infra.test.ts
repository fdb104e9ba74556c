// Only the driver's own failures are driver failures: a tool that did not
// start, was killed, or ended without an exit code is infrastructure (`error`,
// retried, never cached) — fed here as the real shapes execa reports.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ranToExit } from '../../harness/builder.js';
import { cached, setCacheDir } from '../../harness/cache/cache.js';
import { BuildFailure, CellSkip, InfraError } from '../../harness/errors.js';
import { buildEnd } from '../../harness/phases/build.js';
import { assertTreeUnchanged, treeIdentity } from '../../harness/drivers/build.js';
import { tempDir } from '../tmp.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

const run = (cmd: string, args: string[], opts: { timeout?: number } = {}) => execa(cmd, args, { reject: false, all: true, ...opts });

describe('infrastructure failures are errors, not driver failures', () => {
  it('a tool that did not start (spawn failure) raises InfraError', async () => {
    const r = await run('kmatrix-no-such-tool', ['--version']);
    assert.throws(() => ranToExit(r, 'make'), (e: unknown) => e instanceof InfraError && /make did not start/.test(e.message));
  });

  it('a tool killed by a signal raises InfraError', async () => {
    const r = await run('sh', ['-c', 'kill -9 $$']);
    assert.equal(r.signal, 'SIGKILL');
    assert.throws(() => ranToExit(r, 'make'), (e: unknown) => e instanceof InfraError && /was killed \(SIGKILL\)/.test(e.message));
  });

  it('a tool ended by a timeout raises InfraError', async () => {
    const r = await run('sleep', ['5'], { timeout: 200 });
    assert.throws(() => ranToExit(r, 'make'), (e: unknown) => e instanceof InfraError && /timed out/.test(e.message));
  });

  it('a result without an exit code raises InfraError', () => {
    assert.throws(() => ranToExit({ all: 'exit undefined' }, 'make'), (e: unknown) => e instanceof InfraError && /without an exit code/.test(e.message));
  });

  it('a build whose kernel tree was removed or replaced under it raises InfraError (seen: a prune during a build, cached as the driver failing)', () => {
    const root = tempDir('kmx-tree-');
    const kernel = { root, headers: 'usr/src/linux-headers-4.9.229' };
    const make = (text: string) => { mkdirSync(path.join(root, kernel.headers), { recursive: true }); writeFileSync(path.join(root, kernel.headers, 'Makefile'), text); };
    make('VERSION = 4\n');
    const before = treeIdentity(kernel);
    assert.doesNotThrow(() => assertTreeUnchanged(before, kernel, 'kmod build'));
    rmSync(root, { recursive: true });
    assert.throws(() => assertTreeUnchanged(before, kernel, 'kmod build'), (e: unknown) => e instanceof InfraError && /disappeared during the build/.test(e.message));
    make('# pinned\nVERSION = 4\n'); // extracted again (inode numbers may be reused: the Makefile differs)
    assert.throws(() => assertTreeUnchanged(before, kernel, 'kmod build'), (e: unknown) => e instanceof InfraError && /was replaced during the build/.test(e.message));
    rmSync(root, { recursive: true });
  });

  it('a compiler that ran and failed is a result (its exit code), not an infrastructure error', async () => {
    const r = await run('sh', ['-c', 'echo "main.c:1:1: error: boom" >&2; exit 2']);
    assert.equal(ranToExit(r, 'make').exitCode, 2);
  });

  it('a compiler killed under make (the host out of memory) is infrastructure, though make exits with a code', () => {
    const all = 'g++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated.\nmake[2]: *** [x.o] Error 1';
    assert.throws(() => ranToExit({ exitCode: 2, all }, 'make'), (e: unknown) => e instanceof InfraError && /compiler killed/.test(e.message));
  });

  it('bubblewrap failing to set up its sandbox is infrastructure', () => {
    assert.throws(() => ranToExit({ exitCode: 1, all: 'bwrap: No permissions to creating new namespace' }, 'make'), InfraError);
  });

  it('the build phase makes every such shape an error, never a fail', () => {
    for (const driver of ['kmod', 'ebpf', 'modern-ebpf', 'pdig'] as const) {
      const e = buildEnd(new InfraError('make was killed (SIGKILL)'), driver);
      assert.equal(e.status, 'error', driver);
      assert.equal(e.phase, 'build');
      assert.match(e.reason, /infrastructure.*killed/);
      // any other fault of the machinery (apt, mmdebstrap) too
      assert.equal(buildEnd(new Error('mmdebstrap bookworm failed'), driver).status, 'error');
    }
  });

  it('a consumer that ran its compiler and failed: the driver failing for modern eBPF, infrastructure for the others', () => {
    const f = new BuildFailure('scap-open did not build', 'bpf/x.c:1: error: nope');
    const modern = buildEnd(f, 'modern-ebpf');
    assert.deepEqual([modern.status, modern.phase, modern.firstError], ['fail', 'build', 'bpf/x.c:1: error: nope']);
    assert.equal(buildEnd(f, 'kmod').status, 'error');
    assert.equal(buildEnd(new CellSkip('no arm64 consumer'), 'modern-ebpf').status, 'skip');
  });

  it('a build killed inside a cache production leaves no cache entry (it is produced again next time)', async () => {
    const dir = tempDir('kmatrix-infra-');
    setCacheDir(dir);
    try {
      let produced = 0;
      const produce = async () => {
        produced++;
        ranToExit(await run('sh', ['-c', 'kill -9 $$']), 'make');
      };
      await assert.rejects(cached('builds', { k: 1 }, produce), InfraError);
      assert.equal(existsSync(path.join(dir, 'builds')) ? readdirSync(path.join(dir, 'builds')).filter((n) => !n.endsWith('.lock')).length : 0, 0, 'nothing kept');
      await assert.rejects(cached('builds', { k: 1 }, produce), InfraError);
      assert.equal(produced, 2, 'tried again, not served from the cache');
    } finally {
      setCacheDir(undefined);
    }
  });
});
