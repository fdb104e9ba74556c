import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../harness/errors.js';
import { renderReport } from '../../harness/reports/html.js';
import type { BatteryCallResult, BatteryResult, CellResult, DriverId } from '../../harness/types.js';
import { tempDir } from '../tmp.js';
import { batteryDifferences, claimVerdicts, judgedOn, kernelOutcome, platformLine, loadRecommended, platformVerdicts, type ClaimVerdict, type PlatformMapping, type RecommendedTable } from '../../harness/verdicts.js';

// Kernel id → [version, arch, machine].
const KERNELS: Record<string, [string, CellResult['kernel']['arch'], string]> = {
  'k4.9': ['4.9.337', 'amd64', 'q35'],
  'k5.10': ['5.10.237', 'amd64', 'q35'],
  'k6.1': ['6.1.176', 'amd64', 'q35'],
  'k6.12': ['6.12.41', 'amd64', 'q35'],
  'pi3-6.1': ['6.1.176', 'arm64', 'raspi3b'],
  al2: ['5.10.245-245.983.amzn2', 'amd64', 'q35'],
  al2023: ['6.1.158-180.294.amzn2023', 'amd64', 'q35'],
};

interface Extra extends Partial<CellResult> {
  source?: string;
  untracedMarker?: boolean;
}

function cell(kernel: string, driver: DriverId, status: CellResult['status'], profile = 'host', extra: Extra = {}): CellResult {
  const [version, arch, machine] = KERNELS[kernel]!;
  const { source = '0.23.2', untracedMarker, ...rest } = extra;
  return {
    id: `${kernel}/${driver}@${source}/${profile}`,
    kernel: { id: kernel, version, arch, machine },
    driver: { id: driver, source },
    profile,
    status,
    ...(status === 'pass' ? { evidence: { events: 10, marker: true, ...(untracedMarker !== undefined ? { untracedMarker } : {}) } } : {}),
    durations: {},
    logs: {},
    attempts: 1,
    ...rest,
  } as CellResult;
}
const fail = (k: string, d: DriverId, phase: CellResult['phase'], firstError: string, profile = 'host', extra: Extra = {}): CellResult =>
  cell(k, d, 'fail', profile, { phase, firstError, ...extra });
const skip = (k: string, d: DriverId, reason: string, profile = 'host'): CellResult => cell(k, d, 'skip', profile, { reason });
const error = (k: string, d: DriverId, reason: string, profile = 'host'): CellResult => cell(k, d, 'error', profile, { reason, phase: 'boot' });

function table(recommended: DriverId, claims: string[] = []): RecommendedTable {
  return { source: 't', platforms: [{ platform: 'P', recommended, resources: 'Helm Chart' }], claims: claims.map((id) => ({ id, text: id })) };
}
const mapping = [{ platform: 'P', profile: 'host', kernels: ['k5.10', 'k6.1', 'k6.12'] }];

function claim(id: string, cells: CellResult[]): ClaimVerdict {
  return claimVerdicts(table('kmod', [id]), cells)[0]!;
}

