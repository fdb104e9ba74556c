// Bad input through the CLI: many mutated matrix.yaml files (wrong types,
// unknown keys, huge values, unicode, YAML anchors gone wrong, syntax errors,
// random damage). Each must end in one paragraph naming the problem — never a
// stack trace.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../tmp.js';
import path from 'node:path';

const bin = path.resolve('bin/kmatrix.js');
const base = readFileSync('matrix.yaml', 'utf8').replace(/^recommended: (\S+)$/m, (_, f: string) => `recommended: ${path.resolve(f)}`);
const sub = (from: RegExp | string, to: string) => {
  const out = base.replace(from, to);
  assert.notEqual(out, base, `mutation ${String(from)} applies`);
  return out;
};

/** Mutations that must be refused (exit 2, one paragraph). */
const BAD: Record<string, string> = {
  'timeouts: a string': sub(/^timeouts:.*$/m, 'timeouts: { boot: "soon", load: 1, capture: 1 }'),
  'timeouts: huge': sub(/^timeouts:.*$/m, 'timeouts: { boot: 1e300, load: 1, capture: 1 }'),
  'timeouts: negative': sub(/^timeouts:.*$/m, 'timeouts: { boot: -5, load: 1, capture: 1 }'),
  'kernels: a list': sub(/^kernels:\n/m, 'kernels: []\nkernels_old:\n'),
  'unknown top-level key': sub(/^suites:\n/m, 'kernals: {}\nsuites:\n'),
  'unknown kernel key': sub('debian-6.1-amd64:  { arch: amd64, machine: q35,', 'debian-6.1-amd64:  { arch: amd64, machien: q35,'),
  'arch: a number': sub('debian-6.1-amd64:  { arch: amd64,', 'debian-6.1-amd64:  { arch: 64,'),
  'unknown machine': sub('debian-6.1-amd64:  { arch: amd64, machine: q35,', 'debian-6.1-amd64:  { arch: amd64, machine: q99,'),
  'drivers: a string': sub('    drivers: [kmod, ebpf, modern-ebpf]\n', '    drivers: kmod\n'),
  'unknown driver': sub('    drivers: [kmod, ebpf, modern-ebpf]\n', '    drivers: [kmod, ebpf, kmodd]\n'),
  'matrix: a mapping': sub(/^matrix:\n[\s\S]*$/m, 'matrix: { kernels: [debian-6.1-amd64] }\n'),
  'matrix: empty list': sub(/^matrix:\n[\s\S]*$/m, 'matrix: []\n'),
  'suites: a number': sub(/^suites:\n/m, 'suites: 5\nsuites_old:\n'),
  'unicode kernel id': sub('debian-6.1-amd64:  {', 'débian-6.1-amd64💥:  {'),
  'unicode driver (Cyrillic к)': sub('    drivers: [kmod, ebpf, modern-ebpf]\n', '    drivers: [\u043amod, ebpf]\n'),
  'zero-width space in a reference': sub('kernels: [debian-6.1-arm64-virt,', 'kernels: [debian-6.1-arm64\u200b-virt,'),
  'right-to-left override in a profile': sub(/profiles: \[host\]/, 'profiles: [\u202ehost]'),
  'huge id (100 000 characters)': sub('debian-6.1-amd64:  {', `${'k'.repeat(100_000)}:  {`),
  'huge list of unknown kernels': sub('  - kernels: [debian-5.10-amd64, debian-6.1-amd64, debian-6.12-amd64, debian-sid-amd64]\n    drivers: [kmod, ebpf, modern-ebpf]', `  - kernels: [${Array.from({ length: 5000 }, (_, i) => `k${i}`).join(', ')}]\n    drivers: [kmod, ebpf, modern-ebpf]`),
  'alias to an undefined anchor': sub('kernels: *amd64 }', 'kernels: *amd46 }'),
  'anchor of a mapping used as a list': sub('"Kubeadm Kubernetes":   { profile: host, kernels: *amd64 }', '"Kubeadm Kubernetes":   &plat { profile: host, kernels: *amd64 }\n  "Kind2": { profile: host, kernels: *plat }'),
  'merge key of a scalar': sub('  "Minikube":             { profile: host, kernels: *amd64 }', '  "Minikube":             { <<: *amd64, profile: host }'),
  'self-referencing anchor': sub(/^matrix:\n/m, 'loop: &l [*l]\nmatrix:\n'),
  'alias bomb (billion laughs)': `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n`,
  'duplicate kernel id': sub('  debian-6.12-amd64: {', '  debian-6.1-amd64: { arch: amd64, machine: q35, debian: { suite: bookworm, flavour: amd64 } }\n  debian-6.12-amd64: {'),
  'a tab for indentation': sub('  bullseye: {}', '\tbullseye: {}'),
  'unclosed flow mapping': sub('debian-6.1-amd64:  { arch: amd64,', 'debian-6.1-amd64:  { arch: amd64, [['),
  'empty file': '',
  'only a comment': '# nothing here\n',
  'a scalar document': 'hello\n',
  'null document': 'null\n',
  'a list document': '- 1\n- 2\n',
  'binary garbage': '\u0000\u0001\u0002\u00ff\ufffe' + 'x'.repeat(50),
  'two documents': base + '\n---\nmatrix: []\n',
  'mirror: a list': sub(/^mirror: auto$/m, 'mirror: [a, b]'),
  'source with both debian and dir': sub('"0.20.0":   { debian: { suite: trixie, package: falcosecurity-scap-dkms },', '"0.20.0":   { dir: /tmp, debian: { suite: trixie, package: falcosecurity-scap-dkms },'),
  'consumer requires: not a version': sub('requires: { api: "8.0.0", schema: "4.0.0" } }\n  sysdig-0.29', 'requires: { api: 8, schema: "4.0.0" } }\n  sysdig-0.29'),
};

