// For the tests of the apt kernel kind: an apt repository of Debian/Ubuntu
// layout built from .deb files with apt-ftparchive, signed with a key made
// for the test (GNUPGHOME in the repository's temp dir), served over HTTP on
// 127.0.0.1.
import { execa } from 'execa';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** How a suite is signed: InRelease (and Release.gpg), Release.gpg only, or not at all. */
export type Signing = 'inrelease' | 'detached' | 'none';

export interface TestKey {
  home: string;
  /** The armored public key. */
  file: string;
}

/** A signing key of the test's own, in GNUPGHOME `home`. */
export async function makeKey(home: string, name = 'kmatrix test repository'): Promise<TestKey> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const gpg = (args: string[]) => execa('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  await gpg(['--quick-gen-key', `${name} <test@kmatrix.invalid>`, 'ed25519', 'sign', 'never']);
  const file = path.join(home, 'key.asc');
  await writeFile(file, (await gpg(['--armor', '--export'])).stdout + '\n');
  return { home, file };
}

/** Stop the key's gpg-agent (gpg started it). */
export async function dropKey(key: TestKey): Promise<void> {
  await execa('gpgconf', ['--homedir', key.home, '--kill', 'gpg-agent'], { reject: false });
}

/** Put .deb files into the repository's pool (pool/<component>/<dir>/). */
export async function addToPool(repo: string, component: string, dir: string, debs: string[]): Promise<void> {
  const to = path.join(repo, 'pool', component, dir);
  await mkdir(to, { recursive: true });
  for (const d of debs) await copyFile(d, path.join(to, path.basename(d)));
}

/**
 * Write dists/<suite>/ for the pool's packages of one component and arch
 * (Packages, .gz, .xz; Release) and sign it as asked. `editPackages` may
 * change the index before the Release lists it (a wrong SHA256, …).
 */
export async function writeSuite(o: { repo: string; suite: string; component: string; arch: string; key?: TestKey; signing: Signing; editPackages?: (text: string) => string }): Promise<void> {
  const dists = path.join(o.repo, 'dists', o.suite);
  const bin = path.join(dists, o.component, `binary-${o.arch}`);
  await mkdir(bin, { recursive: true });
  let packages = (await execa('apt-ftparchive', ['--arch', o.arch, 'packages', `pool/${o.component}`], { cwd: o.repo })).stdout + '\n';
  if (o.editPackages) packages = o.editPackages(packages);
  await writeFile(path.join(bin, 'Packages'), packages);
  await execa('gzip', ['-9kf', path.join(bin, 'Packages')]);
  await execa('xz', ['-kf', path.join(bin, 'Packages')]);
  const field = (k: string, v: string) => ['-o', `APT::FTPArchive::Release::${k}=${v}`];
  const release = await execa('apt-ftparchive', [...field('Suite', o.suite), ...field('Codename', o.suite), ...field('Components', o.component), ...field('Architectures', o.arch), 'release', '.'], { cwd: dists });
  await writeFile(path.join(dists, 'Release.new'), release.stdout + '\n');
  await rename(path.join(dists, 'Release.new'), path.join(dists, 'Release'));
  if (o.signing === 'none') return;
  const gpg = (args: string[]) => execa('gpg', ['--homedir', o.key!.home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { cwd: dists });
  await gpg(['--armor', '--detach-sign', '-o', 'Release.gpg', 'Release']);
  await checkSignature(o.key!, [path.join(dists, 'Release.gpg'), path.join(dists, 'Release')]);
  if (o.signing === 'inrelease') {
    await gpg(['--clearsign', '-o', 'InRelease', 'Release']);
    await checkSignature(o.key!, [path.join(dists, 'InRelease')]);
  }
}

/**
 * Check a signature the fixture just made with gpgv against the key's export
 * (`files`: a detached signature and its data, or a clearsigned file): a
 * fixture that cannot verify its own signature says why here, not as the
 * product's refusal later.
 */
export async function checkSignature(key: TestKey, files: string[]): Promise<void> {
  const keyring = path.join(key.home, 'exported.gpg');
  if (!existsSync(keyring)) await writeFile(keyring, (await execa('gpg', ['--homedir', key.home, '--batch', '--dearmor'], { inputFile: key.file, encoding: 'buffer', stripFinalNewline: false })).stdout);
  const v = await execa('gpgv', ['--homedir', key.home, '--keyring', keyring, ...files], { reject: false, all: true });
  if (v.exitCode !== 0) throw new Error(`the test key in ${key.home} made a signature (${files.join(', ')}) that gpgv does not verify with its export: ${v.all}`);
}

/** Replace text inside a signed file (a tampered repository). */
export async function tamper(file: string, from: string | RegExp, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const out = text.replace(from, to);
  if (out === text) throw new Error(`tamper: nothing to replace in ${file}`);
  await writeFile(file, out);
}

/** Serve a directory over HTTP on 127.0.0.1 (a given port, or any; 404 for what is not there); returns its URL and a close(). */
export async function serveDir(root: string, port = 0): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())) };
}

/** A tiny Debian package with these files and control fields (Package, Version, Architecture, Depends…). */
export async function fakeDeb(out: string, fields: Record<string, string>, files: Record<string, string>): Promise<string> {
  const root = path.join(out, `${fields.Package}_${fields.Version}.tree`);
  for (const [f, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), text);
  }
  await mkdir(path.join(root, 'DEBIAN'), { recursive: true });
  const control = { Maintainer: 'kmatrix tests <test@kmatrix.invalid>', Description: 'a kmatrix test package', ...fields };
  await writeFile(path.join(root, 'DEBIAN/control'), Object.entries(control).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  const deb = path.join(out, `${fields.Package}_${fields.Version}_${fields.Architecture}.deb`);
  await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, deb]);
  return deb;
}
