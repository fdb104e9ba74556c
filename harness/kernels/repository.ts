// What the vendor package repositories (apt.ts's Debian/Ubuntu layout and
// yum's) share: a URL named through an environment variable (no registry host
// is written into the product) and an OpenPGP signature checked with gpgv
// against the key the matrix gives, in a keyring of its own.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CellSkip, UserError } from '../errors.js';

/**
 * A repository URL with its `${VAR}`s replaced from the environment. An unset
 * or empty variable makes the cell a skip that names it and says what it
 * stands for (`what`, e.g. "Ubuntu's archive").
 */
export function repositoryUrl(url: string, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const out = url.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = env[name];
    if (!v) throw new CellSkip(`${what}: \${${name}} is not set (it names the repository's URL; see README, "Vendor kernels")`);
    return v;
  });
  return out.replace(/\/+$/, '');
}

/** A signature that does not verify: an error (the repository is wrong or tampered with), never a skip. */
export class SignatureInvalid extends Error {}

/**
 * Check an OpenPGP signature with gpgv against `key`: a keyring file
 * (binary or armored) or an armored key given inline. `signature` is a
 * detached signature of `data`; without it `data` is clearsigned and the
 * verified text is returned (gpgv's output, not the unverified input).
 */
export async function verifySignature(o: { key: string; data: Buffer; signature?: Buffer; what: string; keyFrom?: string }): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kmatrix-gpgv-'));
  try {
    const keyring = path.join(dir, 'keyring.gpg');
    await writeFile(keyring, await dearmor(keyText(o.key, o.keyFrom), dir));
    const data = path.join(dir, 'data');
    await writeFile(data, o.data);
    const args = ['--homedir', dir, '--keyring', keyring, '--status-fd', '1'];
    let r;
    if (o.signature) {
      const sig = path.join(dir, 'data.sig');
      await writeFile(sig, o.signature);
      r = await execa('gpgv', [...args, sig, data], { reject: false });
    } else {
      r = await execa('gpgv', [...args, '--output', path.join(dir, 'out'), data], { reject: false });
    }
    if (r.exitCode !== 0 || !/\[GNUPG:\] VALIDSIG /.test(r.stdout))
      throw new SignatureInvalid(`${o.what}: the signature does not verify with the given key (gpgv: ${gpgvWords(r.stderr) || `exit ${r.exitCode}`}); refused, nothing kept`);
    return o.signature ? o.data : readFileSync(path.join(dir, 'out'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A key given as `${VAR}` — the whole key, which a kind may have resolved
 * against the matrix file's directory already — is the keyring file the
 * variable names (no key is written into the product); unset or empty, the
 * cell is a skip naming it, as for a URL.
 */
export function repositoryKey(key: string, env: NodeJS.ProcessEnv = process.env): string {
  const m = /(?:^|\/)\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(key);
  if (!m || key.includes('-----BEGIN PGP')) return key;
  const v = env[m[1]!];
  if (!v) throw new CellSkip(`the repository's signing key: \${${m[1]}} is not set (it names the keyring file; see README, "Vendor kernels")`);
  return path.resolve(v);
}

/** The key as bytes: inline armored text, or a file (relative paths from the matrix file's directory; `${VAR}`: the file it names). */
function keyText(given: string, from?: string): Buffer {
  if (given.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return Buffer.from(given);
  const key = repositoryKey(given);
  const file = from && !path.isAbsolute(key) ? path.resolve(from, key) : key;
  if (!existsSync(file)) throw new UserError(`the repository key ${file} does not exist: give a keyring file (binary or armored) or the armored key itself.`);
  return readFileSync(file);
}

/** gpgv reads binary keyrings only: an armored key is converted with gpg --dearmor (every byte kept: execa strips a final newline by default, and 1 key in 256 ends in one). */
async function dearmor(key: Buffer, dir: string): Promise<Buffer> {
  if (!key.subarray(0, 100).toString('latin1').includes('-----BEGIN PGP')) return key;
  const r = await execa('gpg', ['--homedir', dir, '--batch', '--dearmor'], { input: key, encoding: 'buffer', stripFinalNewline: false, reject: false });
  if (r.exitCode !== 0) throw new UserError(`the repository key is not a readable OpenPGP key (gpg --dearmor: ${lastLine(Buffer.from(r.stderr).toString())}).`);
  return Buffer.from(r.stdout);
}

/** gpgv's last line, with any line about time before it (a key "created in the future": gpgv then says "Bad public key", and that line says why). */
function gpgvWords(stderr: string): string {
  const time = stderr.split('\n').filter((l) => /in the future|time warp|clock problem|newer than the signature/.test(l));
  return [...new Set([...time.map((l) => l.trim()), lastLine(stderr)])].filter(Boolean).join('; ');
}

function lastLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop() ?? '';
}
