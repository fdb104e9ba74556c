// Booting what vendors ship: the kernel's own modules through the initramfs
// (Debian's 6.12 ships them as .ko.xz and, like the vendors', no modules.dep),
// and kernels that cannot boot ending as errors at boot whose class and
// message say why, with the console's last lines.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { Debian, debianMirror } from '../../harness/apt.js';
import { cellInitrd } from '../../harness/backends/qemu.js';
import { classify } from '../../harness/failures.js';
import { cellEnvFile, GuestReader, judge } from '../../harness/guest.js';
import { guestImage } from '../../harness/images/guest.js';
import { fetchKernel } from '../../harness/kernels/index.js';
import { MACHINES, startVm } from '../../harness/machines.js';
import { loadMatrix } from '../../harness/matrix.js';
import type { KernelTree } from '../../harness/types.js';
import { describeCell, endRuns, qemuProcesses, REPORTS, runMatrix } from './helpers.js';

const CELL = 'debian-6.12-amd64/kmod@0.20.0/host';

describe('vendor boot: the kernel’s own modules in the guest, and boots that fail', function () {
  this.timeout(40 * 60_000);
  const matrix = loadMatrix('matrix.yaml');
  const saved = process.env.KMATRIX_GUEST_MODULES;
  const debian = new Debian(debianMirror(matrix.mirror), matrix.suites);
  let kernel: KernelTree;
  before(async () => {
    kernel = await fetchKernel(matrix.kernels['debian-6.12-amd64']!, { debian, settings: matrix.kernelSettings ?? {} });
  });
  after(async () => {
    if (saved === undefined) delete process.env.KMATRIX_GUEST_MODULES;
    else process.env.KMATRIX_GUEST_MODULES = saved;
    await endRuns();
    assert.deepEqual(await qemuProcesses(), []);
  });

  it('KMATRIX_GUEST_MODULES=vxlan: its .ko.xz and its dependencies, decompressed, inserted in order before the cell runs; the cell passes', async () => {
    process.env.KMATRIX_GUEST_MODULES = 'vxlan';
    const t0 = Date.now();
    const out = await runMatrix([CELL], matrix, 1);
    const r = out.byId.get(CELL);
    console.log(`      ${CELL} with vxlan: ${describeCell(r)} (${Math.round((Date.now() - t0) / 1000)} s; ${JSON.stringify(r?.durations)})`);
    assert.equal(r?.status, 'pass', describeCell(r));
    assert.deepEqual(r.kernel.guestModules, ['udp_tunnel', 'ip6_udp_tunnel', 'vxlan']);
    const console_ = readFileSync(path.join(REPORTS, out.run.id, r.logs.console!), 'utf8');
    const reports = console_.split('\n').filter((l) => /KMATRIX v1 (module|boot) /.test(l)).map((l) => l.replace(/^.*KMATRIX v1 /, '').replace(/ release=.*/, '').trim());
    assert.deepEqual(reports, ['module name=udp_tunnel rc=0', 'module name=ip6_udp_tunnel rc=0', 'module name=vxlan rc=0', 'boot']);
    // the kernel ships it compressed: what was inserted is the host's decompression of a .ko.xz
    const image = kernel.packages.find((p) => p.name === `linux-image-${kernel.release}`)!;
    const listing = (await execa('bash', ['-c', 'dpkg-deb -c "$1" | grep -E "/vxlan\\.ko"', 'bash', image.file])).stdout;
    assert.match(listing, /\/vxlan\.ko\.xz$/, 'the kernel package ships vxlan as .ko.xz');
  });

  it('a module the kernel has not: an error before the VM, class infra:boot-module, naming it', async () => {
    process.env.KMATRIX_GUEST_MODULES = 'nosuchmodule';
    const out = await runMatrix([CELL], matrix, 1);
    const r = out.byId.get(CELL);
    console.log(`      ${CELL} with nosuchmodule: ${describeCell(r)} class ${r?.class}`);
    assert.deepEqual([r?.status, r?.phase, r?.class], ['error', 'build', 'infra:boot-module'], describeCell(r));
    assert.match(r!.reason!, /^guest modules: kernel debian-6\.12-amd64 \(6\.12\.\S+\) has no module nosuchmodule: neither in its modules\.builtin nor among its packages' modules \(KMATRIX_GUEST_MODULES=nosuchmodule\)$/);
    assert.equal(r!.durations.boot, undefined, 'no VM was started');
  });

  it("a module of the kernel that refuses to load in the guest (kvm_intel: TCG's CPU has no VMX): an error at boot, infra:boot-module, with insmod's words", async () => {
    process.env.KMATRIX_GUEST_MODULES = 'kvm_intel';
    // TCG for sure: under KVM with nested VMX it would load
    const accel = process.env.KMATRIX_ACCEL;
    process.env.KMATRIX_ACCEL = 'tcg';
    const out = await runMatrix([CELL], matrix, 1).finally(() => (accel === undefined ? delete process.env.KMATRIX_ACCEL : (process.env.KMATRIX_ACCEL = accel)));
    const r = out.byId.get(CELL);
    console.log(`      ${CELL} with kvm_intel: ${describeCell(r)} class ${r?.class} (${JSON.stringify(r?.durations)})`);
    assert.deepEqual([r?.status, r?.phase, r?.class], ['error', 'boot', 'infra:boot-module'], describeCell(r));
    assert.match(r!.reason!, /^the guest could not load the kernel's module kvm_intel \(insmod exit \d+\)$/);
    assert.match(r!.firstError!, /insmod: can't insert '\/kmatrix\/modules\/\d+-kvm_intel\.ko'/);
    // its dependencies loaded before it, and init went no further than its boot line
    const console_ = readFileSync(path.join(REPORTS, out.run.id, r!.logs.console!), 'utf8');
    assert.match(console_, /KMATRIX v1 module name=kvm rc=0\n(.*\n)?KMATRIX v1 module name=kvm_intel rc=[1-9]/);
    assert.doesNotMatch(console_, /KMATRIX v1 insmod /);
  });

  describe('kernels that cannot boot (the real 6.12 kernel, booted to fail)', () => {
    let tmp: string;
    before(async () => {
      delete process.env.KMATRIX_GUEST_MODULES;
      tmp = await mkdtemp(path.join(tmpdir(), 'kmx-vendorboot-'));
    });
    after(() => rm(tmp, { recursive: true, force: true }));

    /** Boot the kernel with this initramfs and these arguments; the guest's report judged and classified as a cell's would be. */
    async function boot(initrd: string, append: string[], timeout: number) {
      const reader = new GuestReader();
      const log = path.join(tmp, `console-${Date.now()}.log`);
      const vm = startVm({ machine: MACHINES.q35!, accel: 'tcg', kernel: kernel.image, initrd, append }, log, (l) => void reader.feed(l), timeout);
      const exit = await vm.done;
      const v = judge(reader.report, 'kmod', 'sysdig', 'n0nce', { timedOut: exit.timedOut, phase: 'boot', killed: exit.killed });
      const cls = classify({ status: v.status, phase: v.phase, reason: v.reason, firstError: v.firstError });
      console.log(`      ${exit.seconds.toFixed(1)} s: ${v.status} ${cls}: ${v.reason}${v.firstError ? ` | first error: ${v.firstError}` : ''}`);
      return { v, cls, exit };
    }

    it('no init in the initramfs and no root: VFS cannot mount root, a panic before init — infra:boot-crash with the console tail', async () => {
      // an initramfs without /init (an empty newc archive): the kernel looks for a root device it has not
      const empty = path.join(tmp, 'empty.cpio');
      await execa('sh', ['-c', `printf '' | cpio --quiet -o -H newc > "${empty}"`]);
      const { v, cls } = await boot(empty, [], 300);
      assert.deepEqual([v.status, v.phase, cls], ['error', 'boot', 'infra:boot-crash']);
      assert.match(v.reason, /^the kernel crashed before init reported \(panic\); the console's last lines up to the crash: .*"Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block\(0,0\)"/);
      assert.match(v.firstError!, /VFS: Unable to mount root fs/);
    });

    it("init's output on a console the machine does not show: the guest powers off unseen — infra:boot-no-console", async () => {
      // the real guest init (probe mode: boot, report, power off) with /dev/console on the VT (the last console=),
      // not the serial port: the kernel's messages still reach ttyS0, init's never do (as with a serial driver left a module)
      const base = await guestImage(debian, 'trixie', 'amd64', []);
      const initrd = await cellInitrd(tmp, base, { files: {}, env: cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'probe', engineArgs: '', runAs: '', captureTimeout: 1, mode: 'probe' }) });
      assert.ok(existsSync(initrd));
      const { v, cls, exit } = await boot(initrd, ['console=tty0'], 300);
      assert.equal(exit.timedOut, false, 'the guest powered off by itself');
      assert.deepEqual([v.status, v.phase, cls], ['error', 'boot', 'infra:boot-no-console']);
      assert.match(v.reason, /^the guest ended without init's report on the console: its output did not reach the serial console/);
    });

    it('the same init with the console where the machine reads it reaches init (the control of the two above)', async () => {
      const base = await guestImage(debian, 'trixie', 'amd64', []);
      const initrd = await cellInitrd(tmp, base, { files: {}, env: cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'probe', engineArgs: '', runAs: '', captureTimeout: 1, mode: 'probe' }) });
      const reader = new GuestReader();
      const vm = startVm({ machine: MACHINES.q35!, accel: 'tcg', kernel: kernel.image, initrd, append: [] }, path.join(tmp, 'control.log'), (l) => void reader.feed(l), 300);
      const exit = await vm.done;
      console.log(`      control: reached init in ${exit.seconds.toFixed(1)} s (release ${reader.report.boot?.release})`);
      assert.equal(reader.report.boot?.release, kernel.release);
    });
  });
});
