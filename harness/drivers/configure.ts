// A driver tree from a git checkout, configured the way its CMake does it:
// driver_config.h from driver_config.h.in and Makefile from Makefile.in
// (CMake's configure_file: ${VAR} and @VAR@), in a directory of its own
// (CMake's build/driver/src), so the checkout itself stays as fetched.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cached } from '../cache/cache.js';
import { SourceUnavailable } from '../errors.js';
import type { Versions } from '../types.js';

/** CMake's configure_file substitution (unknown variables become empty, as in CMake). */
export function configureFile(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|@(\w+)@/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

/**
 * The variables the tree's CMake gives its driver: libs-era trees (API_VERSION
 * and SCHEMA_VERSION files; DRIVER_NAME "scap"), or sysdig-era ones (no
 * API/schema versions yet; sysdig's top-level CMake names the module
 * sysdig-probe and the device sysdig, the version being the commit Falco pinned).
 */
export function driverVariables(driverDir: string, commit: string, name = 'scap'): Record<string, string> {
  const vars: Record<string, string> = { GIT_COMMIT: commit, KBUILD_FLAGS: '' };
  const triple = (file: string) => readFileSync(path.join(driverDir, file), 'utf8').match(/\d+/g)!.slice(0, 3);
  if (existsSync(path.join(driverDir, 'API_VERSION'))) {
    for (const [kind, file] of [['API', 'API_VERSION'], ['SCHEMA', 'SCHEMA_VERSION']] as const) {
      const [major, minor, patch] = triple(file);
      Object.assign(vars, { [`PPM_${kind}_CURRENT_VERSION_MAJOR`]: major, [`PPM_${kind}_CURRENT_VERSION_MINOR`]: minor, [`PPM_${kind}_CURRENT_VERSION_PATCH`]: patch });
    }
    Object.assign(vars, { DRIVER_VERSION: commit, DRIVER_NAME: name, DRIVER_DEVICE_NAME: name, DRIVER_PACKAGE_NAME: name });
  } else {
    Object.assign(vars, { PROBE_VERSION: commit, PROBE_NAME: 'sysdig-probe', PROBE_DEVICE_NAME: 'sysdig', PACKAGE_NAME: 'sysdig' });
  }
  return vars;
}

/** The configured driver tree of a checkout's `driver/` (cached by commit). */
export async function configuredDriverTree(checkout: string, commit: string, name?: string): Promise<string> {
  const src = path.join(checkout, 'driver');
  if (!existsSync(path.join(src, 'driver_config.h.in')))
    throw new SourceUnavailable(`${commit}: no driver/driver_config.h.in in the checkout (not a Falco/sysdig driver tree)`);
  const out = await cached('sources', { configured: commit, v: 2, ...(name ? { name } : {}) }, async (dir) => {
    const to = path.join(dir, 'driver');
    await mkdir(to);
    await cp(src, to, { recursive: true });
    const vars = driverVariables(src, commit, name);
    for (const f of readdirSync(src).filter((n) => n.endsWith('.in')))
      await writeFile(path.join(to, f.replace(/\.in$/, '')), configureFile(readFileSync(path.join(src, f), 'utf8'), vars));
    await configureModules(src, to, vars);
  });
  return path.join(out, 'driver');
}

/** What a configured tree declares: its version and API/schema versions (driver_config.h). */
export function readDriverConfig(dir: string): { version: string; versions: Versions } {
  const text = readFileSync(path.join(dir, 'driver_config.h'), 'utf8');
  const num = (name: string) => new RegExp(`#define\\s+${name}\\s+(\\d+)`).exec(text)?.[1] ?? '0';
  const triple = (kind: 'API' | 'SCHEMA') =>
    ['MAJOR', 'MINOR', 'PATCH'].map((p) => num(`PPM_${kind}_CURRENT_VERSION_${p}`)).join('.');
  return {
    // sysdig-era trees (before API/schema versions) call it PROBE_VERSION
    version: /#define\s+(?:DRIVER|PROBE)_VERSION\s+"([^"]+)"/.exec(text)?.[1] ?? 'unknown',
    versions: { api: triple('API'), schema: triple('SCHEMA') },
  };
}

/**
 * The kernel module's configure checks (libs since 2023): each configure/<CHECK>/
 * gets the shared Makefile and build.sh, and Makefile.inc from Makefile.inc.in
 * with CONFIGURE_MODULE=<CHECK>, as the driver's CMakeLists does; make then
 * builds each check and sets -DHAS_<CHECK> where it builds (e.g. ACCESS_OK_2).
 */
export async function configureModules(src: string, to: string, vars: Record<string, string>): Promise<string[]> {
  const conf = path.join(src, 'configure');
  if (!existsSync(path.join(conf, 'Makefile.inc.in'))) return [];
  const checks = readdirSync(conf, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const check of checks) {
    const at = path.join(to, 'configure', check);
    await cp(path.join(conf, 'Makefile'), path.join(at, 'Makefile'));
    await cp(path.join(conf, 'build.sh'), path.join(at, 'build.sh'));
    await writeFile(path.join(at, 'Makefile.inc'), configureFile(readFileSync(path.join(conf, 'Makefile.inc.in'), 'utf8'), { ...vars, CONFIGURE_MODULE: check }));
  }
  // only the checks' directories, as CMake lays them out
  for (const f of ['Makefile', 'build.sh', 'Makefile.inc.in']) await rm(path.join(to, 'configure', f), { force: true });
  return checks;
}
