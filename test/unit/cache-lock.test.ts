// The cache shared by several kmatrix processes: one entry produced once while
// the others wait, a killed producer's lock taken over, prune leaving alone
// what live processes hold or use. Real Node processes on one cache directory.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cached, cacheStats, hashOf, setCacheDir, usedPaths } from '../../harness/cache/cache.js';
import { pruneCache, prunePlan } from '../../harness/cache/usage.js';
import { tempDir } from '../tmp.js';

const CACHE_JS = new URL('../../harness/cache/cache.js', import.meta.url).href;

/** A child process producing `things/hash({key})` with cached(), its production lasting `ms`; prints "producing" and "dir <path>". */
const PRODUCER = `
import { writeFileSync } from 'node:fs';
const { cached } = await import(process.env.CACHE_JS);
const dir = await cached('things', { key: process.env.KEY }, async (tmp) => {
  console.log('producing ' + tmp);
  writeFileSync(tmp + '/who', String(process.pid));
  await new Promise((r) => setTimeout(r, Number(process.env.MS)));
});
console.log('dir ' + dir);
`;

/** A child process that holds the lock of `things/bb` and uses `things/cc`, until killed. */
const HOLDER = `
const { noteUse, withLock, cacheDir } = await import(process.env.CACHE_JS);
noteUse(cacheDir() + '/things/cc');
withLock('things/bb', () => new Promise(() => { console.log('holding'); setInterval(() => {}, 1000); }));
`;

interface Child {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

function node(script: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CACHE_JS, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out: () => out, exited };
}

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

const produced = (root: string) => (existsSync(path.join(root, 'produced.log')) ? readFileSync(path.join(root, 'produced.log'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]) : []);

