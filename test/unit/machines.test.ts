import assert from 'node:assert/strict';
import { MACHINES, qemuCommand } from '../../harness/machines.js';

const base = { kernel: '/k/vmlinuz', initrd: '/k/initrd', append: ['x=1'] };
const value = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('machines', () => {
  it('q35: x86_64, serial console, no network, no reboot, no dtb', () => {
    const { file, args } = qemuCommand({ ...base, machine: MACHINES.q35!, accel: 'tcg' });
    assert.equal(file, 'qemu-system-x86_64');
    assert.equal(value(args, '-M'), 'q35');
    assert.equal(value(args, '-accel'), 'tcg');
    assert.equal(value(args, '-cpu'), 'max');
    assert.equal(value(args, '-nic'), 'none');
    assert.ok(args.includes('-no-reboot'));
    assert.ok(!args.includes('-dtb'));
    assert.match(value(args, '-append')!, /^console=ttyS0 .*panic=-1.* x=1$/);
  });

  it('raspi3b: device tree, PL011 console and early console, 1 GiB, board CPU', () => {
    const { file, args } = qemuCommand({ ...base, machine: MACHINES.raspi3b!, accel: 'tcg', dtb: '/k/bcm2837-rpi-3-b.dtb' });
    assert.equal(file, 'qemu-system-aarch64');
    assert.equal(value(args, '-M'), 'raspi3b');
    assert.equal(value(args, '-dtb'), '/k/bcm2837-rpi-3-b.dtb');
    assert.equal(value(args, '-m'), '1024');
    assert.ok(!args.includes('-cpu'), 'the board fixes its CPU');
    assert.match(value(args, '-append')!, /console=ttyAMA0 earlycon=pl011,0x3f201000/);
    assert.equal(MACHINES.raspi3b!.exitsOnPoweroff, false);
    assert.equal(MACHINES.raspi3b!.hasRtc, false);
  });

  it('an SD card is attached as a throwaway raw sd drive', () => {
    const { args } = qemuCommand({ ...base, machine: MACHINES.raspi3b!, accel: 'tcg', sd: '/c/sd.img' });
    assert.equal(value(args, '-drive'), 'if=sd,format=raw,file=/c/sd.img,snapshot=on');
  });

  it('every machine names its console, memory and whether QEMU exits on poweroff', () => {
    for (const m of Object.values(MACHINES)) {
      assert.match(m.console, /^tty(S|AMA)0$/, m.id);
      assert.ok(m.memoryMiB >= 512 && m.memoryMiB <= 1024, `${m.id}: the Pi boards have at most 1 GiB`);
      assert.equal(m.exitsOnPoweroff, !m.id.startsWith('raspi'), m.id);
      assert.equal(Boolean(m.dtb), m.id.startsWith('raspi'), `${m.id}: boards without firmware tables need a DTB`);
    }
  });

  it('kvm uses the host CPU', () => {
    const { args } = qemuCommand({ ...base, machine: MACHINES.q35!, accel: 'kvm' });
    assert.equal(value(args, '-cpu'), 'host');
    assert.equal(value(args, '-accel'), 'kvm');
  });
});
