// A driver source from Debian: the ready-configured driver tree (kmod at the
// top, legacy probe in bpf/) that falcosecurity-scap-dkms installs under /usr/src.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { extractDebs } from '../builder.js';
import { cached } from '../cache/cache.js';
import { isUnavailable, SourceUnavailable } from '../errors.js';
import type { DriverTree, SourceSpec } from '../types.js';
import { readDriverConfig } from './configure.js';

export async function fetchDebianSource(debian: Debian, deb: NonNullable<SourceSpec['debian']>): Promise<DriverTree> {
  let files;
  try {
    files = await debian.dist(deb.suite, 'amd64').download([deb.package]);
  } catch (e) {
    if (!isUnavailable(e)) throw e;
    throw new SourceUnavailable(`${deb.package} from ${deb.suite} is not available: ${(e as Error).message}`);
  }
  const root = await cached('sources', files.map((f) => f.sha256), (dir) => extractDebs(files.map((f) => f.file), dir));
  const usrSrc = path.join(root, 'usr/src');
  const tree = readdirSync(usrSrc).find((d) => existsSync(path.join(usrSrc, d, 'driver_config.h')));
  if (!tree) throw new SourceUnavailable(`${deb.package} (${deb.suite}) has no configured driver tree under /usr/src`);
  const dir = path.join(usrSrc, tree);
  return { dir, ...readDriverConfig(dir), origin: `debian:${deb.suite}/${deb.package}=${files[0]!.version}` };
}