describe('cache shared by processes', () => {
  afterEach(() => children.splice(0).forEach((c) => c.kill('SIGKILL')));

  it('a finished entry on disk that `reuse` refuses is produced again, in place; one it accepts is kept', async () => {
    const root = tempDir('kmx-reuse-');
    setCacheDir(root);
    try {
      // entries left by an earlier process: one to keep, one to refuse
      const old = (key: string) => {
        const d = path.join(root, 'things', hashOf({ key }));
        mkdirSync(d, { recursive: true });
        writeFileSync(path.join(d, 'n'), 'old');
        writeFileSync(path.join(d, '.done'), '');
        return d;
      };
      const [keep, redo] = [old('keep'), old('redo')];
      let n = 0;
      const make = (tmp: string) => { n += 1; writeFileSync(path.join(tmp, 'n'), 'new'); return Promise.resolve(); };
      const isNew = (d: string) => readFileSync(path.join(d, 'n'), 'utf8') === 'new';
      assert.equal(await cached('things', { key: 'keep' }, make, () => true), keep);
      assert.equal(n, 0, 'accepted: not produced again');
      assert.equal(await cached('things', { key: 'redo' }, make, isNew), redo);
      assert.equal(n, 1, 'refused: produced again');
      assert.ok(isNew(redo) && !isNew(keep));
    } finally {
      setCacheDir(undefined);
    }
  });

  it('two processes wanting one entry: one produces it, the other waits and gets the same directory', async function () {
    this.timeout(30_000);
    const root = tempDir('kmatrix-lock-');
    const env = { KMATRIX_CACHE_DIR: root, KEY: 'k1', MS: '1500' };
    const [a, b] = [node(PRODUCER, env), node(PRODUCER, env)];
    assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0], a.out() + b.out());
    const dir = path.join(root, 'things', hashOf({ key: 'k1' }));
    assert.deepEqual([a, b].map((c) => /^dir (.*)$/m.exec(c.out())?.[1]), [dir, dir]);
    assert.equal([a, b].filter((c) => c.out().includes('producing')).length, 1, 'produced once');
    assert.deepEqual(produced(root), [path.join('things', hashOf({ key: 'k1' }))]);
    assert.ok(existsSync(path.join(dir, '.done')) && existsSync(path.join(dir, 'who')));
    assert.deepEqual(readdirSync(path.join(root, 'things')), [hashOf({ key: 'k1' })], 'no .tmp left');

    // this process finds it made: no production, and it counts as used here
    setCacheDir(root);
    try {
      const before = cacheStats.produced.things ?? 0;
      assert.equal(await cached('things', { key: 'k1' }, async () => assert.fail('produced again')), dir);
      assert.equal(cacheStats.produced.things ?? 0, before);
      assert.ok(usedPaths.has(path.join('things', hashOf({ key: 'k1' }))));
    } finally {
      setCacheDir(undefined);
    }
  });

  it('a producer killed mid-production: its lock goes stale and another process takes over and produces', async function () {
    this.timeout(40_000);
    const root = tempDir('kmatrix-lock-');
    const env = { KMATRIX_CACHE_DIR: root, KEY: 'k2', KMATRIX_LOCK_STALE_MS: '3000' };
    const a = node(PRODUCER, { ...env, MS: '600000' });
    await until('the first producer to start', () => a.out().includes('producing'));
    a.proc.kill('SIGKILL');
    await a.exited;
    const started = Date.now();
    const b = node(PRODUCER, { ...env, MS: '100' });
    assert.equal(await b.exited, 0, b.out());
    assert.ok(Date.now() - started < 20_000, `taken over in ${Date.now() - started} ms`);
    const dir = path.join(root, 'things', hashOf({ key: 'k2' }));
    assert.match(b.out(), /producing/);
    assert.equal(readFileSync(path.join(dir, 'who'), 'utf8'), String(b.proc.pid), 'made by the second process');
    assert.ok(existsSync(`${dir}.tmp-${a.proc.pid}`), "the killed producer's half-made entry is left");
    // …and prune removes it: its maker is gone and no one holds the entry's lock
    mkdirSync(path.join(root, 'usage'), { recursive: true });
    writeFileSync(path.join(root, 'usage', 'R1.json'), JSON.stringify([path.join('things', hashOf({ key: 'k2' }))]));
    const plan = prunePlan(5, root);
    assert.deepEqual(plan.remove, [path.join('things', `${hashOf({ key: 'k2' })}.tmp-${a.proc.pid}`)]);
    assert.deepEqual(await pruneCache(plan, root), []);
    assert.ok(!existsSync(`${dir}.tmp-${a.proc.pid}`) && existsSync(path.join(dir, '.done')));
  });

  it('prune leaves what another live process holds (lock) or uses (live list), and removes the rest', async function () {
    this.timeout(30_000);
    const root = tempDir('kmatrix-lock-');
    for (const e of ['things/aa', 'things/bb', 'things/cc', 'things/bb.tmp-999999999']) mkdirSync(path.join(root, e), { recursive: true });
    mkdirSync(path.join(root, 'usage'));
    writeFileSync(path.join(root, 'usage', 'R1.json'), '[]');
    const holder = node(HOLDER, { KMATRIX_CACHE_DIR: root });
    await until('the holder to take its lock', () => holder.out().includes('holding'));
    const plan = prunePlan(5, root);
    // cc: in the holder's live list; the .tmp: its pid is gone but the entry's lock is held
    assert.deepEqual(plan.remove.sort(), ['things/aa', 'things/bb']);
    assert.deepEqual(await pruneCache(plan, root), ['things/bb'], 'bb is locked by the holder: left');
    assert.deepEqual(readdirSync(path.join(root, 'things')).sort(), ['bb', 'bb.tmp-999999999', 'cc']);
  });
  it("a cache removed while this process uses it (a test's temporary cache): its live list is dropped without a word; a live list lost in a cache that still exists is said", async function () {
    this.timeout(30_000);
    const script = (removed: string) => `
import { rmSync } from 'node:fs';
const { noteUse, cacheDir } = await import(process.env.CACHE_JS);
noteUse(cacheDir() + '/things/dd');
rmSync(${removed}, { recursive: true, force: true });
await new Promise((r) => setTimeout(r, 1500)); // several refreshes of the live list's lock (every 100 ms)
`;
    const env = { KMATRIX_LOCK_STALE_MS: '600' };
    const gone = node(script('cacheDir()'), { ...env, KMATRIX_CACHE_DIR: tempDir('kmatrix-lock-') });
    assert.equal(await gone.exited, 0, gone.out());
    assert.equal(gone.out(), '');
    const lost = node(script("cacheDir() + '/locks'"), { ...env, KMATRIX_CACHE_DIR: tempDir('kmatrix-lock-') });
    assert.equal(await lost.exited, 0, lost.out());
    assert.match(lost.out(), /kmatrix: lost a cache lock \(ENOENT/);
  });
});
