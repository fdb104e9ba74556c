import assert from 'node:assert/strict';
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { tempDir } from '../tmp.js';
import path from 'node:path';

const bin = path.resolve('bin/kmatrix.js');

async function kmatrix(args: string[]) {
  return execa('node', [bin, ...args], { reject: false, env: { CI: 'true' } });
}

function oneParagraph(stderr: string) {
  assert.match(stderr, /^kmatrix: /);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  assert.equal(stderr.trim().split('\n').length, 1, 'one paragraph');
}

describe('cli', () => {
  it('lists the default matrix cells, filtered by glob', async () => {
    const r = await kmatrix(['list', '--cell', '*/kmod@0.1.1dev/*']);
    assert.equal(r.exitCode, 0);
    assert.ok(r.stdout.split('\n').every((l) => l.includes('/kmod@0.1.1dev/')));
    assert.ok(r.stdout.includes('debian-6.12-amd64/kmod@0.1.1dev/host'));
  });

  it('an unknown cell id is a one-paragraph error with exit code 2', async () => {
    const r = await kmatrix(['run', '--cell', 'debian-9.9-amd64/kmod@0.23.2/host']);
    assert.equal(r.exitCode, 2);
    oneParagraph(r.stderr);
    assert.match(r.stderr, /No cell matches "debian-9\.9-amd64\/kmod@0\.23\.2\/host"/);
  });

  it('a broken matrix file is reported with file and line, no stack trace', async () => {
    const dir = tempDir('kmatrix-cli-');
    const file = path.join(dir, 'm.yaml');
    writeFileSync(file, 'kernels: {}\nsources: {}\nconsumers: {}\nmatrix:\n  - { kernels: [a], drivers: [kmod], sourcez: [b] }\n');
    const r = await kmatrix(['--matrix', file, 'list']);
    assert.equal(r.exitCode, 2);
    oneParagraph(r.stderr);
    assert.match(r.stderr, new RegExp(`${file}:5: `));
  });

  it('a bad expectations.yaml stops `run` before it starts: one paragraph naming the lines, exit code 2', async function () {
    this.timeout(60_000); // a CLI start: seconds on a busy machine
    const dir = tempDir('kmatrix-cli-');
    const file = path.join(dir, 'expectations.yaml');
    writeFileSync(file, 'expected:\n  - cell: "*/kmod@*/locked-down"\n    reason: sig_enforce\n    class: load:signature\n  - cell: "debian-6.1-amd64/kmod@0.23.2/*"\n    reason: overlaps\n    class: load:other\n  - cell: "debian-9.9-amd64/*/*"\n    reason: no such kernel\n    class: build:compiler\n');
    // (a cell matching nothing: were the expectations read later, the error would be that one)
    const r = await kmatrix(['run', '--expectations', file, '--cell', 'nothing/kmod@0/host']);
    assert.equal(r.exitCode, 2);
    oneParagraph(r.stderr);
    assert.match(r.stderr, new RegExp(`${file}:8 \\(expected\\.2\\): debian-9\\.9-amd64/\\*/\\* matches no cell of matrix\\.yaml`));
    assert.match(r.stderr, new RegExp(`${file}:2 \\(expected\\.0\\) \\(\\*/kmod@\\*/locked-down\\) and line 5 \\(expected\\.1: debian-6\\.1-amd64/kmod@0\\.23\\.2/\\*\\) overlap: both match debian-6\\.1-amd64/kmod@0\\.23\\.2/locked-down`));
    writeFileSync(file, 'expected:\n  - cell: "*/kmod@*/locked-down"\n    reason: sig_enforce\n');
    const noClass = await kmatrix(['run', '--expectations', file, '--cell', 'nothing/kmod@0/host']);
    assert.equal(noClass.exitCode, 2);
    oneParagraph(noClass.stderr);
    assert.match(noClass.stderr, /expectations\.yaml:2 \(expected\.0\): \*\/kmod@\*\/locked-down is expected to fail but names no "class"/);
  });

  it('report on a directory without results says what to do', async () => {
    const r = await kmatrix(['report', tempDir('kmatrix-empty-')]);
    assert.equal(r.exitCode, 2);
    oneParagraph(r.stderr);
    assert.match(r.stderr, /Run `kmatrix run` first/);
  });
});
