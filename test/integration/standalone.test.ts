// A project that stands alone: the repository's tracked files copied to a
// directory with no ../shared beside it (as a user's clone would be) build and
// pass the unit suite; the product itself never names ../shared.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

describe('a copy of the project without ../shared', function () {
  this.timeout(10 * 60_000); // a build and the whole unit suite (its matrix fuzzing runs the CLI many times)
  let copy = '';
  let files: string[] = [];

  before(async function () {
    const ls = await execa('git', ['ls-files', '-z'], { reject: false });
    if (ls.exitCode !== 0) return this.skip(); // pending: not a git checkout, no list of tracked files to copy
    files = ls.stdout.split('\0').filter((f) => f && existsSync(f));
    const root = mkdtempSync(path.join(tmpdir(), 'kmatrix-clone-'));
    copy = path.join(root, 'kmatrix');
    for (const f of files) {
      mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      cpSync(f, path.join(copy, f));
    }
    // what `npm ci` would install, without downloading it again
    symlinkSync(path.resolve('node_modules'), path.join(copy, 'node_modules'));
  });

  after(() => {
    if (copy) rmSync(path.dirname(copy), { recursive: true, force: true });
  });

  it('has no ../shared beside it', () => {
    assert.equal(existsSync(path.join(copy, '..', 'shared')), false);
  });

  it('the product (harness/, bin/, scripts/setup.sh, matrix.yaml) never names ../shared', () => {
    const product = files.filter((f) => /^(harness|bin)\//.test(f) || f === 'scripts/setup.sh' || f === 'matrix.yaml' || f === 'recommended-drivers.yaml');
    for (const f of product) assert.doesNotMatch(readFileSync(f, 'utf8'), /\.\.\/shared|\/work\/shared/, f);
  });

  it('builds and passes the unit suite there', async () => {
    const build = await execa('npm', ['run', '--silent', 'build'], { cwd: copy, reject: false, all: true });
    assert.equal(build.exitCode, 0, build.all);
    const unit = await execa('node', ['scripts/test.mjs', 'unit'], { cwd: copy, reject: false, all: true, env: { CI: '1' } });
    const summary = /(\d+) passed, (\d+) failed, (\d+) skipped\s*$/.exec(unit.all ?? '');
    assert.ok(summary, unit.all?.slice(-2000));
    assert.equal(unit.exitCode, 0, unit.all?.slice(-3000));
    assert.equal(summary![2], '0');
    assert.ok(Number(summary![1]) > 50, `${summary![1]} unit tests passed`);
  });
});
