// The toolchain that built a cell's driver, as the builder root's dpkg
// database tells it (read once per root): outcomes move with the compiler,
// bpftool and libbpf as much as with the kernel.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { debianTriplet } from './builder.js';
import type { Arch, BuilderChoice, Toolchain } from './types.js';

export interface InstalledPackage {
  version: string;
  depends: string[];
}

/** The installed packages of a dpkg status file: name → version and the names it depends on (the first of each alternative). */
export function parseDpkgStatus(text: string): Map<string, InstalledPackage> {
  const out = new Map<string, InstalledPackage>();
  for (const stanza of text.split(/\n\n+/)) {
    const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(stanza)?.[1]?.trim();
    const name = field('Package');
    const version = field('Version');
    if (!name || !version || !/ installed$/.test(field('Status') ?? '') || out.has(name)) continue;
    const depends = (field('Depends') ?? '').split(',').map((d) => d.trim().split(/[\s|:(]/)[0]!).filter(Boolean);
    out.set(name, { version, depends });
  }
  return out;
}

const roots = new Map<string, Map<string, InstalledPackage>>();

/** A builder root's installed packages (its var/lib/dpkg/status), read once. */
export function rootPackages(root: string): Map<string, InstalledPackage> {
  let pkgs = roots.get(root);
  if (!pkgs) {
    const status = path.join(root, 'var/lib/dpkg/status');
    pkgs = existsSync(status) ? parseDpkgStatus(readFileSync(status, 'utf8')) : new Map<string, InstalledPackage>();
    roots.set(root, pkgs);
  }
  return pkgs;
}

/** `name version` of an installed package, following a metapackage (clang → clang-19, gcc → gcc-12) to the versioned one it depends on. */
export function installed(pkgs: Map<string, InstalledPackage>, name: string): string | undefined {
  const p = pkgs.get(name);
  if (!p) return undefined;
  const versioned = p.depends.find((d) => d.startsWith(`${name}-`) && /-\d+$/.test(d) && pkgs.has(d));
  return versioned ? `${versioned} ${pkgs.get(versioned)!.version}` : `${name} ${p.version}`;
}

/**
 * What built a kernel module (the kernel's own compiler, the cross one for a
 * foreign arch), a legacy probe (clang) or pdig (gcc) in a root of `suite`.
 */
export function driverToolchain(pkgs: Map<string, InstalledPackage>, what: 'kmod' | 'ebpf' | 'pdig', suite: string, builder?: BuilderChoice, cross?: Arch): Toolchain {
  const triplet = cross ? debianTriplet(cross) : undefined;
  const cc = builder?.compiler;
  const compiler =
    what === 'ebpf'
      ? installed(pkgs, 'clang')
      : what === 'pdig' || !cc
        ? installed(pkgs, 'gcc') ?? installed(pkgs, 'g++')
        : (triplet && cc.startsWith('gcc') ? installed(pkgs, `${cc}-${triplet}`) : undefined) ?? installed(pkgs, cc);
  return { suite: cross ? `${suite} +cross ${cross}` : suite, by: 'driver', ...(compiler ? { compiler } : {}) };
}

/** What built a consumer with the modern probe in it: clang for the probe, bpftool for its skeleton, the libbpf it links (Debian's: nothing is bundled). */
export function consumerToolchain(pkgs: Map<string, InstalledPackage>, suite: string, cross?: Arch): Toolchain {
  const compiler = installed(pkgs, 'clang');
  const bpftool = installed(pkgs, 'bpftool');
  const libbpf = installed(pkgs, 'libbpf-dev');
  return {
    suite: cross ? `${suite} +cross ${cross}` : suite,
    by: 'consumer',
    ...(compiler ? { compiler } : {}),
    ...(bpftool ? { bpftool } : {}),
    ...(libbpf ? { libbpf: `${libbpf} (Debian's)` } : {}),
  };
}

/** One line for the report: "trixie: clang-19 1:19.1.7-3, bpftool 7.5.0+…, libbpf-dev 1:1.5.0-3 (Debian's)". */
export function toolchainLine(t: Toolchain): string {
  const parts = [t.compiler, t.bpftool, t.libbpf].filter(Boolean);
  return `${t.suite}${parts.length ? `: ${parts.join(', ')}` : ''}${t.by === 'consumer' ? ' (built into the consumer)' : ''}`;
}
