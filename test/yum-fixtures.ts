// Yum repositories made by the tests: packages built with rpmbuild from a
// directory tree, metadata by createrepo_c, repomd.xml signed with a key made
// in a throwaway GNUPGHOME, all served over loopback.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { checkSignature, dropKey, makeKey } from './apt-repository.js';

export interface RpmSpec {
  name: string;
  version: string;
  release: string;
  arch?: string;
  epoch?: number;
  /** Files to put in it: path → content, or { link } for a symlink. */
  files?: Record<string, string | { link: string }>;
  /** Or a tree already made: its root and the paths (from /) the package owns. */
  tree?: { root: string; paths: string[] };
  payload?: 'xz' | 'zstd' | 'gzip';
}

/** Build one .rpm into `out` (rpmbuild, no dependency generation, no stripping); returns its path. */
export async function makeRpm(work: string, out: string, p: RpmSpec): Promise<string> {
  const arch = p.arch ?? 'x86_64';
  const top = await mkdtemp(path.join(work, `rpm-${p.name}-`));
  let root = p.tree?.root;
  let paths = p.tree?.paths ?? [];
  if (!root) {
    root = path.join(top, 'root');
    await mkdir(root, { recursive: true });
    for (const [f, c] of Object.entries(p.files ?? {})) {
      const file = path.join(root, f);
      await mkdir(path.dirname(file), { recursive: true });
      if (typeof c === 'string') await writeFile(file, c);
      else await symlink(c.link, file);
    }
    paths = Object.keys(p.files ?? {}).map((f) => `/${f.replace(/^\//, '')}`);
  }
  const spec = [
    `Name: ${p.name}`,
    ...(p.epoch ? [`Epoch: ${p.epoch}`] : []),
    `Version: ${p.version}`,
    `Release: ${p.release}`,
    'Summary: kmatrix test package',
    'License: GPL-2.0',
    'AutoReqProv: no',
    '%description',
    'kmatrix test package',
    '%install',
    `cp -a ${root}/. %{buildroot}/`,
    '%files',
    ...paths.map((f) => `"${f}"`),
    '',
  ].join('\n');
  await writeFile(path.join(top, 'p.spec'), spec);
  const payload = { xz: 'w2.xzdio', zstd: 'w3.zstdio', gzip: 'w6.gzdio' }[p.payload ?? 'xz'];
  // prettier-ignore
  await execa('rpmbuild', ['-bb', '--quiet', '--nodeps', '--target', arch, '--define', `_topdir ${top}/top`, '--define', '__spec_install_post %{nil}', '--define', '_build_id_links none',
    '--define', 'debug_package %{nil}', '--define', `_binary_payload ${payload}`, '--define', '_binary_filedigest_algorithm 8',
    // reproducible: the same tree makes the same package (so a second run finds its kernel and driver builds in the cache)
    '--define', 'use_source_date_epoch_as_buildtime 1', '--define', 'clamp_mtime_to_source_date_epoch 1', '--define', '_buildhost kmatrix.invalid', path.join(top, 'p.spec')],
    { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  const built = path.join(top, 'top/RPMS', arch);
  const file = (await readdir(built))[0]!;
  await mkdir(out, { recursive: true });
  await rename(path.join(built, file), path.join(out, file));
  return path.join(out, file);
}

/** Make a repository's metadata (createrepo_c; `args` e.g. --general-compress-type zstd, --location-prefix). */
export async function createrepo(dir: string, args: string[] = []): Promise<void> {
  await execa('createrepo_c', ['--quiet', '--no-database', ...args, dir]);
}

/** A signing key in its own GNUPGHOME (apt-repository.ts's makeKey): sign files with it, export it, stop its agent. */
export async function testKey(work: string, name = 'kmatrix test repository') {
  const key = await makeKey(await mkdtemp(path.join(work, 'gnupg-')), name);
  const armored = await readFile(key.file, 'utf8');
  // an empty export would make every signature check fail as "No public key": say so here
  if (!armored.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) throw new Error(`gpg exported no public key from ${key.home}`);
  const gpg = (args: string[]) => execa('gpg', ['--homedir', key.home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec((await gpg(['--with-colons', '--list-secret-keys'])).stdout)?.[1];
  if (!fpr) throw new Error(`gpg lists no secret key in ${key.home}`);
  return {
    armored: async () => armored,
    /**
     * A detached armored signature of `file` by this key (named, never gpg's
     * default), written beside it as <file>.asc and checked against the
     * key's export (checkSignature).
     */
    sign: async (file: string) => {
      await gpg(['--yes', '--local-user', fpr, '--armor', '--detach-sign', '--output', `${file}.asc`, file]);
      await checkSignature(key, [`${file}.asc`, file]);
    },
    drop: () => dropKey(key),
  };
}

/** Serve a directory over loopback; `override` answers some paths itself (status, body). */
export async function serveDir(dir: string, override: (url: string) => { status: number; body?: string | Buffer } | undefined = () => undefined): Promise<{ server: Server; base: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    requests.push(url);
    const o = override(url);
    if (o) return void res.writeHead(o.status).end(o.body);
    const file = path.join(dir, path.normalize(url));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/**
 * Recompress a repository's primary.xml with zstd (Debian's createrepo_c is
 * built without it): the new file, and repomd.xml's location, checksum and
 * size of it (its open-checksum stays: the XML is the same).
 */
export async function zstdPrimary(dir: string): Promise<void> {
  const repodata = path.join(dir, 'repodata');
  const gz = (await readdir(repodata)).find((f) => f.endsWith('-primary.xml.gz'))!;
  const zst = (await execa('bash', ['-c', 'gzip -dc "$1" | zstd -q -c', 'bash', path.join(repodata, gz)], { encoding: 'buffer', stripFinalNewline: false })).stdout as Uint8Array;
  const sha = createHash('sha256').update(zst).digest('hex');
  const name = `${sha}-primary.xml.zst`;
  await writeFile(path.join(repodata, name), zst);
  await rm(path.join(repodata, gz));
  const repomd = path.join(repodata, 'repomd.xml');
  const text = await readFile(repomd, 'utf8');
  const updated = text.replace(/<data type="primary">[\s\S]*?<\/data>/, (d) =>
    d
      .replace(/<checksum type="sha256">[0-9a-f]+<\/checksum>/, `<checksum type="sha256">${sha}</checksum>`)
      .replace(/<location href="[^"]*"\/>/, `<location href="repodata/${name}"/>`)
      .replace(/<size>\d+<\/size>/, `<size>${zst.length}</size>`),
  );
  await writeFile(repomd, updated);
}
