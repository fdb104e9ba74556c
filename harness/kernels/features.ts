// What a kernel's build tree says about the drivers it can run: its .config
// (the headers tree has the kernel's own) and its version. Read once per
// kernel tree. These facts name the cause of a failure the driver words
// poorly (libpman's "prog 'BPF_TRACE_RAW_TP' is not supported" means: no BTF).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { KernelFeatures, KernelTree } from '../types.js';

/** `y`/`m` of a CONFIG_ option in a .config, false when "is not set" or absent. */
function enabled(config: string, option: string): boolean {
  return new RegExp(`^CONFIG_${option}=[ym]$`, 'm').test(config);
}

/** Is version `v` (e.g. 5.10.237, 4.9.229, 6.12.0-rc1) at least major.minor? */
export function atLeast(v: string, major: number, minor: number): boolean {
  const [a = NaN, b = NaN] = v.split(/[.-]/).map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * A kernel's facts from its .config and upstream version:
 * - btf: CONFIG_DEBUG_INFO_BTF (the kernel's BTF in /sys/kernel/btf/vmlinux): modern eBPF's CO-RE and its tracing programs need it;
 * - ringbuf: BPF_MAP_TYPE_RINGBUF, 5.8 and later (with CONFIG_BPF_SYSCALL): modern eBPF's buffers;
 * - btfTracing: BTF-enabled raw tracepoints (BPF_TRACE_RAW_TP, tp_btf), 5.5 and later, with BTF: modern eBPF's programs;
 * - rawTracepoints: BPF_PROG_TYPE_RAW_TRACEPOINT, 4.17 and later: the legacy probe's on x86_64 and, since libs 0.15, arm64 (sched_process_fork);
 * - moduleSig: CONFIG_MODULE_SIG (without it module.sig_enforce=1 is not even a parameter); sigForce: CONFIG_MODULE_SIG_FORCE.
 */
export function featuresOf(config: string, version: string): KernelFeatures {
  const bpf = enabled(config, 'BPF_SYSCALL');
  const btf = enabled(config, 'DEBUG_INFO_BTF');
  return {
    bpf,
    btf,
    ringbuf: bpf && atLeast(version, 5, 8),
    btfTracing: bpf && btf && atLeast(version, 5, 5),
    rawTracepoints: bpf && atLeast(version, 4, 17),
    moduleSig: enabled(config, 'MODULE_SIG'),
    sigForce: enabled(config, 'MODULE_SIG_FORCE'),
  };
}

const known = new Map<string, Promise<KernelFeatures | undefined>>();

/** A fetched kernel's facts, read once per tree; undefined where its headers tree has no .config (a box's kernel: its headers are in the box). */
export function kernelFeatures(k: Pick<KernelTree, 'root' | 'headers' | 'version' | 'box'>): Promise<KernelFeatures | undefined> {
  if (k.box || !k.root) return Promise.resolve(undefined);
  const config = path.join(k.root, k.headers, '.config');
  let job = known.get(config);
  if (!job) {
    job = existsSync(config) ? readFile(config, 'utf8').then((text) => featuresOf(text, k.version)) : Promise.resolve(undefined);
    known.set(config, job);
  }
  return job;
}

/** The facts in words, for the report: "BTF yes · BPF ring buffer (5.8) yes · …". */
export function featuresLine(f: KernelFeatures): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  return [
    `bpf() ${yes(f.bpf)}`,
    `BTF ${yes(f.btf)}`,
    `BPF ring buffer (5.8) ${yes(f.ringbuf)}`,
    `BTF raw tracepoints (5.5) ${yes(f.btfTracing)}`,
    `raw tracepoints (4.17) ${yes(f.rawTracepoints)}`,
    `module signatures ${f.sigForce ? 'forced (CONFIG_MODULE_SIG_FORCE)' : f.moduleSig ? 'checked (enforced with module.sig_enforce=1)' : 'not checked (no CONFIG_MODULE_SIG)'}`,
  ].join(' · ');
}
