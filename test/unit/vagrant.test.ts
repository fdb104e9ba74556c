// The Vagrant backend without a VM: Vagrantfile generation, box metadata, the
// network namespace plan, and an unreachable box as a skip.
import assert from 'node:assert/strict';
import { CellSkip } from '../../harness/errors.js';
import { LIBVIRT_DIRS, sessionPlan, withLibvirtUser } from '../../harness/backends/libvirt.js';
import { BOX_RUN_SCRIPT, boxBuildScript, removeCellVolumes, vagrantfile } from '../../harness/backends/vagrant.js';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { boxCatalog, boxHook, boxMetadata, boxVagrantfile, boxVersion, lastMeaningful } from '../../harness/images/box.js';
import { unreachable } from '../../harness/kernels/box.js';
import { parseMatrix } from '../../harness/matrix.js';
import { tempDir } from '../tmp.js';
import { cellEnvFile } from '../../harness/guest.js';

describe('vagrant backend', () => {
  const base = {
    box: { name: 'kmatrix/debian12-6.1', version: '6.1.50', local: true },
    uri: 'qemu:///system?socket=/tmp/x/sock/libvirt-sock',
    prefix: 'kmatrix-1-1-',
    pool: 'kmatrix',
    network: { name: 'kmatrix-mgmt', address: '192.168.121.0/24' },
    consoleLog: '/r/console.log',
    bootTimeout: 300,
    cpus: 2,
    memoryMiB: 2048,
  };

  it('Vagrantfile: the pinned box, the private libvirt socket, TCG with a plain CPU model, no synced folder, serial console to the cell log', () => {
    const v = vagrantfile({ ...base, driver: 'qemu' });
    assert.match(v, /config\.vm\.box = "kmatrix\/debian12-6\.1"/);
    assert.match(v, /config\.vm\.box_version = "6\.1\.50"/);
    assert.match(v, /libvirt\.uri = "qemu:\/\/\/system\?socket=\/tmp\/x\/sock\/libvirt-sock"/);
    assert.match(v, /libvirt\.driver = "qemu"/);
    assert.match(v, /libvirt\.cpu_mode = "custom"/);
    assert.match(v, /synced_folder "\.", "\/vagrant", disabled: true/);
    assert.match(v, /libvirt\.default_prefix = "kmatrix-1-1-"/);
    assert.match(v, /:path => "\/r\/console\.log"/);
    assert.match(v, /config\.vm\.boot_timeout = 300/);
  });

  it('Vagrantfile: with KVM, the kvm domain type and the host CPU model (no custom model)', () => {
    const v = vagrantfile({ ...base, driver: 'kvm' });
    assert.match(v, /libvirt\.driver = "kvm"/);
    assert.doesNotMatch(v, /cpu_mode/);
  });

  it('box metadata: libvirt provider, qcow2, size; the box Vagrantfile boots its own kernel from the box directory', () => {
    assert.deepEqual(boxMetadata(8), { provider: 'libvirt', format: 'qcow2', virtual_size: 8 });
    const v = boxVagrantfile('root=/dev/vda rw');
    assert.match(v, /libvirt\.kernel = File\.join\(__dir__, "vmlinuz"\)/);
    assert.match(v, /libvirt\.initrd = File\.join\(__dir__, "initrd\.img"\)/);
    assert.match(v, /libvirt\.cmd_line = "root=\/dev\/vda rw"/);
  });

  it('box version and catalog: numeric version from the kernel ABI, one libvirt provider with its checksum', () => {
    assert.equal(boxVersion('6.1.0-50-amd64'), '6.1.50');
    assert.equal(boxVersion('garbage'), '0.0.0');
    const c = boxCatalog('kmatrix/debian12-6.1', '6.1.50', '/c/x.box', 'ab') as any;
    assert.equal(c.name, 'kmatrix/debian12-6.1');
    assert.deepEqual(c.versions[0].providers[0], { name: 'libvirt', url: 'file:///c/x.box', checksum_type: 'sha256', checksum: 'ab' });
  });

  it("the box's vagrant user gets the insecure key given, passwordless sudo, and DHCP networking", () => {
    const h = boxHook('ssh-rsa AAAA vagrant insecure public key\n');
    assert.match(h, /useradd -m -s \/bin\/bash -G sudo vagrant/);
    assert.match(h, /printf '%s\\n' 'ssh-rsa AAAA vagrant insecure public key' > "\$r\/home\/vagrant\/\.ssh\/authorized_keys"/);
    assert.match(h, /NOPASSWD:ALL/);
    assert.match(h, /DHCP=ipv4/);
  });

  it('netns plan: a namespace of its own with loopback up; libvirt state bound over the system paths only inside a private mount namespace', () => {
    const p = sessionPlan('42', '/tmp/kmatrix-libvirt-42');
    assert.equal(p.netns, 'kmatrix-vg-42');
    assert.deepEqual(p.setup, [
      ['ip', 'netns', 'add', 'kmatrix-vg-42'],
      ['ip', '-n', 'kmatrix-vg-42', 'link', 'set', 'lo', 'up'],
    ]);
    assert.deepEqual(p.teardown, [['ip', 'netns', 'delete', 'kmatrix-vg-42']]);
    assert.equal(p.uri, 'qemu:///system?socket=/tmp/kmatrix-libvirt-42/sock/libvirt-sock');
    const lines = p.daemonScript.split('\n');
    assert.ok(lines.indexOf('mount --make-rprivate /') < lines.findIndex((l) => l.startsWith('mount --bind')), 'private before any bind');
    for (const target of Object.values(LIBVIRT_DIRS)) assert.ok(lines.some((l) => l.startsWith('mount --bind /tmp/kmatrix-libvirt-42/') && l.endsWith(` ${target}`)), target);
    assert.match(lines.at(-2)!, /^exec libvirtd -f \/tmp\/kmatrix-libvirt-42\/etc\/libvirtd\.conf/);
    const qemu = p.files['/tmp/kmatrix-libvirt-42/etc/qemu.conf']!;
    assert.match(qemu, /cgroup_controllers = \[ \]/);
    assert.match(p.files['/tmp/kmatrix-libvirt-42/etc/libvirtd.conf']!, /unix_sock_dir = "\/tmp\/kmatrix-libvirt-42\/sock"/);
  });

  it("libvirt's QEMU user is added to private copies of passwd/group, once", () => {
    const u = withLibvirtUser('root:x:0:0::/root:/bin/bash\n', 'root:x:0:\n');
    assert.match(u.passwd, /^libvirt-qemu:x:64055:64055:/m);
    assert.match(u.group, /^libvirt-qemu:x:64055:$/m);
    assert.equal(withLibvirtUser(u.passwd, u.group).passwd, u.passwd);
  });

  it('an unreachable box is a skip that says why, from vagrant\'s own words (not its progress bars)', () => {
    const out = 'Progress: 0%\r\x1b[KThe box \'generic/centos7\' could not be found or\ncould not be accessed in the remote catalog.\nURL: ["https://vagrantcloud.com/generic/centos7"]\nError: Could not resolve host: vagrantcloud.com\n';
    const s = unreachable(out);
    assert.ok(s instanceof CellSkip);
    assert.match(s.message, /^box unreachable: /);
    assert.equal(s.message, 'box unreachable: Error: Could not resolve host: vagrantcloud.com');
    assert.doesNotMatch(s.message, /Progress/);
    assert.equal(lastMeaningful('Progress: 50%\n'), '');
  });

  it('the in-box build uses the running kernel\'s headers; the run chroots into the guest image with a private mount namespace', () => {
    assert.match(boxBuildScript('kmod'), /make -C \/lib\/modules\/\$\(uname -r\)\/build M=\/kmatrix\/driver/);
    assert.match(BOX_RUN_SCRIPT, /unshare -m --propagation private chroot \/kmatrix\/root \/init/);
    assert.match(cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'n', engineArgs: '', runAs: '', captureTimeout: 1, mode: 'box' }), /KM_MODE='box'/);
  });

  it("cell volumes left by a dead run (or by this one at its end) are removed; base box volumes and live runs' volumes stay", () => {
    const dir = tempDir('kmatrix-pool-');
    const files = ['kmatrix-VAGRANTSLASH-debian12-6.1_vagrant_box_image_6.1.50_box.img', 'kmatrix-999999999-1-default.img', `kmatrix-${process.pid}-2-default.img`, 'kmatrix-1-3-default.img'];
    for (const f of files) writeFileSync(path.join(dir, f), '');
    assert.deepEqual(removeCellVolumes(dir, false), ['kmatrix-999999999-1-default.img']);
    assert.deepEqual(removeCellVolumes(dir, true), [`kmatrix-${process.pid}-2-default.img`]);
    assert.deepEqual(readdirSync(dir).sort(), [files[0], 'kmatrix-1-3-default.img'].sort());
  });

  it('matrix: box kernels parse (name, pinned version, local), run on the vagrant machine; a bad box name is a UserError', () => {
    const text = `
kernels:
  b: { arch: amd64, machine: vagrant, box: { name: generic/centos7, version: "4.3.12" } }
  l: { arch: amd64, machine: vagrant, box: { name: kmatrix/debian12-6.1, local: true } }
consumers:
  s: { kind: sysdig, debian: { suite: sid, package: sysdig }, engines: [kmod], requires: { api: "8.0.0", schema: "4.0.0" } }
sources:
  "0.23.2": { debian: { suite: sid, package: falcosecurity-scap-dkms }, consumer: s }
matrix:
  - { kernels: [b, l], drivers: [kmod], sources: ["0.23.2"] }
`;
    const m = parseMatrix(text, 'm.yaml');
    assert.deepEqual(m.kernels.b!.source, { kind: 'box', name: 'generic/centos7', version: '4.3.12' });
    assert.deepEqual(m.kernels.l!.source, { kind: 'box', name: 'kmatrix/debian12-6.1', local: true });
    assert.deepEqual(m.cells.map((c) => c.id), ['b/kmod@0.23.2/host', 'l/kmod@0.23.2/host']);
    assert.throws(() => parseMatrix(text.replace('generic/centos7', 'no slash'), 'm.yaml'), /m\.yaml:3: kernels\.b\.box\.name does not match/);
  });
});
