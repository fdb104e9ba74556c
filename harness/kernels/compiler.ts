// Which compiler built a kernel, and which Debian builder root has it. Since
// 5.8 the kernel's .config says it (CONFIG_CC_VERSION_TEXT); older kernels
// record it in the build tree's include/generated/compile.h (LINUX_COMPILER)
// and in the banner of the image (`Linux version … (gcc version …)`).
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Debian } from '../apt.js';
import { debianTriplet } from '../builder.js';
import type { Arch, BuilderChoice } from '../types.js';

export interface KernelCompiler {
  kind: 'gcc' | 'clang';
  major: number;
  /** e.g. 11.3.0 */
  version: string;
  /** The kernel's own words for it. */
  text: string;
  /** Where the text was read. */
  from: 'CONFIG_CC_VERSION_TEXT' | 'CONFIG_GCC_VERSION' | 'CONFIG_CLANG_VERSION' | 'compile.h' | 'banner';
}

/**
 * A compiler from the kernel's description of it: CONFIG_CC_VERSION_TEXT
 * (`gcc-12 (Debian 12.2.0-14) 12.2.0`, `Debian clang version 14.0.6`),
 * compile.h's LINUX_COMPILER (`gcc version 11.3.0 (Debian 11.3.0-12) `,
 * `gcc (Ubuntu 9.3.0-10ubuntu2) 9.3.0, GNU ld …`, `clang version 10.0.0-4ubuntu1`)
 * or the banner's compiler part (the same words).
 */
export function parseCompilerText(text: string, from: KernelCompiler['from']): KernelCompiler | undefined {
  const t = text.trim();
  const clang = /\bclang version (\d+)\.(\d+)(?:\.(\d+))?/.exec(t);
  if (clang) return { kind: 'clang', major: Number(clang[1]), version: [clang[1], clang[2], clang[3] ?? '0'].join('.'), text: t, from };
  // "gcc version 11.3.0 (…)" (before 5.8), or "gcc[-12] (Distro …) 12.2.0" (5.8 and later)
  const gcc = /\bgcc version (\d+)\.(\d+)(?:\.(\d+))?/.exec(t) ?? /\bgcc(?:-\d+)? \((?:[^()]|\([^()]*\))*\) (\d+)\.(\d+)(?:\.(\d+))?/.exec(t);
  if (gcc) return { kind: 'gcc', major: Number(gcc[1]), version: [gcc[1], gcc[2], gcc[3] ?? '0'].join('.'), text: t, from };
  const named = /\bgcc-(\d+)\b/.exec(t);
  if (named) return { kind: 'gcc', major: Number(named[1]), version: named[1]!, text: t, from };
  return undefined;
}

/**
 * The compiler from the .config's CONFIG_GCC_VERSION / CONFIG_CLANG_VERSION
 * (4.18+; 110401 → gcc 11.4.1): a kernel whose CONFIG_CC_VERSION_TEXT is
 * missing (before 5.8) or says nothing parseable still has it. 0: not that compiler.
 */
export function configVersionCompiler(config: string): KernelCompiler | undefined {
  for (const [kind, key] of [['gcc', 'CONFIG_GCC_VERSION'], ['clang', 'CONFIG_CLANG_VERSION']] as const) {
    const n = Number(new RegExp(`^${key}=(\\d+)$`, 'm').exec(config)?.[1] ?? 0);
    if (n > 0) {
      const v = [Math.floor(n / 10000), Math.floor(n / 100) % 100, n % 100];
      return { kind, major: v[0]!, version: v.join('.'), text: `${key}=${n}`, from: key };
    }
  }
  return undefined;
}

/** LINUX_COMPILER of an include/generated/compile.h. */
export function compileHCompiler(text: string): string | undefined {
  return /^#define LINUX_COMPILER "([^"]*)"/m.exec(text)?.[1];
}

/** The compiler part of a `Linux version <release> (<user>@<host>) (<compiler>) #…` banner, parentheses balanced. */
export function bannerCompiler(banner: string): string | undefined {
  const m = /Linux version \d\S* \([^()\s]*@[^()\s]*\) \(/.exec(banner);
  if (!m) return undefined;
  let depth = 1;
  for (let i = m.index + m[0].length; i < banner.length; i++) {
    if (banner[i] === '(') depth++;
    else if (banner[i] === ')' && --depth === 0) return banner.slice(m.index + m[0].length, i);
    else if (banner[i] === '\n' || banner[i] === '\0') break;
  }
  return undefined;
}

/** The first `Linux version …` banner line in a (decompressed) kernel image. */
export function findBanner(data: Buffer): string | undefined {
  let at = data.indexOf('Linux version ');
  while (at >= 0) {
    const end = data.indexOf(0, at);
    const line = data.subarray(at, end < 0 ? Math.min(data.length, at + 512) : Math.min(end, at + 512)).toString('latin1');
    if (bannerCompiler(line)) return line.split('\n')[0];
    at = data.indexOf('Linux version ', at + 1);
  }
  return undefined;
}

/** Compressed payloads a kernel image may carry (bzImage, arm64 Image.gz), and the tool that unpacks each. */
const PAYLOADS: { magic: Buffer; cmd: string[] }[] = [
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), cmd: ['gzip', '-dc'] },
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), cmd: ['xz', '-dc', '--single-stream'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), cmd: ['zstd', '-dc'] },
];

