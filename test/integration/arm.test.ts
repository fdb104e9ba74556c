// ARM machines on real (emulated) boards: cross-built drivers on QEMU virt, a Raspberry Pi 3, and a Pi booted from an SD card.
import assert from 'node:assert/strict';
import { describeCell, endRuns, qemuProcesses, runMatrix } from './helpers.js';

describe('integration: ARM and Raspberry Pi', function () {
  this.timeout(45 * 60_000);
  const PI3 = 'debian-6.1-arm64-raspi3b/kmod@0.23.2/host';
  const VIRT = 'debian-6.1-arm64-virt/kmod@0.23.2/host';
  const SD = 'debian-6.1-arm64-raspi3b-sd/kmod@0.23.2/host';
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    r = await runMatrix([PI3, VIRT, SD]);
  });

  after(endRuns);

  it(`${PI3}: the cross-built module captures the marker on the emulated Pi 3`, () => {
    const c = r.byId.get(PI3)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.equal(c.kernel.machine, 'raspi3b');
    assert.match(c.kernel.release!, /-arm64$/);
    assert.equal(c.attempts, 1, 'QEMU ended by the harness after the result, not by a timeout');
  });

  it(`${VIRT}: the same on QEMU virt`, () => {
    const c = r.byId.get(VIRT)!;
    assert.equal(c.status, 'pass', describeCell(c));
  });

  it(`${SD}: boots from a Pi SD card built from Debian packages, kernel and DTB read from its boot partition`, () => {
    const c = r.byId.get(SD)!;
    assert.equal(c.status, 'pass', describeCell(c));
    assert.deepEqual(c.kernel.sdcard, { partitions: ['mmcblk0', 'mmcblk0p1', 'mmcblk0p2'], rootMounted: true });
  });

  it('leaves no QEMU behind (the Pi boards do not exit on poweroff)', async () => {
    assert.deepEqual(await qemuProcesses(), []);
  });
});
