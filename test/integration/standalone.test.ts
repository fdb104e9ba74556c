// A project that stands alone: the repository's tracked files copied to a
// directory with no ../shared beside it (as a user's clone would be) build and
// pass the unit suite — with a cache directory of its own, empty, and without
// .ci/run's git redirection to ../shared/git; the product itself never names
// ../shared.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Children } from '../processes.js';

// the files to copy: what git tracks (no list outside a git checkout: pending, saying so)
const ls = await execa('git', ['ls-files', '-z'], { reject: false });
const pending = ls.exitCode === 0 ? '' : ` (pending: not a git checkout, no list of tracked files to copy: ${ls.stderr.trim()})`;

/** This process's environment without git's redirection by environment (.ci/run's GIT_CONFIG_COUNT/KEY_n/VALUE_n), with `cache` as the cache directory. */
function standaloneEnv(cache: string): Record<string, string> {
  const env = Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+|PARAMETERS)$/.test(e[0]));
  return { ...Object.fromEntries(env), KMATRIX_CACHE_DIR: cache, CI: '1' };
}

(pending ? describe.skip : describe)(`a copy of the project without ../shared, its cache empty, without git redirection${pending}`, function () {
  // tsc (≈ 25 s here) and the whole unit suite (≈ 40 s; its matrix fuzzing runs the CLI many
  // times), measured with a load of 12 on the 2 cores; the unit suite needs nothing cached.
  // With the mutant-killing tests and a load of 30 (2026-12-02) the unit suite took 10 min.
  this.timeout(20 * 60_000);
  const children = new Children();
  let copy = '';
  let cache = '';
  let files: string[] = [];

  before(function () {
    files = ls.stdout.split('\0').filter((f) => f && existsSync(f));
    const root = mkdtempSync(path.join(tmpdir(), 'kmatrix-clone-'));
    copy = path.join(root, 'kmatrix');
    cache = path.join(root, 'cache'); // beside the copy, empty
    mkdirSync(cache);
    for (const f of files) {
      mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      cpSync(f, path.join(copy, f));
    }
    // what `npm ci` would install, without downloading it again
    symlinkSync(path.resolve('node_modules'), path.join(copy, 'node_modules'));
  });

  after(async () => {
    await children.endAll(); // a build or unit run a timeout left going, before its directory goes
    if (copy) rmSync(path.dirname(copy), { recursive: true, force: true });
  });

  it('has no ../shared beside it', () => {
    assert.equal(existsSync(path.join(copy, '..', 'shared')), false);
  });

  it('the product (harness/, bin/, scripts/setup.sh, matrix.yaml) never names ../shared', () => {
    const product = files.filter((f) => /^(harness|bin)\//.test(f) || f === 'scripts/setup.sh' || f === 'matrix.yaml' || f === 'recommended-drivers.yaml');
    for (const f of product) assert.doesNotMatch(readFileSync(f, 'utf8'), /\.\.\/shared|\/work\/shared/, f);
  });

  it('builds and passes the unit suite there, with an empty cache of its own and no git redirection', async () => {
    const env = standaloneEnv(cache);
    assert.deepEqual(Object.keys(env).filter((k) => k.startsWith('GIT_CONFIG')), [], 'no GIT_CONFIG_* passed on');
    assert.deepEqual(readdirSync(cache), [], 'the cache starts empty');
    const build = await children.start('npm', ['run', '--silent', 'build'], { cwd: copy, reject: false, all: true, env, extendEnv: false });
    assert.equal(build.exitCode, 0, build.all);
    const unit = await children.start('node', ['scripts/test.mjs', 'unit'], { cwd: copy, reject: false, all: true, env, extendEnv: false });
    const summary = /(\d+) passed, (\d+) failed, (\d+) skipped\s*$/.exec(unit.all ?? '');
    assert.ok(summary, unit.all?.slice(-2000));
    assert.equal(unit.exitCode, 0, unit.all?.slice(-3000));
    assert.equal(summary![2], '0');
    assert.ok(Number(summary![1]) > 50, `${summary![1]} unit tests passed`);
  });
});
