// The kernel's own modules the guest loads (harness/kernels/modules.ts): which
// are built in, the dependency closure (modules.dep, else each module's
// depends=), decompression on the host, from a kernel's extracted tree and
// from its .deb packages. The fixtures are written here: small modules.dep,
// modules.builtin and "modules" that are just a .modinfo's strings.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { setCacheDir } from '../../harness/cache/cache.js';
import { tempDir } from '../tmp.js';
import {
  consoleNeeds,
  decompressModule,
  guestModuleFiles,
  guestModules,
  modinfoDepends,
  moduleClosure,
  moduleNameOf,
  parseModulesBuiltin,
  parseModulesDep,
  requestedModules,
  unpackedModules,
} from '../../harness/kernels/modules.js';

const R = '6.12.117+deb13-amd64';
/** A stand-in module: an ELF magic and its .modinfo strings (what modinfoDepends reads). */
const ko = (name: string, depends: string[]) => Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\0', 'latin1'), Buffer.from(`\0license=GPL\0depends=${depends.join(',')}\0name=${name}\0vermagic=${R} SMP\0`, 'latin1')]);
const compress = (data: Buffer, ext: string): Buffer =>
  ext === '.xz' ? execFileSync('xz', ['-c'], { input: data }) : ext === '.zst' ? execFileSync('zstd', ['-cq'], { input: data }) : ext === '.gz' ? gzipSync(data) : data;

function write(file: string, data: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
}

/**
 * A kernel's modules dir: vxlan → udp_tunnel, ip6_udp_tunnel → udp_tunnel
 * (as on Debian's 6.12), each compressed another way; 8250 built in.
 */
function kernelTree(root: string, opts: { dep: boolean; usr?: boolean }): string {
  const dir = path.join(root, opts.usr ? 'usr/lib/modules' : 'lib/modules', R);
  const mods: [string, string[], string][] = [
    ['kernel/net/ipv4/udp_tunnel.ko', [], '.zst'],
    ['kernel/net/ipv6/ip6_udp_tunnel.ko', ['udp_tunnel'], '.gz'],
    ['kernel/drivers/net/vxlan/vxlan.ko', ['udp_tunnel', 'ip6_udp_tunnel'], '.xz'],
    ['kernel/drivers/tty/serial/amba-pl011.ko', [], ''],
  ];
  for (const [f, deps, ext] of mods) write(path.join(dir, f + ext), compress(ko(path.basename(f, '.ko'), deps), ext));
  write(path.join(dir, 'modules.builtin'), 'kernel/drivers/tty/serial/8250/8250.ko\nkernel/drivers/tty/serial/8250/8250_base.ko\nkernel/fs/configfs/configfs.ko\n');
  if (opts.dep)
    write(
      path.join(dir, 'modules.dep'),
      'kernel/net/ipv4/udp_tunnel.ko.zst:\nkernel/net/ipv6/ip6_udp_tunnel.ko.gz: kernel/net/ipv4/udp_tunnel.ko.zst\n' +
        'kernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv6/ip6_udp_tunnel.ko.gz kernel/net/ipv4/udp_tunnel.ko.zst\nkernel/drivers/tty/serial/amba-pl011.ko:\n',
    );
  return dir;
}