/** The banner of a kernel image: read as is, else from each compressed payload found in it (trailing data tolerated). */
export async function imageBanner(image: string): Promise<string | undefined> {
  const raw = await readFile(image);
  const direct = findBanner(raw);
  if (direct) return direct;
  for (const p of PAYLOADS) {
    for (let at = raw.indexOf(p.magic), n = 0; at >= 0 && n < 8; at = raw.indexOf(p.magic, at + 1), n++) {
      const r = await execa(p.cmd[0]!, p.cmd.slice(1), { input: raw.subarray(at), encoding: 'buffer', reject: false, stripFinalNewline: false, maxBuffer: 512 * 1024 * 1024 });
      const out = Buffer.from(r.stdout as Uint8Array);
      const b = out.length ? findBanner(out) : undefined;
      if (b) return b;
    }
  }
  return undefined;
}

/**
 * The compiler that built a kernel, from the best record it has: the
 * headers' .config (5.8+), their include/generated/compile.h, or the image's banner.
 */
export async function detectCompiler(headersDir: string, image: string): Promise<KernelCompiler | undefined> {
  const config = path.join(headersDir, '.config');
  const text = existsSync(config) ? readFileSync(config, 'utf8') : '';
  const cc = /^CONFIG_CC_VERSION_TEXT="([^"]*)"/m.exec(text)?.[1];
  const fromConfig = (cc ? parseCompilerText(cc, 'CONFIG_CC_VERSION_TEXT') : undefined) ?? configVersionCompiler(text);
  if (fromConfig) return fromConfig;
  const compileH = path.join(headersDir, 'include/generated/compile.h');
  const fromH = existsSync(compileH) ? compileHCompiler(readFileSync(compileH, 'utf8')) : undefined;
  const parsedH = fromH ? parseCompilerText(fromH, 'compile.h') : undefined;
  if (parsedH) return parsedH;
  const banner = existsSync(image) ? await imageBanner(image) : undefined;
  const fromBanner = banner ? bannerCompiler(banner) : undefined;
  return fromBanner ? parseCompilerText(fromBanner, 'banner') : undefined;
}

/** The compiler majors of one Debian suite (gcc-N packages, cross ones for a foreign arch; clang-N). */
export interface SuiteCompilers {
  suite: string;
  gcc: number[];
  clang: number[];
}

/**
 * The builder root for a kernel built by `c`: the first suite (oldest first)
 * that ships that compiler major; else the nearest newer major (and the
 * substitution is recorded); else the newest there is.
 */
export function chooseBuilder(c: KernelCompiler, offers: SuiteCompilers[]): BuilderChoice {
  const majors = (o: SuiteCompilers) => o[c.kind];
  const exact = offers.find((o) => majors(o).includes(c.major));
  const vendor = compilerVendor(c.text);
  const another = vendor && vendor !== 'Debian' ? (suite: string, compiler: string) => ({ vendor: `the kernel's ${c.kind} ${c.version} is ${vendor}'s build (${c.text}); its drivers are built with Debian's ${compiler} from ${suite}` }) : () => ({});
  if (exact) return { suite: exact.suite, compiler: `${c.kind}-${c.major}`, ...another(exact.suite, `${c.kind}-${c.major}`) };
  const all = [...new Set(offers.flatMap(majors))].sort((a, b) => a - b);
  if (!all.length) throw new Error(`no Debian suite here (${offers.map((o) => o.suite).join(', ') || 'none'}) ships any ${c.kind}`);
  const newer = all.find((m) => m > c.major);
  const major = newer ?? all[all.length - 1]!;
  const suite = offers.find((o) => majors(o).includes(major))!.suite;
  return {
    suite,
    compiler: `${c.kind}-${major}`,
    ...another(suite, `${c.kind}-${major}`),
    substitution: `the kernel was built with ${c.kind} ${c.version}; no Debian suite here (${offers.map((o) => o.suite).join(', ')}) ships ${c.kind}-${c.major}: built with ${c.kind}-${major} from ${suite} (the nearest ${newer ? 'newer' : 'older: none is newer'})`,
  };
}

