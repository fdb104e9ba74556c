// `kmatrix run <cell> --shell` through a pseudo-terminal (util-linux `script`),
// as a developer would type it: the cell's driver is built and loaded, a shell
// answers `uname -r` with the cell's kernel, `poweroff` ends the VM, and no
// QEMU is left. Also `explain`, which runs nothing.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { Children } from '../processes.js';

const CELL = 'debian-6.1-amd64/kmod@0.23.2/host';

/** QEMU processes whose command line names a --shell initramfs (ours: kmatrix-shell-*). */
async function shellQemus(): Promise<string[]> {
  const r = await execa('pgrep', ['-af', 'qemu-system'], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes('kmatrix-shell-'));
}

/** Boot the cell's shell in a pseudo-terminal, type `uname -r; …`, then leave with `leave`; ended (SIGTERM) after `limit` seconds. */
async function shellSession(children: Children, leave: string, limit: number): Promise<{ out: string; exitCode: number | null; seconds: number }> {
  const t0 = Date.now();
  const p = children.start('script', ['-qefc', `node bin/kmatrix.js run ${CELL} --shell`, '/dev/null'], { reject: false, buffer: false });
  let out = '';
  let sent = 0;
  const onData = (b: Buffer) => {
    out += b.toString();
    // the guest's prompt, then the command; once its answer and the next prompt are there, leave
    if (sent === 0 && /KMATRIX v1 shell[\s\S]*kmatrix# /.test(out)) {
      sent = 1;
      p.stdin.write('uname -r; lsmod | grep -c ^scap\r');
    } else if (sent === 1 && /kmatrix# /.test(out.slice(out.indexOf('uname -r')))) {
      sent = 2;
      p.stdin.write(leave);
    }
  };
  p.stdout.on('data', onData);
  p.stderr.on('data', onData);
  const timer = setTimeout(() => p.kill('SIGTERM'), limit * 1000);
  const r = await p;
  clearTimeout(timer);
  return { out, exitCode: r.exitCode ?? null, seconds: (Date.now() - t0) / 1000 };
}

describe('run <cell> --shell (pseudo-terminal)', function () {
  // Sized for a cold cache, not mocha's 20 s: the first session runs the cell's fetch and build
  // phases (the 6.1 kernel, bookworm's builder root — mmdebstrap, 1–3 min —, the 0.23.2 module,
  // sid's sysdig guest) before the VM boots.
  this.timeout(30 * 60_000);
  const children = new Children();
  let out = '';
  let exitCode: number | null = null;
  let seconds = 0;

  before(async function () {
    assert.deepEqual(await shellQemus(), [], 'no shell VM before');
    ({ out, exitCode, seconds } = await shellSession(children, 'poweroff\r', 25 * 60));
  });

  after(async () => {
    await children.endAll(); // a session a timeout left going: script, the CLI, its build or QEMU
  });

  it('the shell answers uname -r with the cell kernel\'s release, the module loaded', () => {
    const answer = /uname -r[^\n]*\r?\n\s*(\S+)/.exec(out)?.[1];
    assert.match(answer ?? '', /^6\.1\.\d+-\d+-amd64$/, `release read back: ${out.slice(-1500)}`);
    assert.match(out, /kmatrix shell: 6\.1\.\d+-\d+-amd64, driver kmod \(insmod rc=0\)/);
    assert.match(out, /uname -r; lsmod \| grep -c \^scap\r*\n[^\n]*\n\s*1\r*\n/, `scap is loaded: ${JSON.stringify(out.slice(out.indexOf('uname -r'), out.indexOf('uname -r') + 200))}`);
  });

  it('poweroff ends the VM and the command; no QEMU left', async () => {
    assert.match(out, /reboot: Power down/);
    assert.match(out, /kmatrix: VM ended \(0\)/);
    assert.equal(exitCode, 0, `exit after ${seconds}s`);
    assert.deepEqual(await shellQemus(), []);
  });

  it('Ctrl-A X (QEMU\'s own key) ends the VM too; no QEMU left', async () => {
    const r = await shellSession(children, '\x01x', 5 * 60);
    assert.match(r.out, /uname -r[^\n]*\r?\n\s*6\.1\./);
    assert.match(r.out, /QEMU: Terminated/);
    assert.match(r.out, /kmatrix: VM ended/);
    assert.equal(r.exitCode, 0, `exit after ${r.seconds}s`);
    assert.deepEqual(await shellQemus(), []);
  });

  it('explain shows what would run, without running it', async () => {
    const t0 = Date.now();
    const r = await children.start('node', ['bin/kmatrix.js', 'explain', CELL]);
    assert.ok(Date.now() - t0 < 15_000, 'nothing fetched, built or booted');
    for (const heading of ['kernel packages', 'builder', 'driver build', 'QEMU command line', 'guest steps'])
      assert.match(r.stdout, new RegExp(`^${heading}`, 'm'));
    assert.match(r.stdout, /make -j2 -C "?\/kernel\/usr\/src\/linux-headers-<abi>"? M=\/build/);
    assert.match(r.stdout, /^ {2}qemu-system-x86_64 -M q35 .*-serial stdio .*-kernel /m);
    assert.match(r.stdout, /insmod \/kmatrix\/scap.ko/);
  });
});
