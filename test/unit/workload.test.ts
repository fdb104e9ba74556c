import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hostDebianArch } from '../../harness/machines.js';
import { parseLoopOutput, slowdown, guestSource, userspaceBuilderPackages } from '../../harness/workload.js';

describe('workload: the timed syscall loop', () => {
  it('its C sources ship with the project', () => assert.ok(existsSync(guestSource('syscall-loop')) && existsSync(guestSource('battery'))));

  it('reads the elapsed ns the loop prints, and nothing else', () => {
    assert.equal(parseLoopOutput('341934806\n'), 341934806);
    assert.equal(parseLoopOutput('/tmp/x: No such file or directory\n'), undefined);
    assert.equal(parseLoopOutput(''), undefined);
  });

  it('a slowdown needs both runs, of the same length', () => {
    assert.equal(slowdown({ count: 10, ns: 100 }, { count: 10, ns: 2550 }), 25.5);
    assert.equal(slowdown({ count: 10, ns: 100 }, { count: 20, ns: 2550 }), undefined);
    assert.equal(slowdown(undefined, { count: 10, ns: 1 }), undefined);
  });

  it('builds for a foreign arch with the cross gcc and libc, one root for every arch', () => {
    assert.ok(userspaceBuilderPackages('arm64').includes('gcc-aarch64-linux-gnu'));
    assert.ok(userspaceBuilderPackages('arm64').includes('libc6-dev-arm64-cross'));
    if (hostDebianArch() === 'amd64') {
      assert.deepEqual(userspaceBuilderPackages('amd64'), userspaceBuilderPackages('armhf'));
      assert.ok(userspaceBuilderPackages('amd64').includes('gcc-arm-linux-gnueabihf'));
    }
  });
});