/**
 * The distribution whose build of the compiler a text names: `(Red Hat
 * 11.4.1-3)`, `(Ubuntu 11.4.0-1ubuntu1~22.04)`, `(Debian 12.2.0-14)`, `(SUSE
 * Linux)`; undefined where it names none (`gcc (GCC) 11.2.0`: a plain build).
 */
export function compilerVendor(text: string): string | undefined {
  return /\((Red Hat|Ubuntu|Debian|SUSE Linux|Alpine|Amazon|Oracle|Gentoo|Arch Linux)\b/.exec(text)?.[1];
}

/**
 * The Debian suites builder roots may come from, oldest first (suites the
 * matrix configures are added in this order): those the mirror still serves.
 * buster (gcc-8) and stretch (gcc-6) are archived (archive.debian.org, not
 * deb.debian.org): kernels built with gcc 5–8 (Amazon Linux 2's 4.14: gcc
 * 7.3.1) get bullseye's gcc-9, and the substitution is said.
 */
export const BUILDER_SUITES = ['bullseye', 'bookworm', 'trixie', 'sid'];


/** The majors one suite offers, from `apt-cache pkgnames` output: native gcc-N (or gcc-N-<cross triplet>) and clang-N. */
export function compilersInNames(names: string[], cross?: string): { gcc: number[]; clang: number[] } {
  const gccRe = cross ? new RegExp(`^gcc-(\\d+)-${cross}$`) : /^gcc-(\d+)$/;
  const pick = (re: RegExp) => [...new Set(names.map((n) => re.exec(n)?.[1]).filter((x): x is string => !!x).map(Number))].sort((a, b) => a - b);
  return { gcc: pick(gccRe), clang: pick(/^clang-(\d+)$/) };
}

// per Debian (its mirror and suites), per host/target arch
const offersCache = new WeakMap<Debian, Map<string, Promise<SuiteCompilers[]>>>();

/** What the reachable suites offer, for building on `host` for `target` (apt lists of the host arch). Unreachable suites are left out. */
export function suiteCompilers(debian: Debian, host: Arch, target: Arch): Promise<SuiteCompilers[]> {
  const key = `${host}/${target}`;
  const cache = offersCache.get(debian) ?? new Map<string, Promise<SuiteCompilers[]>>();
  offersCache.set(debian, cache);
  let job = cache.get(key);
  if (!job) {
    const known = [...BUILDER_SUITES, ...Object.keys(debian.suites).filter((s) => !BUILDER_SUITES.includes(s) && !s.includes('-'))];
    const cross = host === target ? undefined : debianTriplet(target);
    job = Promise.all(
      known.map(async (suite): Promise<SuiteCompilers | undefined> => {
        try {
          const dist = debian.dist(suite, host);
          await dist.update();
          const names = [...(await dist.apt('apt-cache', ['pkgnames', 'gcc-'])).split('\n'), ...(await dist.apt('apt-cache', ['pkgnames', 'clang-'])).split('\n')];
          return { suite, ...compilersInNames(names, cross) };
        } catch {
          return undefined;
        }
      }),
    ).then((xs) => xs.filter((x): x is SuiteCompilers => !!x));
    cache.set(key, job);
    job.catch(() => cache.delete(key));
  }
  return job;
}

/** The Debian package of the kernel's compiler: `x86_64-linux-gnu-gcc-16 (Debian …)` and `gcc-12 (Debian …)` name gcc-16 and gcc-12. */
export function compilerPackage(ccVersionText: string): string {
  return /^(?:[a-z0-9_]+-linux-gnu\w*-)?(gcc(?:-\d+)?)\b/.exec(ccVersionText)?.[1] ?? 'gcc';
}

/**
 * Programs a build must find under the plain names a self-built tree uses:
 * `gcc` (and `<triplet>-gcc` for a foreign arch) → the chosen compiler.
 * Undefined when the tree names its compiler itself (Debian's).
 */
export function compilerAliases(b: BuilderChoice, arch: Arch, host: Arch): Record<string, string> | undefined {
  if (!b.plainName) return undefined;
  const triplet = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', armhf: 'arm-linux-gnueabihf' }[arch];
  if (b.compiler.startsWith('clang')) return { gcc: `/usr/bin/${b.compiler}`, ...(arch !== host ? { [`${triplet}-gcc`]: `/usr/bin/${b.compiler}` } : {}) };
  return arch !== host ? { [`${triplet}-gcc`]: `/usr/bin/${triplet}-${b.compiler}` } : { gcc: `/usr/bin/${b.compiler}` };
}
