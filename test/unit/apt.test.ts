import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { debianMirror, dependencyNames, hostDebianMirror, parsePrintUris, parseStanza, sourceDsc } from '../../harness/apt.js';

function etc(files: Record<string, string>): string {
  const dir = tempDir('kmatrix-etc-');
  mkdirSync(path.join(dir, 'sources.list.d'));
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

describe('apt: mirror discovery and output parsing', () => {
  it('reads the Debian archive from deb822 sources, skipping security and third-party entries', () => {
    const dir = etc({
      'sources.list.d/debian.sources':
        'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n' +
        'Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
      'sources.list.d/a-vendor.list': 'deb https://vendor.example/apt stable main\n',
    });
    assert.equal(hostDebianMirror(dir), 'http://mirror.example/debian');
  });

  it('reads one-line sources.list, ignoring comments and deb-src', () => {
    const dir = etc({ 'sources.list': '# deb http://old.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64] http://one.example/debian bookworm main\n' });
    assert.equal(hostDebianMirror(dir), 'http://one.example/debian');
    assert.equal(hostDebianMirror(etc({ 'sources.list': 'deb https://vendor.example/apt stable main\n' })), undefined);
  });

  it('KMATRIX_MIRROR overrides matrix.yaml, which overrides the host', () => {
    const saved = process.env.KMATRIX_MIRROR;
    try {
      process.env.KMATRIX_MIRROR = 'http://env.example/debian/';
      assert.equal(debianMirror('http://matrix.example/debian'), 'http://env.example/debian');
      delete process.env.KMATRIX_MIRROR;
      assert.equal(debianMirror('http://matrix.example/debian'), 'http://matrix.example/debian');
    } finally {
      if (saved === undefined) delete process.env.KMATRIX_MIRROR;
      else process.env.KMATRIX_MIRROR = saved;
    }
  });

  it('parses --print-uris lines into names, versions (epoch decoded) and hashes', () => {
    const out = "'http://m/debian/pool/main/b/busybox/busybox-static_1%3a1.38.0-3+b1_amd64.deb' busybox-static_1%3a1.38.0-3+b1_amd64.deb 1048576 SHA256:abc123\n" +
      "'http://m/debian/pool/main/s/sysdig/sysdig_0.41.4+repack-4+b1_amd64.deb' sysdig_0.41.4+repack-4+b1_amd64.deb 448000 SHA256:def456\n";
    assert.deepEqual(parsePrintUris(out), [
      { name: 'busybox-static', version: '1:1.38.0-3+b1', file: 'busybox-static_1%3a1.38.0-3+b1_amd64.deb', sha256: 'abc123' },
      { name: 'sysdig', version: '0.41.4+repack-4+b1', file: 'sysdig_0.41.4+repack-4+b1_amd64.deb', sha256: 'def456' },
    ]);
  });

  it('parses a package stanza and its dependency names', () => {
    const s = parseStanza('Package: linux-headers-6.1.0-50-amd64\nVersion: 6.1.176-1\nDepends: linux-headers-6.1.0-50-common (= 6.1.176-1), linux-kbuild-6.1 (>= 6.1.176-1), linux-compiler-gcc-12-x86\nDescription: x\n more\n\nPackage: other\n');
    assert.equal(s.version, '6.1.176-1');
    assert.equal(s.description, 'x\nmore');
    assert.deepEqual(dependencyNames(s.depends!), ['linux-headers-6.1.0-50-common', 'linux-kbuild-6.1', 'linux-compiler-gcc-12-x86']);
    assert.deepEqual(dependencyNames('a | b, c:any (>= 1)'), ['a', 'c']);
  });

  it('finds the .dsc of a source download, fresh or already there', () => {
    assert.equal(sourceDsc('Get:1 http://m/debian trixie/main falcosecurity-libs 0.20.0-3 (dsc) [2778 B]\nGet:2 http://m/debian trixie/main falcosecurity-libs 0.20.0-3 (tar) [4545 kB]'), 'falcosecurity-libs_0.20.0-3.dsc');
    assert.equal(sourceDsc("Skipping already downloaded file 'falcosecurity-libs_0.20.0-3.dsc'\n"), 'falcosecurity-libs_0.20.0-3.dsc');
    assert.equal(sourceDsc('Get:1 http://m/debian sid/main foo 1:2.0-1 (dsc) [1 kB]'), 'foo_2.0-1.dsc');
    assert.equal(sourceDsc('E: Failed to fetch'), undefined);
  });
});