/** Seeded random damage: a line dropped, duplicated, truncated, characters swapped. */
function randomDamage(n: number): [string, string][] {
  let seed = 12345;
  const rnd = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
  const lines = base.split('\n');
  const out: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const l = lines.slice();
    const at = rnd(l.length);
    const kind = rnd(4);
    if (kind === 0) l.splice(at, 1);
    else if (kind === 1) l.splice(at, 0, l[at]!);
    else if (kind === 2) l[at] = l[at]!.slice(0, rnd(Math.max(1, l[at]!.length)));
    else l[at] = l[at]!.split('').map((c) => (rnd(7) === 0 ? ':{}[],&*#'[rnd(9)] : c)).join('');
    out.push([`random ${i}: ${['drop', 'duplicate', 'truncate', 'garble'][kind]} line ${at + 1}`, l.join('\n')]);
  }
  return out;
}

function assertParagraph(name: string, r: { exitCode?: number; stderr: string }): void {
  assert.doesNotMatch(r.stderr, /\n\s+at |Error: .*\n.*node:|TypeError|RangeError|ReferenceError/, `${name}: no stack trace:\n${r.stderr.slice(0, 600)}`);
  if (r.exitCode === 0) return;
  assert.equal(r.exitCode, 2, `${name}: exit 2 (bad input), got ${r.exitCode}:\n${r.stderr.slice(0, 600)}`);
  assert.match(r.stderr, /^kmatrix: /, name);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one paragraph:\n${r.stderr.slice(0, 600)}`);
  assert.ok(r.stderr.length < 2000, `${name}: a paragraph, not a dump (${r.stderr.length} characters)`);
}

describe('bad input: mutated matrix files through the CLI', function () {
  this.timeout(300_000); // 37 CLI starts: ~1 s each on a quiet 2-core machine, several when it is busy
  const dir = tempDir('kmatrix-fuzz-');
  const run = async (cases: [string, string][]) => {
    const out: { name: string; exitCode?: number; stderr: string }[] = [];
    for (let i = 0; i < cases.length; i += 6)
      out.push(
        ...(await Promise.all(
          cases.slice(i, i + 6).map(async ([name, text], j) => {
            const file = path.join(dir, `m${i + j}.yaml`);
            writeFileSync(file, text);
            const r = await execa('node', [bin, '--matrix', file, 'list'], { reject: false, env: { CI: 'true' } });
            return { name, exitCode: r.exitCode, stderr: r.stderr };
          }),
        )),
      );
    return out;
  };

  it(`refuses each of ${Object.keys(BAD).length} bad files with one paragraph, no stack trace`, async () => {
    const problems: string[] = [];
    for (const r of await run(Object.entries(BAD))) {
      try {
        assert.notEqual(r.exitCode, 0, `${r.name}: accepted`);
        assertParagraph(r.name, r);
      } catch (e) {
        problems.push((e as Error).message.split('\n').slice(0, 3).join(' | '));
      }
    }
    assert.deepEqual(problems, []);
  });

  it('random damage to matrix.yaml: accepted or one paragraph, never a stack trace', async () => {
    const results = await run(randomDamage(12));
    for (const r of results) assertParagraph(r.name, r);
    assert.ok(results.some((r) => r.exitCode === 2), 'some damage is refused');
  });
});