describe('verdicts', () => {
  describe('recommended-drivers.yaml', () => {
    it('loads the shared table: 12 platforms and 10 claims', () => {
      const t = loadRecommended(path.resolve('recommended-drivers.yaml'));
      assert.equal(t.platforms.length, 12);
      assert.equal(t.claims.length, 10);
      assert.deepEqual(t.platforms.find((p) => p.platform === 'GKE'), { platform: 'GKE', recommended: 'ebpf', resources: 'Falco on GKE' });
      assert.equal(t.platforms.at(-1)!.note, 'Kernel specific');
    });

    it('names the file of a bad table', () => {
      const dir = tempDir('kmatrix-verdicts-');
      const file = path.join(dir, 'rec.yaml');
      writeFileSync(file, 'source: x\nplatforms:\n  - { platform: A, recommended: kmdo }\n');
      assert.throws(() => loadRecommended(file), (e) => e instanceof UserError && e.message.includes(file) && /kmdo/.test(e.message));
      writeFileSync(file, 'platforms: [1,\n');
      assert.throws(() => loadRecommended(file), (e) => e instanceof UserError && e.message.startsWith(`${file}: invalid YAML`));
      assert.throws(() => loadRecommended(path.join(dir, 'absent.yaml')), UserError);
    });
  });

  describe('per kernel', () => {
    it('one passing source is enough; skips and errors are no evidence', () => {
      const cells = [fail('k6.12', 'kmod', 'build', "'fd_is_open' undeclared", 'host', { source: '0.1.1dev' }), cell('k6.12', 'kmod', 'pass')];
      assert.deepEqual(kernelOutcome('k6.12', cells), { kernel: 'k6.12', outcome: 'pass', cells: ['k6.12/kmod@0.23.2/host'] });
      assert.equal(kernelOutcome('k6.12', cells.slice(0, 1)).outcome, 'fail');
      const none = kernelOutcome('k6.1', [error('k6.1', 'kmod', 'boot timeout'), skip('k6.1', 'kmod', 'source unavailable')]);
      assert.equal(none.outcome, 'none');
      assert.equal(none.why, '2 skipped/errored/flaky cell(s): boot timeout');
      assert.equal(kernelOutcome('k5.10', []).why, 'no cell ran');
    });

    it('a cell of a mispairing (class pairing:*) is no evidence, pass or fail, and says so', () => {
      const mis = (status: 'pass' | 'fail') => cell('k6.1', 'kmod', status, 'host', { source: '0.1.1dev', class: 'pairing:schema-mismatch' as CellResult['class'], reason: 'driver schema 1.0.0, consumer wants 2.0.0', ...(status === 'fail' ? { phase: 'load' as const } : {}) });
      for (const status of ['pass', 'fail'] as const) {
        const e = kernelOutcome('k6.1', [mis(status)]);
        assert.equal(e.outcome, 'none', status);
        assert.equal(e.why, '1 skipped/errored/flaky/mispaired cell(s): k6.1/kmod@0.1.1dev/host is pairing:schema-mismatch (no evidence): driver schema 1.0.0, consumer wants 2.0.0');
      }
      assert.equal(kernelOutcome('k6.1', [mis('fail'), cell('k6.1', 'kmod', 'pass')]).outcome, 'pass');
      assert.equal(kernelOutcome('k6.1', [mis('pass'), fail('k6.1', 'kmod', 'load', 'x')]).outcome, 'fail', 'the mispaired pass does not hide the failure');
    });
  });

  describe('platforms', () => {
    it('confirmed when the recommended driver passes on every representative kernel', () => {
      const [v] = platformVerdicts(table('kmod'), mapping, ['k5.10', 'k6.1', 'k6.12'].map((k) => cell(k, 'kmod', 'pass')));
      assert.equal(v!.verdict, 'confirmed');
      assert.equal(v!.resources, 'Helm Chart');
      assert.deepEqual(v!.evidence.map((e) => e.outcome), ['pass', 'pass', 'pass']);
      assert.equal(v!.evidenceRecommends, 'kmod');
    });

    it('partly, naming the failing kernel and the kernels without evidence', () => {
      const [v] = platformVerdicts(table('kmod'), mapping, [
        cell('k5.10', 'kmod', 'pass'),
        fail('k6.12', 'kmod', 'build', "error: 'fd_is_open' undeclared"),
        error('k6.1', 'kmod', 'QEMU crashed'),
      ]);
      assert.equal(v!.verdict, 'partly');
      assert.match(v!.why, /passes on k5\.10; fails on k6\.12 \(k6\.12\/kmod@0\.23\.2\/host failed at build: error: 'fd_is_open' undeclared\)/);
      assert.match(v!.why, /no evidence on k6\.1 \(1 skipped\/errored\/flaky cell\(s\): QEMU crashed\)/);
      assert.deepEqual(v!.evidence[2]!.cells, ['k6.12/kmod@0.23.2/host']);
    });

    it('partly when some kernels pass and the others have no evidence', () => {
      const [v] = platformVerdicts(table('kmod'), mapping, [cell('k5.10', 'kmod', 'pass'), cell('k6.1', 'kmod', 'pass')]);
      assert.equal(v!.verdict, 'partly');
      assert.match(v!.why, /no evidence on k6\.12 \(no cell ran\)/);
    });

    it('contradicted when it fails everywhere it has evidence', () => {
      const [v] = platformVerdicts(table('ebpf'), mapping, [
        fail('k6.1', 'ebpf', 'capture', 'mmap (3): Cannot allocate memory'),
        fail('k6.12', 'ebpf', 'load', 'bpf: permission denied'),
        skip('k5.10', 'ebpf', 'source unavailable'),
      ]);
      assert.equal(v!.verdict, 'contradicted');
      assert.match(v!.why, /^ebpf fails on every kernel with evidence: k6\.1 .*mmap.*; k6\.12 .*permission denied.*no evidence on k5\.10/);
      assert.equal(v!.evidenceRecommends, undefined);
      assert.equal(v!.evidenceRecommendsWhy, 'no driver passed here');
    });

    it('untested with the skip reason when every cell was skipped or errored', () => {
      const m = [{ platform: 'P', profile: 'ptrace-only', kernels: ['k6.1', 'k6.12'] }];
      const [v] = platformVerdicts(table('pdig'), m, [skip('k6.1', 'pdig', 'pdig source not available', 'ptrace-only'), skip('k6.12', 'pdig', 'pdig source not available', 'ptrace-only')]);
      assert.equal(v!.verdict, 'untested');
      assert.equal(v!.why, 'no evidence on k6.1, k6.12 (1 skipped/errored/flaky cell(s): pdig source not available)');
      assert.deepEqual(v!.evidence.map((e) => e.outcome), ['none', 'none']);
    });

    it('untested when the matrix has no cell of the recommended driver for the platform', () => {
      const [v] = platformVerdicts(table('pdig'), mapping, [cell('k6.1', 'kmod', 'pass'), cell('k6.12', 'kmod', 'pass')]);
      assert.equal(v!.verdict, 'untested');
      assert.match(v!.why, /^no pdig cell in the matrix for this platform/);
      assert.equal(v!.evidenceRecommends, 'kmod');
    });

    it('a partial run (one kernel of several) is not enough evidence: no verdict, no recommendation', () => {
      const [v] = platformVerdicts(table('kmod'), mapping, [cell('k6.1', 'kmod', 'pass'), cell('k6.1', 'ebpf', 'pass')]);
      assert.equal(v!.verdict, 'insufficient');
      assert.match(v!.why, /^not enough evidence: only k6.1 of 3 representative kernels/);
      assert.equal(v!.evidenceRecommends, undefined);
      const [two] = platformVerdicts(table('kmod'), mapping, [cell('k6.1', 'kmod', 'pass'), cell('k5.10', 'kmod', 'fail')]);
      assert.equal(two!.verdict, 'partly', 'two kernels with results are judged');
    });

    it('untested when the platform has no mapping', () => {
      const [v] = platformVerdicts(table('kmod'), [], [cell('k6.1', 'kmod', 'pass')]);
      assert.equal(v!.verdict, 'untested');
      assert.equal(v!.why, 'no platform mapping in matrix.yaml');
      assert.equal(v!.evidenceRecommends, undefined);
    });

    it('only cells of the mapped profile and kernels stand for the platform', () => {
      const [v] = platformVerdicts(table('kmod'), [{ platform: 'P', profile: 'locked-down', kernels: ['k6.1'] }], [
        cell('k6.1', 'kmod', 'pass'),
        cell('k6.12', 'kmod', 'pass', 'locked-down'),
        fail('k6.1', 'kmod', 'load', 'Key was rejected by service', 'locked-down'),
        cell('k6.1', 'ebpf', 'pass', 'locked-down'),
      ]);
      assert.equal(v!.verdict, 'contradicted');
      assert.equal(v!.evidenceRecommends, 'ebpf');
    });

    it('evidence recommends the driver passing on most kernels, modern-ebpf first on a tie', () => {
      const both = ['k5.10', 'k6.1', 'k6.12'].flatMap((k) => [cell(k, 'kmod', 'pass'), cell(k, 'ebpf', 'pass')]);
      const [tie] = platformVerdicts(table('kmod'), mapping, [...both, cell('k6.1', 'modern-ebpf', 'pass'), cell('k6.12', 'modern-ebpf', 'pass'), cell('k5.10', 'modern-ebpf', 'pass')]);
      assert.equal(tie!.evidenceRecommends, 'modern-ebpf');
      assert.match(tie!.evidenceRecommendsWhy, /^modern-ebpf passes on 3 of 3 representative kernel\(s\); kmod on 3; ebpf on 3; tie broken/);
      const [most] = platformVerdicts(table('kmod'), mapping, [...both.filter((c) => c.driver.id === 'kmod'), cell('k6.1', 'modern-ebpf', 'pass'), fail('k5.10', 'modern-ebpf', 'load', 'no BTF')]);
      assert.equal(most!.evidenceRecommends, 'kmod');
      assert.match(most!.evidenceRecommendsWhy, /^kmod passes on 3 of 3 .*modern-ebpf on 1$/);
      // kmod and ebpf tie (no modern-ebpf): kmod comes before ebpf in falcoctl's order.
      const [kmodFirst] = platformVerdicts(table('ebpf'), mapping, both);
      assert.equal(kmodFirst!.evidenceRecommends, 'kmod');
    });

    it('ignores error cells: an error beside a pass is still a pass, alone it is no evidence', () => {
      const [v] = platformVerdicts(table('kmod'), mapping, [
        ...['k5.10', 'k6.1', 'k6.12'].map((k) => cell(k, 'kmod', 'pass')),
        error('k6.1', 'kmod', 'boot timeout'),
        error('k6.12', 'modern-ebpf', 'boot timeout'),
      ]);
      assert.equal(v!.verdict, 'confirmed');
      assert.equal(v!.evidenceRecommends, 'kmod');
    });

    it('mispaired cells (pairing:*) neither confirm, contradict nor recommend', () => {
      const mis = (k: string, d: DriverId, status: 'pass' | 'fail') => cell(k, d, status, 'host', { class: 'pairing:schema-mismatch' as CellResult['class'], ...(status === 'fail' ? { phase: 'load' as const } : {}) });
      const only = platformVerdicts(table('kmod'), mapping, ['k5.10', 'k6.1', 'k6.12'].map((k) => mis(k, 'kmod', 'fail')))[0]!;
      assert.equal(only.verdict, 'untested', only.why);
      assert.match(only.why, /mispaired/);
      assert.equal(only.evidenceRecommends, undefined);
      // passes of a mispaired driver do not outvote the real ones
      const cells = [...['k5.10', 'k6.1', 'k6.12'].map((k) => cell(k, 'kmod', 'pass')), ...['k5.10', 'k6.1', 'k6.12'].map((k) => mis(k, 'modern-ebpf', 'pass'))];
      const v = platformVerdicts(table('kmod'), mapping, cells)[0]!;
      assert.equal(v.verdict, 'confirmed');
      assert.equal(v.evidenceRecommends, 'kmod', v.evidenceRecommendsWhy);
      // today's column too
      const today = { falco: '0.44.1', sources: ['0.23.2'], removed: {} };
      assert.equal(platformVerdicts(table('kmod'), mapping, cells, today)[0]!.today!.recommends, 'kmod');
    });

    it('one verdict per table row, in table order', () => {
      const t: RecommendedTable = { source: 's', claims: [], platforms: [{ platform: 'B', recommended: 'kmod' }, { platform: 'A', recommended: 'pdig', note: 'n' }] };
      const vs = platformVerdicts(t, [], []);
      assert.deepEqual(vs.map((v) => v.platform), ['B', 'A']);
      assert.equal(vs[1]!.note, 'n');
    });
  });

  describe('claims', () => {
    it('kmod-any-kernel', () => {
      const ok = claim('kmod-any-kernel', [cell('k4.9', 'kmod', 'pass'), cell('k6.12', 'kmod', 'pass'), fail('k6.12', 'kmod', 'build', 'x', 'host', { source: '0.1.1dev' })]);
      assert.equal(ok.verdict, 'supported');
      assert.match(ok.why, /both sides of 4\.14 \(4\.9, 6\.12\)/);
      assert.deepEqual(ok.cells, ['k4.9/kmod@0.23.2/host', 'k6.12/kmod@0.23.2/host']);
      // two versions, but none below 4.14 (where eBPF stops): not yet evidence for "any kernel"
      const above = claim('kmod-any-kernel', [cell('k5.10', 'kmod', 'pass'), cell('k6.12', 'kmod', 'pass')]);
      assert.equal(above.verdict, 'untested');
      assert.match(above.why, /kmod passed on 5\.10, 6\.12, all at or above 4\.14: a kernel below 4\.14 is needed/);
      const bad = claim('kmod-any-kernel', [cell('k5.10', 'kmod', 'pass'), fail('k6.12', 'kmod', 'build', "error: 'fd_is_open' undeclared")]);
      assert.equal(bad.verdict, 'contradicted');
      assert.match(bad.why, /k6\.12 .*fd_is_open/);
      // 6.1 on amd64 and on arm64 is one kernel version.
      const one = claim('kmod-any-kernel', [cell('k6.1', 'kmod', 'pass'), cell('pi3-6.1', 'kmod', 'pass'), skip('k6.12', 'kmod', 'headers missing')]);
      assert.equal(one.verdict, 'untested');
      assert.match(one.why, /only one kernel version \(6\.1\).*1 skipped\/errored\/flaky cell\(s\): headers missing/);
    });

    it('kmod-needs-module-loading: supported only by a refusal of the environment (load:signature, load:permission)', () => {
      const refused = fail('k6.1', 'kmod', 'load', 'Key was rejected by service', 'locked-down');
      const ok = claim('kmod-needs-module-loading', [cell('k6.1', 'kmod', 'pass'), refused]);
      assert.equal(ok.verdict, 'supported', ok.why);
      assert.match(ok.why, /on k6\.1 \(load:signature\): Key was rejected by service/);
      assert.deepEqual(ok.cells, ['k6.1/kmod@0.23.2/locked-down']);
      const eperm = claim('kmod-needs-module-loading', [fail('k6.1', 'kmod', 'load', 'insmod: Operation not permitted', 'locked-down')]);
      assert.equal(eperm.verdict, 'supported', eperm.why);
      assert.equal(claim('kmod-needs-module-loading', [cell('k6.1', 'kmod', 'pass', 'locked-down')]).verdict, 'contradicted');
      assert.deepEqual(claim('kmod-needs-module-loading', [cell('k6.1', 'kmod', 'pass')]), {
        id: 'kmod-needs-module-loading',
        text: 'kmod-needs-module-loading',
        verdict: 'untested',
        why: 'no locked-down kmod cell ran',
        cells: [],
      });
      // The same load failure on the host is the module's bug, not the environment refusing it.
      const twin = claim('kmod-needs-module-loading', [fail('k6.1', 'kmod', 'load', 'Operation not permitted'), fail('k6.1', 'kmod', 'load', 'Operation not permitted', 'locked-down')]);
      assert.equal(twin.verdict, 'untested', twin.why);
    });

    it('kmod-needs-module-loading: another class, a flaky, errored or mispaired refusal is no evidence, and the why names them', () => {
      const wrongClass = claim('kmod-needs-module-loading', [fail('k6.1', 'kmod', 'load', 'scap: disagrees about version of symbol module_layout', 'locked-down'), fail('k6.12', 'kmod', 'build', "error: 'x' undeclared", 'locked-down')]);
      assert.equal(wrongClass.verdict, 'untested');
      assert.match(wrongClass.why, /^no locked-down kmod cell was refused with load:signature or load:permission: k6\.1\/kmod@0\.23\.2\/locked-down \(load:vermagic: .*\); k6\.12\/kmod@0\.23\.2\/locked-down \(build:compiler: /);
      const flaky = cell('k6.1', 'kmod', 'flaky', 'locked-down', { phase: 'load', firstError: 'Key was rejected by service', class: 'load:signature' });
      const errored = cell('k6.12', 'kmod', 'error', 'locked-down', { phase: 'load', reason: 'Key was rejected by service' });
      const mispaired = fail('k5.10', 'kmod', 'load', 'Key was rejected by service', 'locked-down', { class: 'pairing:schema-mismatch' as CellResult['class'], reason: 'driver schema 2.0.0, consumer wants 3.0.0' });
      const none = claim('kmod-needs-module-loading', [flaky, errored, mispaired]);
      assert.equal(none.verdict, 'untested', none.why);
      assert.match(none.why, /3 skipped\/errored\/flaky\/mispaired cell\(s\)/);
      // the same cells with a real refusal beside them: only it is counted
      const withOne = claim('kmod-needs-module-loading', [flaky, errored, mispaired, fail('k6.1', 'kmod', 'load', 'Required key not available', 'locked-down', { source: '0.20.0' })]);
      assert.equal(withOne.verdict, 'supported');
      assert.deepEqual(withOne.cells, ['k6.1/kmod@0.20.0/locked-down']);
      // a mispaired pass is no evidence of the module loading either
      assert.equal(claim('kmod-needs-module-loading', [cell('k6.1', 'kmod', 'pass', 'locked-down', { class: 'pairing:schema-mismatch' as CellResult['class'] })]).verdict, 'untested');
    });

    it('ebpf-min-4.14: supported only by the probe refusing the old kernel as such, and a pass at or above 4.14', () => {
      const below = fail('k4.9', 'ebpf', 'build', 'Kernel version must be >= 4.14 with eBPF enabled');
      const ok = claim('ebpf-min-4.14', [below, cell('k6.1', 'ebpf', 'pass')]);
      assert.equal(ok.verdict, 'supported', ok.why);
      assert.match(ok.why, /k4\.9 \(build:kernel-version-check\) and passes on k6\.1/);
      assert.deepEqual(ok.cells, ['k4.9/ebpf@0.23.2/host', 'k6.1/ebpf@0.23.2/host']);
      const map = claim('ebpf-min-4.14', [fail('k4.9', 'ebpf', 'load', 'ring buffer map type is not supported'), cell('k6.1', 'ebpf', 'pass')]);
      assert.equal(map.verdict, 'supported', 'a kernel lacking the map type the probe needs');
      // contradicted: a pass below 4.14, or the probe refusing a kernel at or above it as too old
      assert.equal(claim('ebpf-min-4.14', [cell('k4.9', 'ebpf', 'pass'), cell('k6.1', 'ebpf', 'pass')]).verdict, 'contradicted');
      const high = claim('ebpf-min-4.14', [below, fail('k6.1', 'ebpf', 'build', 'Kernel version must be >= 4.14 with eBPF enabled')]);
      assert.equal(high.verdict, 'contradicted');
      assert.deepEqual(high.cells, ['k6.1/ebpf@0.23.2/host']);
      // a failure at or above 4.14 for another reason says nothing of the minimum
      const other = claim('ebpf-min-4.14', [below, fail('k6.1', 'ebpf', 'capture', 'unable to mmap the perf-buffer'), skip('k6.12', 'ebpf', 'x')]);
      assert.equal(other.verdict, 'untested');
      assert.match(other.why, /refuses kernels below 4\.14 \(k4\.9\) but passes on no kernel ≥ 4\.14/);
      const noLow = claim('ebpf-min-4.14', [cell('k6.1', 'ebpf', 'pass'), cell('k6.12', 'ebpf', 'pass')]);
      assert.equal(noLow.verdict, 'untested');
      assert.equal(noLow.why, 'no kernel below 4.14 in the matrix: the lower bound cannot be checked');
      const lowSkipped = claim('ebpf-min-4.14', [error('k4.9', 'ebpf', 'boot timeout'), cell('k6.1', 'ebpf', 'pass')]);
      assert.equal(lowSkipped.verdict, 'untested');
      assert.match(lowSkipped.why, /no evidence below 4\.14 \(1 skipped\/errored\/flaky cell\(s\): boot timeout\)/);
    });

    it('ebpf-min-4.14: a compiler error, a flaky or mispaired cell below 4.14 is not the bound', () => {
      const compiler = claim('ebpf-min-4.14', [fail('k4.9', 'ebpf', 'build', "error: implicit declaration of function 'bpf_probe_read_str'"), cell('k6.1', 'ebpf', 'pass')]);
      assert.equal(compiler.verdict, 'untested', compiler.why);
      assert.match(compiler.why, /^no host ebpf cell below 4\.14 failed with build:kernel-version-check or load:unsupported-map or load:kernel-version-check: k4\.9\/ebpf@0\.23\.2\/host \(build:compiler: /);
      const flaky = cell('k4.9', 'ebpf', 'flaky', 'host', { phase: 'load', class: 'load:unsupported-map' });
      const mispaired = fail('k4.9', 'ebpf', 'build', 'Kernel version must be >= 4.14 with eBPF enabled', 'host', { source: '0.1.1dev', class: 'pairing:schema-mismatch' as CellResult['class'] });
      assert.equal(claim('ebpf-min-4.14', [flaky, mispaired, cell('k6.1', 'ebpf', 'pass')]).verdict, 'untested');
      // a mispaired pass below 4.14 contradicts nothing
      assert.equal(claim('ebpf-min-4.14', [cell('k4.9', 'ebpf', 'pass', 'host', { class: 'pairing:schema-mismatch' as CellResult['class'] }), cell('k6.1', 'ebpf', 'pass')]).verdict, 'untested');
    });

    it('ebpf-no-module-loading: the probe passes, or is refused too, where the environment refused the module', () => {
      const refused = fail('k6.1', 'kmod', 'load', 'Key was rejected by service', 'locked-down');
      const ok = claim('ebpf-no-module-loading', [refused, cell('k6.1', 'ebpf', 'pass', 'locked-down')]);
      assert.equal(ok.verdict, 'supported', ok.why);
      assert.deepEqual(ok.cells, ['k6.1/ebpf@0.23.2/locked-down', 'k6.1/kmod@0.23.2/locked-down']);
      assert.match(ok.why, /refused the kernel module \(load:signature: Key was rejected by service\) while the eBPF probe passed/);
      const bad = claim('ebpf-no-module-loading', [refused, fail('k6.1', 'ebpf', 'load', 'Operation not permitted', 'locked-down'), skip('k6.12', 'ebpf', 'x', 'locked-down')]);
      assert.equal(bad.verdict, 'contradicted', bad.why);
      assert.deepEqual(bad.cells, ['k6.1/ebpf@0.23.2/locked-down', 'k6.1/kmod@0.23.2/locked-down']);
      // ebpf passes but kmod was not refused there: no comparison, no verdict.
      assert.equal(claim('ebpf-no-module-loading', [cell('k6.1', 'ebpf', 'pass', 'locked-down'), cell('k6.1', 'kmod', 'pass', 'locked-down')]).verdict, 'untested');
      assert.equal(claim('ebpf-no-module-loading', []).why, 'no locked-down ebpf cell ran');
    });

    it('ebpf-no-module-loading: the probe failing for its own reason, or the module failing for another, is no evidence', () => {
      const refused = fail('k6.1', 'kmod', 'load', 'Key was rejected by service', 'locked-down');
      const verifier = claim('ebpf-no-module-loading', [refused, fail('k6.1', 'ebpf', 'load', 'BPF program load failed — R1 invalid mem access', 'locked-down')]);
      assert.equal(verifier.verdict, 'untested', verifier.why);
      assert.match(verifier.why, /other failures are not about it: k6\.1\/ebpf@0\.23\.2\/locked-down \(load:verifier: /);
      const vermagic = claim('ebpf-no-module-loading', [fail('k6.1', 'kmod', 'load', 'Invalid module format', 'locked-down'), cell('k6.1', 'ebpf', 'pass', 'locked-down')]);
      assert.equal(vermagic.verdict, 'untested', vermagic.why);
      assert.match(vermagic.why, /k6\.1\/kmod@0\.23\.2\/locked-down \(load:vermagic: /);
      const flaky = cell('k6.1', 'ebpf', 'flaky', 'locked-down');
      assert.equal(claim('ebpf-no-module-loading', [refused, flaky]).verdict, 'untested');
      const mispaired = cell('k6.1', 'ebpf', 'pass', 'locked-down', { class: 'pairing:schema-mismatch' as CellResult['class'] });
      assert.equal(claim('ebpf-no-module-loading', [refused, mispaired]).verdict, 'untested');
    });

    it('ebpf-not-every-system', () => {
      const ok = claim('ebpf-not-every-system', [cell('k6.1', 'ebpf', 'pass'), fail('pi3-6.1', 'ebpf', 'load', 'Unable to load the driver')]);
      assert.equal(ok.verdict, 'supported');
      assert.match(ok.why, /pi3-6\.1/);
      assert.equal(claim('ebpf-not-every-system', [cell('k6.1', 'ebpf', 'pass'), cell('pi3-6.1', 'ebpf', 'pass'), fail('k4.9', 'ebpf', 'build', 'x')]).verdict, 'contradicted');
      const noArm = claim('ebpf-not-every-system', [cell('k6.1', 'ebpf', 'pass'), cell('k6.12', 'ebpf', 'pass')]);
      assert.equal(noArm.verdict, 'untested');
      assert.match(noArm.why, /ARM/);
    });

    it('pdig-userspace-ptrace: pdig passes where the profile refused the module and the eBPF probe (load:permission)', () => {
      const kernelDriversRefused = [
        fail('k6.1', 'kmod', 'load', 'Operation not permitted', 'ptrace-only'),
        fail('k6.1', 'ebpf', 'load', 'Operation not permitted', 'ptrace-only'),
        skip('k6.1', 'modern-ebpf', 'no consumer', 'ptrace-only'),
      ];
      const ok = claim('pdig-userspace-ptrace', [cell('k6.1', 'pdig', 'pass', 'ptrace-only', { source: '0.6.0' }), ...kernelDriversRefused]);
      assert.equal(ok.verdict, 'supported', ok.why);
      assert.deepEqual(ok.cells, ['k6.1/pdig@0.6.0/ptrace-only', 'k6.1/kmod@0.23.2/ptrace-only', 'k6.1/ebpf@0.23.2/ptrace-only']);
      assert.match(ok.why, /\(load:permission\)$/);
      // pdig refused under ptrace-only: it needs more than CAP_SYS_PTRACE
      const bad = claim('pdig-userspace-ptrace', [fail('k6.1', 'pdig', 'load', 'ptrace: Operation not permitted', 'ptrace-only'), error('k6.12', 'pdig', 'boot timeout', 'ptrace-only')]);
      assert.equal(bad.verdict, 'contradicted', bad.why);
      assert.deepEqual(bad.cells, ['k6.1/pdig@0.23.2/ptrace-only']);
      const twin = claim('pdig-userspace-ptrace', [cell('k6.1', 'pdig', 'pass'), fail('k6.1', 'pdig', 'capture', 'no events', 'ptrace-only')]);
      assert.equal(twin.verdict, 'contradicted', 'passes as root, fails with only CAP_SYS_PTRACE');
      // pdig failing under ptrace-only as it does as root: its own bug, not the profile's
      const own = claim('pdig-userspace-ptrace', [fail('k6.1', 'pdig', 'capture', 'no events'), fail('k6.1', 'pdig', 'capture', 'no events', 'ptrace-only')]);
      assert.equal(own.verdict, 'untested', own.why);
      // The module loaded under ptrace-only: pdig passing proves nothing about "only pdig works".
      const loaded = claim('pdig-userspace-ptrace', [cell('k6.1', 'pdig', 'pass', 'ptrace-only'), cell('k6.1', 'kmod', 'pass', 'ptrace-only'), kernelDriversRefused[1]!]);
      assert.equal(loaded.verdict, 'untested');
      const skipped = claim('pdig-userspace-ptrace', [skip('k6.1', 'pdig', 'pdig source not available', 'ptrace-only')]);
      assert.equal(skipped.verdict, 'untested');
      assert.match(skipped.why, /1 skipped\/errored\/flaky cell\(s\): pdig source not available/);
      assert.deepEqual(skipped.cells, ['k6.1/pdig@0.23.2/ptrace-only'], 'the skipped cell is named, as no evidence');
    });

    it("pdig-userspace-ptrace: the legacy probe's load:other counts only where it passes as root; other classes, flaky and mispaired cells never", () => {
      const pdig = cell('k6.1', 'pdig', 'pass', 'ptrace-only', { source: 'p' });
      const kmod = fail('k6.1', 'kmod', 'load', 'Operation not permitted', 'ptrace-only');
      const bpfOther = fail('k6.1', 'ebpf', 'load', 'Unable to load the BPF probe', 'ptrace-only');
      const alone = claim('pdig-userspace-ptrace', [pdig, kmod, bpfOther]);
      assert.equal(alone.verdict, 'untested', "libscap's words alone do not say the profile refused it");
      assert.match(alone.why, /other failures are not about it: k6\.1\/ebpf@0\.23\.2\/ptrace-only \(load:other: Unable to load the BPF probe\)/);
      const withTwin = claim('pdig-userspace-ptrace', [pdig, kmod, bpfOther, cell('k6.1', 'ebpf', 'pass')]);
      assert.equal(withTwin.verdict, 'supported', withTwin.why);
      assert.match(withTwin.why, /load:permission, load:other/);
      // a flaky host twin is no evidence that the probe works as root
      assert.equal(claim('pdig-userspace-ptrace', [pdig, kmod, bpfOther, cell('k6.1', 'ebpf', 'flaky')]).verdict, 'untested');
      // the module failing for another class (vermagic) is not the profile refusing it
      const vermagic = claim('pdig-userspace-ptrace', [pdig, fail('k6.1', 'kmod', 'load', 'Invalid module format', 'ptrace-only'), fail('k6.1', 'ebpf', 'load', 'Operation not permitted', 'ptrace-only')]);
      assert.equal(vermagic.verdict, 'untested', vermagic.why);
      const flakyPdig = cell('k6.1', 'pdig', 'flaky', 'ptrace-only');
      assert.equal(claim('pdig-userspace-ptrace', [flakyPdig, kmod, fail('k6.1', 'ebpf', 'load', 'Operation not permitted', 'ptrace-only')]).verdict, 'untested');
      const mispaired = fail('k6.1', 'kmod', 'load', 'Operation not permitted', 'ptrace-only', { class: 'pairing:schema-mismatch' as CellResult['class'] });
      assert.equal(claim('pdig-userspace-ptrace', [pdig, mispaired, fail('k6.1', 'ebpf', 'load', 'Operation not permitted', 'ptrace-only')]).verdict, 'untested');
    });

    it('pdig-process-scope', () => {
      const host = cell('k6.1', 'kmod', 'pass');
      const ok = claim('pdig-process-scope', [cell('k6.1', 'pdig', 'pass', 'ptrace-only', { untracedMarker: false }), host]);
      assert.equal(ok.verdict, 'supported');
      assert.deepEqual(ok.cells, ['k6.1/pdig@0.23.2/ptrace-only', 'k6.1/kmod@0.23.2/host']);
      assert.equal(claim('pdig-process-scope', [cell('k6.1', 'pdig', 'pass', 'host', { untracedMarker: true }), host]).verdict, 'contradicted');
      const unchecked = claim('pdig-process-scope', [cell('k6.1', 'pdig', 'pass'), host]);
      assert.equal(unchecked.verdict, 'untested');
      assert.match(unchecked.why, /untraced-marker check/);
      assert.equal(claim('pdig-process-scope', [cell('k6.1', 'pdig', 'pass', 'host', { untracedMarker: false })]).verdict, 'untested');
    });

    it('kmod-fastest stays untested until the overhead figures exist; an unknown claim has no rule', () => {
      const all = ['k5.10', 'k6.1'].map((k) => cell(k, 'kmod', 'pass'));
      assert.match(claim('kmod-fastest', all).why, /^needs the driver overhead figures/);
      assert.deepEqual(claim('made-up', all), { id: 'made-up', text: 'made-up', verdict: 'untested', why: 'no rule for this claim', cells: [] });
    });

    it('kmod-fastest is judged from the bench overhead figures when there are some', () => {
      const t = table('kmod', ['kmod-fastest']);
      const judged = (ratio: Record<string, number>) => claimVerdicts(t, [], { overhead: { at: '2026-01-01', ratio } })[0]!;
      assert.equal(judged({ kmod: 1.4, ebpf: 3.2, 'modern-ebpf': 2.1 }).verdict, 'supported');
      const c = judged({ kmod: 2.5, ebpf: 3.2, 'modern-ebpf': 1.6 });
      assert.equal(c.verdict, 'contradicted');
      assert.match(c.why, /modern-ebpf cost clearly less than kmod/);
      assert.equal(judged({ kmod: 1.4 }).verdict, 'untested');
      // one run's few percent either way is noise (this machine's bench: kmod ×3.35, ebpf ×3.23)
      const close = judged({ kmod: 3.35, ebpf: 3.23, 'modern-ebpf': 3.55 });
      assert.equal(close.verdict, 'untested');
      assert.match(close.why, /^too close to call: ebpf, modern-ebpf within 25% of kmod/);
    });

    describe('ebpf-same-data-as-kmod', () => {
      const calls = (n: number, over: Record<number, Partial<BatteryCallResult>> = {}): BatteryCallResult[] =>
        Array.from({ length: n }, (_, i) => ({ seq: i + 1, call: i % 2 ? 'read' : 'openat', status: 'right' as const, fields: [{ field: 'fd', expected: '3', seen: '3' }], ...over[i + 1] }));
      const battery = (cs: BatteryCallResult[]): BatteryResult => ({
        right: cs.filter((c) => c.status === 'right').length,
        wrong: cs.filter((c) => c.status === 'wrong').length,
        missing: cs.filter((c) => c.status === 'missing').length,
        enterEvents: true,
        calls: cs,
      });
      const withB = (d: DriverId, b: BatteryResult, extra: Extra = {}, kernel = 'k6.1'): CellResult =>
        cell(kernel, d, 'pass', 'host', { consumer: { id: `sysdig-${d}`, kind: 'sysdig' }, evidence: { events: 30, marker: true, battery: b }, ...extra });
      const same = (cells: CellResult[]) => claim('ebpf-same-data-as-kmod', cells);

      it('supported when both complete batteries match call for call (consumers of the same kind)', () => {
        const v = same([withB('kmod', battery(calls(20))), withB('modern-ebpf', battery(calls(20)))]);
        assert.equal(v.verdict, 'supported', v.why);
        assert.deepEqual(v.cells, ['k6.1/kmod@0.23.2/host', 'k6.1/modern-ebpf@0.23.2/host']);
      });

      it("contradicted by a call right in one and wrong in the other only for its missing enter event", () => {
        const v = same([withB('kmod', battery(calls(20))), withB('ebpf', battery(calls(20, { 4: { status: 'wrong', enter: false } })))]);
        assert.equal(v.verdict, 'contradicted', v.why);
        assert.match(v.why, /read #4: right vs wrong, no enter event/);
        assert.deepEqual(batteryDifferences(battery(calls(3)), battery(calls(3, { 2: { fields: [{ field: 'fd', expected: '3', seen: '4' }] } }))), ['read #2 fd: as called vs 4']);
      });

      it('two equally truncated batteries never agree; a tail the other never reached is not compared', () => {
        const cut = battery(calls(20, Object.fromEntries([18, 19, 20].map((i) => [i, { status: 'missing' as const, fields: [] }]))));
        const v = same([withB('kmod', cut), withB('ebpf', cut)]);
        assert.equal(v.verdict, 'untested', v.why);
        assert.match(v.why, /none of the pairs is complete: .*20 calls, 3 missing/);
        const short = same([withB('kmod', battery(calls(17))), withB('ebpf', battery(calls(20)))]);
        assert.equal(short.verdict, 'untested', short.why);
        assert.deepEqual(batteryDifferences(battery(calls(17)), battery(calls(20))), []);
        // a hole (a call missing between found ones) is a difference
        const hole = same([withB('kmod', battery(calls(20))), withB('ebpf', battery(calls(20, { 5: { status: 'missing', fields: [] } })))]);
        assert.equal(hole.verdict, 'contradicted', hole.why);
        assert.match(hole.why, /openat #5: right vs no event/);
      });

      it('only evidence cells of the same kernel, source and consumer kind are paired', () => {
        const k = withB('kmod', battery(calls(20)));
        const differs = battery(calls(20, { 2: { status: 'wrong', fields: [{ field: 'fd', expected: '3', seen: '9' }] } }));
        const untested = (cells: CellResult[], why: string) => {
          const v = same(cells);
          assert.equal(v.verdict, 'untested', `${why}: ${v.why}`);
          assert.match(v.why, /^no kernel has the battery from both/, why);
        };
        untested([k, withB('ebpf', differs, { status: 'flaky' })], 'a flaky cell');
        untested([k, withB('ebpf', differs, { status: 'error', phase: 'capture' })], 'an errored cell');
        untested([k, withB('ebpf', differs, { class: 'pairing:schema-mismatch' as CellResult['class'] })], 'a mispaired cell');
        untested([k, withB('ebpf', differs, { consumer: { id: 'scap-open-0.20', kind: 'scap-open' } })], 'another consumer kind');
        untested([k, withB('ebpf', differs, { source: '0.20.0' })], 'another source');
        untested([k, withB('ebpf', differs, {}, 'k6.12')], 'another kernel');
        untested([k, withB('ebpf', differs, { profile: 'locked-down', id: 'k6.1/ebpf@0.23.2/locked-down' })], 'another profile');
        // results without the consumer kind: the same consumer id pairs, another does not
        const old = (d: DriverId, id: string, b: BatteryResult) => withB(d, b, { consumer: { id } });
        assert.equal(same([old('kmod', 'sysdig', battery(calls(20))), old('ebpf', 'sysdig', differs)]).verdict, 'contradicted');
        untested([old('kmod', 'sysdig', battery(calls(20))), old('ebpf', 'scap-open', differs)], 'another consumer id');
        // a failing cell (the capture's battery wrong) is evidence: its data differ
        assert.equal(same([k, withB('ebpf', differs, { status: 'fail', phase: 'capture' })]).verdict, 'contradicted');
      });
    });

    it('errored and skipped cells are never counted as pass or fail', () => {
      const noise = [error('k5.10', 'kmod', 'QEMU crashed'), error('k4.9', 'ebpf', 'boot timeout', 'host'), skip('k6.1', 'ebpf', 'x', 'locked-down'), error('k6.1', 'pdig', 'y', 'ptrace-only')];
      for (const v of claimVerdicts(table('kmod', ['kmod-any-kernel', 'kmod-needs-module-loading', 'ebpf-min-4.14', 'ebpf-no-module-loading', 'ebpf-not-every-system', 'pdig-userspace-ptrace', 'pdig-process-scope']), noise))
        assert.equal(v.verdict, 'untested', `${v.id}: ${v.why}`);
    });

    it('one verdict per claim of the shared table, in order', () => {
      const t = loadRecommended(path.resolve('recommended-drivers.yaml'));
      const vs = claimVerdicts(t, [cell('k6.1', 'kmod', 'pass')]);
      assert.deepEqual(vs.map((v) => v.id), t.claims.map((c) => c.id));
      assert.ok(vs.every((v) => v.why !== 'no rule for this claim'), 'every claim of the table has a rule');
    });
  });
});

describe('then and now: the document with its own drivers, the same platforms with today\'s Falco', () => {
  const table: RecommendedTable = {
    source: 'doc',
    platforms: [
      { platform: 'Bare', recommended: 'kmod' },
      { platform: 'GKE', recommended: 'ebpf' },
    ],
    claims: [
      { id: 'ebpf-min-4.14', text: 'eBPF needs 4.14' },
      { id: 'kmod-any-kernel', text: 'kmod works anywhere' },
    ],
  };
  const mappings = [
    { platform: 'Bare', profile: 'host', kernels: ['k5.10', 'k6.1'] },
    { platform: 'GKE', profile: 'locked-down', kernels: ['k5.10', 'k6.1'] },
  ];
  const today = { falco: '0.44.1', sources: ['10.2.0', 'falco-0.44.1'], removed: { ebpf: 'removed upstream in libs 0.24.0' } };
  const cells = [
    // the document's era: kmod passes on both; ebpf passes locked down
    cell('k5.10', 'kmod', 'pass'), cell('k6.1', 'kmod', 'pass'),
    cell('k5.10', 'ebpf', 'pass', 'locked-down'), cell('k6.1', 'ebpf', 'pass', 'locked-down'),
    cell('k4.9', 'kmod', 'pass'), cell('k6.12', 'kmod', 'pass'),
    // today: modern eBPF passes everywhere, Falco's kmod fails locked down
    cell('k5.10', 'modern-ebpf', 'pass', 'host', { source: 'falco-0.44.1' }), cell('k6.1', 'modern-ebpf', 'pass', 'host', { source: 'falco-0.44.1' }),
    cell('k5.10', 'modern-ebpf', 'pass', 'locked-down', { source: 'falco-0.44.1' }), cell('k6.1', 'modern-ebpf', 'pass', 'locked-down', { source: 'falco-0.44.1' }),
    fail('k5.10', 'kmod', 'load', 'Key was rejected by service', 'locked-down', { source: 'falco-0.44.1' }),
    // a today's-source failure on a kernel the claim is about must not count for the document's claim
    fail('k4.9', 'kmod', 'build', 'error: nope', 'host', { source: '10.2.0' }),
  ];

  it("judges each row with the document's drivers, and says beside it what today's Falco recommends", () => {
    const [bare, gke] = platformVerdicts(table, mappings, cells, today);
    assert.equal(bare!.verdict, 'confirmed');
    assert.equal(bare!.evidenceRecommends, 'kmod', "the document's era: modern eBPF did not run then");
    assert.equal(bare!.today?.recommends, 'modern-ebpf');
    assert.equal(bare!.today?.falco, '0.44.1');
    assert.equal(gke!.verdict, 'confirmed');
    assert.equal(gke!.today?.recommends, 'modern-ebpf');
  });

  it('a recommended driver gone upstream says so; one still there does not', () => {
    const [bare, gke] = platformVerdicts(table, mappings, cells, today);
    assert.equal(gke!.removedUpstream, 'removed upstream in libs 0.24.0');
    assert.equal(bare!.removedUpstream, undefined);
  });

  it("the document's claims are judged without today's cells, and a removed driver's claims say so", () => {
    const claims = claimVerdicts(table, cells, {}, today);
    const kmod = claims.find((c) => c.id === 'kmod-any-kernel')!;
    assert.equal(kmod.verdict, 'supported', kmod.why);
    assert.ok(!kmod.cells.some((id) => id.includes('@10.2.0')), "today's cells are not the document's evidence");
    assert.equal(claims.find((c) => c.id === 'ebpf-min-4.14')!.removedUpstream, 'removed upstream in libs 0.24.0');
    assert.equal(kmod.removedUpstream, undefined);
  });

  it("without today's cells, today's column has no recommendation and says why", () => {
    const [bare] = platformVerdicts(table, mappings, cells.filter((c) => !today.sources.includes(c.driver.source)), today);
    assert.equal(bare!.today?.recommends, undefined);
    assert.match(bare!.today?.why ?? '', /no cell of today's sources/);
  });
});

describe("a platform row on its own kernels, or on its stand-ins when its own gave no evidence", () => {
  const eks: PlatformMapping[] = [{ platform: 'P', profile: 'host', kernels: ['al2', 'al2023'], standIns: ['k5.10', 'k6.1'] }];
  const unset = (k: string, d: DriverId = 'kmod', profile = 'host') => skip(k, d, "Amazon Linux's repository: ${KMATRIX_REPO_AMAZONLINUX2} is not set (it names the repository's URL; see README, \"Vendor kernels\")", profile);
  const standInsPass = [cell('k5.10', 'kmod', 'pass'), cell('k6.1', 'kmod', 'pass')];

  it('own kernels with evidence: judged on them, whatever the stand-ins say', () => {
    const [v] = platformVerdicts(table('kmod'), eks, [...standInsPass, cell('al2', 'kmod', 'pass'), fail('al2023', 'kmod', 'build', "error: implicit declaration of function 'access_ok'")]);
    assert.deepEqual(v!.judgedOn, { own: true, kernels: ['al2', 'al2023'], text: 'judged on al2, al2023' });
    assert.deepEqual(v!.kernels, ['al2', 'al2023']);
    assert.equal(v!.verdict, 'partly', v!.why);
    assert.deepEqual(v!.evidence.map((e) => `${e.kernel} ${e.outcome}`), ['al2 pass', 'al2023 fail']);
    assert.match(v!.why, /fails on al2023 .*access_ok/);
  });

  it('every own cell skipped: judged on the stand-ins, naming the first skip reason', () => {
    const [v] = platformVerdicts(table('kmod'), eks, [...standInsPass, unset('al2'), unset('al2023'), unset('al2', 'ebpf')]);
    assert.equal(v!.judgedOn?.own, false);
    assert.deepEqual(v!.judgedOn?.kernels, ['k5.10', 'k6.1']);
    assert.equal(v!.judgedOn?.why, 'al2/kmod@0.23.2/host: Amazon Linux\'s repository: ${KMATRIX_REPO_AMAZONLINUX2} is not set (it names the repository\'s URL; see README, "Vendor kernels")');
    assert.match(v!.judgedOn!.text, /^judged on stand-in kernels \(k5\.10, k6\.1\): its own kernels \(al2, al2023\) gave no evidence: al2\/kmod@0\.23\.2\/host: .*KMATRIX_REPO_AMAZONLINUX2/);
    assert.equal(v!.verdict, 'confirmed', v!.why);
    assert.deepEqual(v!.evidence.map((e) => e.kernel), ['k5.10', 'k6.1']);
    assert.equal(v!.evidenceRecommends, 'kmod');
    assert.match(platformLine(v!), /^P: kmod confirmed, evidence recommends kmod — judged on stand-in kernels \(k5\.10, k6\.1\): its own kernels/);
  });

  it("the report's platform row says which kernels it was judged on", () => {
    const run = { id: 'r1', startedAt: 'now', host: 'h', accel: 'tcg', kmatrixVersion: '0', matrix: { path: 'm', hash: 'x' }, mirror: 'http://m/debian', expiredSuitesAccepted: [] };
    const show = (cells: CellResult[]) => renderReport({ run, cells, verdicts: { source: 't', platforms: platformVerdicts(table('kmod'), eks, cells), claims: [] } } as never);
    const stand = show([...standInsPass, unset('al2')]);
    assert.match(stand, /stand-in kernels<\/span>/);
    assert.match(stand, /judged on stand-in kernels \(k5\.10, k6\.1\): its own kernels \(al2, al2023\) gave no evidence: al2\/kmod@0\.23\.2\/host: Amazon Linux&#39;s repository: \$\{KMATRIX_REPO_AMAZONLINUX2\} is not set/);
    const own = show([...standInsPass, cell('al2', 'kmod', 'pass')]);
    assert.match(own, /judged on al2, al2023/);
    assert.doesNotMatch(own, /stand-in kernels/);
  });

  it('no own cell in the run at all: the stand-ins, saying so', () => {
    const [v] = platformVerdicts(table('kmod'), eks, standInsPass);
    assert.equal(v!.judgedOn?.own, false);
    assert.equal(v!.judgedOn?.why, 'no cell of them under profile host in this run');
  });

  it('a row without stand-ins is judged on its own kernels even without evidence (untested, not elsewhere)', () => {
    const [v] = platformVerdicts(table('kmod'), [{ platform: 'P', profile: 'host', kernels: ['al2'], note: 'n' }], [...standInsPass, unset('al2')]);
    assert.deepEqual(v!.judgedOn, { own: true, kernels: ['al2'], text: 'judged on al2', note: 'n' });
    assert.equal(v!.verdict, 'untested');
  });

  // mutation-style: each of these flips which kernels decide, and with them the verdict
  it('one own cell turning into evidence flips the row onto its own kernels, and the verdict with it', () => {
    const skipped = [...standInsPass, unset('al2'), unset('al2023')];
    const before = platformVerdicts(table('kmod'), eks, skipped)[0]!;
    assert.equal(before.judgedOn?.own, false);
    assert.equal(before.verdict, 'confirmed');
    // a failure is evidence too: the platform's own kernel failing outweighs the stand-ins passing
    const failing = platformVerdicts(table('kmod'), eks, [...standInsPass, fail('al2', 'kmod', 'build', 'error: x'), fail('al2023', 'kmod', 'build', 'error: x')])[0]!;
    assert.equal(failing.judgedOn?.own, true);
    assert.equal(failing.verdict, 'contradicted');
    // another driver's evidence on its own kernels counts for choosing them (the row's kmod there has none: untested)
    const other = platformVerdicts(table('kmod'), eks, [...skipped.filter((c) => c.kernel.id !== 'al2023'), unset('al2023'), cell('al2023', 'modern-ebpf', 'pass')])[0]!;
    assert.equal(other.judgedOn?.own, true);
    assert.notEqual(other.verdict, 'confirmed');
  });

  it('no evidence is no evidence: errored, flaky, mispaired own cells, controls and other profiles keep the stand-ins', () => {
    const noEvidence = [
      error('al2', 'kmod', 'QEMU exited'),
      cell('al2023', 'kmod', 'flaky', 'host', { reason: 'failed at load, then passed' }),
      fail('al2023', 'ebpf', 'load', 'schema mismatch', 'host', { class: 'pairing:schema-mismatch' }),
      cell('al2', 'kmod', 'pass', 'control-from-al2023', { control: { from: 'al2023', refused: true } }),
      cell('al2', 'kmod', 'pass', 'ptrace-only'),
    ];
    const [v] = platformVerdicts(table('kmod'), eks, [...standInsPass, ...noEvidence]);
    assert.equal(v!.judgedOn?.own, false, v!.judgedOn?.text);
    assert.equal(v!.judgedOn?.why, 'al2/kmod@0.23.2/host: QEMU exited');
    // …and each one of them made a pass flips it
    const [w] = platformVerdicts(table('kmod'), eks, [...standInsPass, ...noEvidence, cell('al2', 'kmod', 'pass')]);
    assert.equal(w!.judgedOn?.own, true);
  });

  it("then and now choose on their own evidence: the document's drivers on the stand-ins, today's Falco on the platform's kernels", () => {
    const today = { falco: '0.44.1', sources: ['falco-0.44.1'], removed: {} };
    const [v] = platformVerdicts(table('kmod'), eks, [
      ...standInsPass,
      unset('al2'), unset('al2023'),
      cell('al2', 'modern-ebpf', 'pass', 'host', { source: 'falco-0.44.1' }),
      cell('al2023', 'modern-ebpf', 'pass', 'host', { source: 'falco-0.44.1' }),
    ], today);
    assert.equal(v!.judgedOn?.own, false);
    assert.equal(v!.verdict, 'confirmed');
    assert.deepEqual(v!.today?.judgedOn, { own: true, kernels: ['al2', 'al2023'], text: 'judged on al2, al2023' });
    assert.equal(v!.today?.recommends, 'modern-ebpf');
    assert.equal(judgedOn(eks[0]!, []).own, false);
  });
});