describe('guest modules: the kernel’s own modules the guest loads', () => {
  let tmp: string;
  before(() => {
    tmp = tempDir('kmx-guestmod-');
    setCacheDir(path.join(tmp, 'cache'));
  });
  after(() => {
    setCacheDir(undefined);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('names modules as the kernel does, reads modules.builtin and modules.dep (relative or absolute paths)', () => {
    assert.equal(moduleNameOf('kernel/drivers/tty/serial/amba-pl011.ko.xz'), 'amba_pl011');
    assert.equal(moduleNameOf('ip6_udp_tunnel.ko.zst'), 'ip6_udp_tunnel');
    assert.deepEqual([...parseModulesBuiltin('kernel/drivers/tty/serial/8250/8250.ko\n\nkernel/fs/configfs/configfs.ko\n')], ['8250', 'configfs']);
    assert.deepEqual(Object.fromEntries(parseModulesDep(`/lib/modules/${R}/kernel/a.ko: /lib/modules/${R}/kernel/b.ko\nkernel/b.ko:\n`)), { 'kernel/a.ko': ['kernel/b.ko'], 'kernel/b.ko': [] });
    assert.deepEqual(modinfoDepends(ko('vxlan', ['udp_tunnel', 'ip6_udp_tunnel'])), ['udp_tunnel', 'ip6_udp_tunnel']);
    assert.deepEqual(modinfoDepends(ko('udp_tunnel', [])), []);
    assert.equal(modinfoDepends(Buffer.from('no modinfo here')), undefined);
  });

  it("what the guest needs follows the machine's console; what a user asks, KMATRIX_GUEST_MODULES", () => {
    assert.deepEqual(consoleNeeds('ttyS0'), ['8250']);
    assert.deepEqual(consoleNeeds('ttyAMA0'), ['amba_pl011']);
    assert.deepEqual(consoleNeeds('hvc0'), []);
    assert.deepEqual(requestedModules(' vxlan, amba-pl011 dummy'), ['vxlan', 'amba_pl011', 'dummy']);
    assert.deepEqual(requestedModules(''), []);
    assert.deepEqual(requestedModules(undefined), []);
  });

  it('the closure: dependencies first and once, built-in names apart, a name nowhere (or a dependency nowhere) missing', () => {
    const index = { files: { a: 'k/a.ko', b: 'k/b.ko', c: 'k/c.ko', d: 'k/d.ko' }, builtin: ['x'] };
    const deps: Record<string, string[]> = { 'k/a.ko': ['b', 'c'], 'k/b.ko': ['c', 'x'], 'k/c.ko': [], 'k/d.ko': ['gone'] };
    const c = moduleClosure(['a', 'x', 'nope', 'b', 'd'], index, (f) => deps[f]);
    assert.deepEqual(c.load, ['k/c.ko', 'k/b.ko', 'k/a.ko', 'k/d.ko']);
    assert.deepEqual(c.builtin, ['x']);
    assert.deepEqual(c.missing.sort(), ['gone', 'nope']);
    // dependencies not known yet (not extracted): said so, and not loaded before they are
    const u = moduleClosure(['a'], index, (f) => (f === 'k/a.ko' ? ['b'] : undefined));
    assert.deepEqual([u.load, u.unknown], [['k/a.ko'], ['k/b.ko']]);
  });

  it('decompresses .ko.xz, .ko.zst and .ko.gz on the host (busybox insmod cannot be relied on to), copies a plain .ko', async () => {
    const plain = ko('vxlan', ['udp_tunnel']);
    for (const ext of ['.xz', '.zst', '.gz', '']) {
      const from = path.join(tmp, `dec/vxlan.ko${ext}`);
      write(from, compress(plain, ext));
      await decompressModule(from, path.join(tmp, `dec/out${ext}.ko`));
      assert.deepEqual(readFileSync(path.join(tmp, `dec/out${ext}.ko`)), plain, ext || 'plain');
    }
    // a Pi's SD card modules (Debian 6.12's are .ko.xz): plain <name>.ko files, same order
    const sd = await unpackedModules([path.join(tmp, 'dec/vxlan.ko.xz'), path.join(tmp, 'dec/vxlan.ko')], path.join(tmp, 'dec/sd'));
    assert.deepEqual(sd.map((f) => path.relative(tmp, f)), ['dec/sd/vxlan.ko', 'dec/sd/vxlan.ko']);
    assert.deepEqual(readFileSync(sd[0]!), plain);
    write(path.join(tmp, 'dec/broken.ko.xz'), 'not xz');
    await assert.rejects(decompressModule(path.join(tmp, 'dec/broken.ko.xz'), path.join(tmp, 'dec/broken.ko')), /xz could not decompress broken\.ko\.xz/);
  });

  for (const dep of [true, false])
    it(`from a kernel's extracted tree ${dep ? 'with modules.dep' : "without modules.dep (each module's depends=)"}: numbered in load order, decompressed, built-in and missing names said`, async () => {
      const root = path.join(tmp, `tree-${dep}`);
      kernelTree(root, { dep, usr: !dep });
      const m = await guestModules({ root, release: R, packages: [] }, ['8250', 'vxlan', 'nosuchmod']);
      assert.ok(m);
      assert.deepEqual(m.load.map((x) => [x.name, path.basename(x.file)]), [
        ['udp_tunnel', '00-udp_tunnel.ko'],
        ['ip6_udp_tunnel', '01-ip6_udp_tunnel.ko'],
        ['vxlan', '02-vxlan.ko'],
      ]);
      assert.deepEqual([m.builtin, m.missing, m.builtinKnown], [['8250'], ['nosuchmod'], true]);
      for (const x of m.load) assert.equal(readFileSync(x.file).subarray(0, 4).toString('latin1'), '\x7fELF', x.name);
      assert.deepEqual(Object.keys(guestModuleFiles(m)), ['kmatrix/modules/00-udp_tunnel.ko', 'kmatrix/modules/01-ip6_udp_tunnel.ko', 'kmatrix/modules/02-vxlan.ko']);
    });

  it("from the kernel's .deb packages (read member by member), as Debian ships them: no modules.dep", async function () {
    this.timeout(60_000);
    const pkg = path.join(tmp, 'pkg');
    kernelTree(pkg, { dep: false, usr: true });
    write(path.join(pkg, 'DEBIAN/control'), `Package: linux-image-${R}\nVersion: 6.12.117-1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n`);
    const deb = path.join(tmp, 'linux-image.deb');
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', pkg, deb], { stdio: 'ignore' });
    const k = { root: path.join(tmp, 'nowhere'), release: R, packages: [{ name: `linux-image-${R}`, version: '6.12.117-1', file: deb, sha256: 'fixture-deb' }] };
    const m = await guestModules(k, ['amba-pl011', 'ip6_udp_tunnel']);
    assert.deepEqual(m?.load.map((x) => x.name), ['amba_pl011', 'udp_tunnel', 'ip6_udp_tunnel']);
    assert.deepEqual(readFileSync(m!.load[2]!.file), ko('ip6_udp_tunnel', ['udp_tunnel']));
    // nothing wanted: nothing read
    assert.deepEqual(await guestModules(k, []), { load: [], builtin: [], missing: [], builtinKnown: true });
  });

  it('a kernel without modules.builtin: nothing can be said built in (builtinKnown false); a tree without modules: undefined', async () => {
    const root = path.join(tmp, 'nobuiltin');
    const dir = kernelTree(root, { dep: true });
    rmSync(path.join(dir, 'modules.builtin'));
    const m = await guestModules({ root, release: R, packages: [] }, ['8250']);
    assert.deepEqual([m?.load, m?.missing, m?.builtinKnown], [[], ['8250'], false]);
    assert.equal(await guestModules({ root: path.join(tmp, 'empty'), release: R, packages: [] }, ['8250']), undefined);
  });
});
