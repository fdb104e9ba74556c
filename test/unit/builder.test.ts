// The builder's pieces for cross builds: the toolchain file CMake gets, and the
// `uname` that answers the target's machine to libs that read the BPF arch from it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { cmakeToolchain, crossRuntimePackagesOf, unameFor } from '../../harness/builder.js';

describe('builder: cross builds', () => {
  it("the toolchain file names the target's processor, Debian's cross gcc and its multiarch library dirs", () => {
    const t = cmakeToolchain('arm64');
    for (const line of ['set(CMAKE_SYSTEM_PROCESSOR aarch64)', 'set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)', 'set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)', 'set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)'])
      assert.ok(t.split('\n').includes(line), line);
    // clang (BPF objects) and bpftool (the skeleton) stay the host's
    assert.match(t, /CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER/);
  });

  it('the uname of a cross build says aarch64 to -m and passes everything else to the real one', () => {
    const file = path.join(tempDir('kmatrix-uname-'), 'uname');
    writeFileSync(file, unameFor('arm64'));
    chmodSync(file, 0o755);
    assert.equal(execFileSync(file, ['-m'], { encoding: 'utf8' }).trim(), 'aarch64');
    assert.equal(execFileSync(file, ['-r'], { encoding: 'utf8' }), execFileSync('uname', ['-r'], { encoding: 'utf8' }));
  });

  it("a cross-built binary's runtime packages come from its NEEDED entries, not ldd (which cannot run it)", () => {
    const sh = crossRuntimePackagesOf('$bin', 'arm64', '/work/runtime-packages');
    assert.match(sh, /^aarch64-linux-gnu-readelf -d \$bin \| sed/);
    assert.match(sh, /\/usr\/lib\/aarch64-linux-gnu/);
    assert.ok(!sh.includes('ldd'));
  });
});
