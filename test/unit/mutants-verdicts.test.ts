// Verdicts (harness/verdicts.ts), the behaviour mutation testing found
// unchecked: each refusal of a bad recommended-driver table, and the words
// of the platform verdicts and of the evidence's recommendation.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BATTERY_SCRIPT, printsParameters } from '../../harness/battery.js';
import { UserError } from '../../harness/errors.js';
import type { CellResult, DriverId } from '../../harness/types.js';
import { tempDir } from '../tmp.js';
import { batteryDifferences, CLAIM_FEEDS, claimVerdicts, kernelOutcome, loadRecommended, platformVerdicts, thenCells, type RecommendedTable } from '../../harness/verdicts.js';

const dir = tempDir('kmatrix-mutants-verdicts-');
let n = 0;
function refused(text: string, pattern: RegExp): void {
  const f = path.join(dir, `r${n++}.yaml`);
  writeFileSync(f, text);
  assert.throws(
    () => loadRecommended(f),
    (e) => e instanceof UserError && e.message.startsWith(`${f}: `) && pattern.test(e.message),
    text,
  );
}

const cell = (kernel: string, driver: DriverId, status: CellResult['status'], extra: Partial<CellResult> = {}): CellResult => ({
  id: `${kernel}/${driver}@0.23.2/host`,
  kernel: { id: kernel, version: '6.1.1', arch: 'amd64', machine: 'q35' },
  driver: { id: driver, source: '0.23.2' },
  profile: 'host',
  status,
  durations: {},
  logs: {},
  attempts: 1,
  ...extra,
});
const table = (recommended: DriverId): RecommendedTable => ({ source: 's', platforms: [{ platform: 'P', recommended }], claims: [] });
const two = [{ platform: 'P', profile: 'host', kernels: ['a', 'b'] }];

describe('verdicts (mutants)', () => {
  it('refuses each malformed part of the table, naming the file', () => {
    refused('- a\n', /: expected a mapping with source, platforms and claims\.$/);
    refused('', /expected a mapping/);
    refused('source: 1\nplatforms: [{ platform: A, recommended: kmod }]\n', /: source must be a string\.$/);
    refused('source: s\n', /: platforms must be a non-empty list\.$/);
    refused('source: s\nplatforms: []\n', /: platforms must be a non-empty list\.$/);
    refused('source: s\nplatforms: [{ recommended: kmod }]\n', /: platforms\.0 needs a platform name\.$/);
    refused('source: s\nplatforms: [3]\n', /: platforms\.0 needs a platform name\.$/);
    refused('source: s\nplatforms: [{ platform: A, recommended: kmod }, { platform: B, recommended: x }]\n', /: platforms\.1 \(B\): recommended must be one of kmod, ebpf, modern-ebpf, pdig, not x\.$/);
    refused('source: s\nplatforms: [{ platform: A, recommended: kmod, note: 3 }]\n', /: platforms\.0 \(A\): note must be a string\.$/);
    refused('source: s\nplatforms: [{ platform: A, recommended: kmod, resources: [] }]\n', /: platforms\.0 \(A\): resources must be a string\.$/);
    refused('source: s\nplatforms: [{ platform: A, recommended: kmod }]\nclaims: x\n', /: claims must be a list\.$/);
    refused('source: s\nplatforms: [{ platform: A, recommended: kmod }]\nclaims: [{ id: c }]\n', /: claims\.0 needs an id and a text\.$/);
    refused('source: s\nplatforms: [{ platform: A, recommended: kmod }]\nclaims: [{ text: t }]\n', /: claims\.0 needs an id and a text\.$/);
    refused('source: s\nplatforms: [{ platform: A, recommended: kmod }]\nclaims: [7]\n', /: claims\.0 needs an id and a text\.$/);
    assert.throws(() => loadRecommended(path.join(dir, 'absent.yaml')), (e) => e instanceof UserError && /^Cannot read the recommended-driver table .*absent\.yaml: /.test(e.message));
  });

  it('reads a table: optional fields only where given, claims default to none', () => {
    const f = path.join(dir, 'ok.yaml');
    writeFileSync(f, 'source: doc\nplatforms:\n  - { platform: A, recommended: ebpf, resources: r, note: n }\n  - { platform: B, recommended: pdig }\n');
    assert.deepEqual(loadRecommended(f), {
      source: 'doc',
      platforms: [
        { platform: 'A', recommended: 'ebpf', resources: 'r', note: 'n' },
        { platform: 'B', recommended: 'pdig' },
      ],
      claims: [],
    });
  });

  it("a kernel's outcome: the first failure's phase and error, or its reason, or nothing recorded", () => {
    assert.equal(kernelOutcome('a', [cell('a', 'kmod', 'fail', { phase: 'load', firstError: 'e', reason: 'r' })]).why, 'a/kmod@0.23.2/host failed at load: e');
    assert.equal(kernelOutcome('a', [cell('a', 'kmod', 'fail', { reason: 'r' })]).why, 'a/kmod@0.23.2/host failed at an unknown phase: r');
    assert.equal(kernelOutcome('a', [cell('a', 'kmod', 'fail')]).why, 'a/kmod@0.23.2/host failed at an unknown phase: no error recorded');
    assert.equal(kernelOutcome('a', [cell('a', 'kmod', 'skip', { firstError: 'fe' })]).why, '1 skipped/errored/flaky cell(s): fe');
    assert.equal(kernelOutcome('a', [cell('a', 'kmod', 'flaky')]).why, '1 skipped/errored/flaky cell(s): flaky with no reason recorded');
    assert.deepEqual(kernelOutcome('a', [cell('a', 'kmod', 'pass', { profile: 'control-from-b' }), cell('b', 'kmod', 'pass')]), { kernel: 'a', outcome: 'none', cells: [], why: 'no cell ran' });
    assert.deepEqual(kernelOutcome('a', [cell('a', 'kmod', 'pass'), cell('a', 'kmod', 'fail')]).cells, ['a/kmod@0.23.2/host']);
  });

  it("the platform's words: confirmed, contradicted, untested", () => {
    const [ok] = platformVerdicts(table('kmod'), two, [cell('a', 'kmod', 'pass'), cell('b', 'kmod', 'pass')]);
    assert.equal(ok!.why, 'kmod passes on every representative kernel: a, b');
    assert.equal(ok!.evidenceRecommendsWhy, 'kmod passes on 2 of 2 representative kernel(s)');
    assert.equal(ok!.profile, 'host');
    assert.deepEqual(ok!.kernels, ['a', 'b']);
    const [bad] = platformVerdicts(table('kmod'), two, [cell('a', 'kmod', 'fail', { phase: 'load', firstError: 'e' }), cell('b', 'kmod', 'fail', { phase: 'load', firstError: 'e2' })]);
    assert.equal(bad!.verdict, 'contradicted');
    assert.equal(bad!.why, 'kmod fails on every kernel with evidence: a (a/kmod@0.23.2/host failed at load: e); b (b/kmod@0.23.2/host failed at load: e2)');
    const [none] = platformVerdicts(table('kmod'), [{ platform: 'P', profile: 'host', kernels: [] }], []);
    assert.equal(none!.verdict, 'untested');
    assert.equal(none!.why, 'no kmod cell in the matrix for this platform (profile host, kernels none)');
    assert.equal(none!.evidenceRecommendsWhy, 'no cell of these sources for this platform');
    const [skipped] = platformVerdicts(table('kmod'), two, [cell('a', 'kmod', 'skip', { reason: 's' }), cell('b', 'kmod', 'skip', { reason: 's' })]);
    assert.equal(skipped!.evidenceRecommendsWhy, 'no evidence: 2 skipped/errored/flaky cell(s): s');
    const [partly] = platformVerdicts(table('kmod'), two, [cell('a', 'kmod', 'pass'), cell('b', 'kmod', 'fail', { phase: 'build', firstError: 'x' })]);
    assert.equal(partly!.why, 'passes on a; fails on b (b/kmod@0.23.2/host failed at build: x)');
  });

  it('the same failure on several kernels is said once, naming them', () => {
    const [v] = platformVerdicts(table('kmod'), [{ platform: 'P', profile: 'host', kernels: ['a', 'b', 'c', 'd'] }], [
      cell('a', 'kmod', 'pass'),
      cell('b', 'kmod', 'pass'),
      cell('c', 'kmod', 'skip', { reason: 'gone' }),
      cell('d', 'kmod', 'skip', { reason: 'gone' }),
    ]);
    assert.equal(v!.why, 'passes on a, b; no evidence on c, d (1 skipped/errored/flaky cell(s): gone)');
  });

  it("then and now: today's sources' cells set apart", () => {
    const old = cell('a', 'kmod', 'pass');
    const now = { ...cell('a', 'kmod', 'pass'), driver: { id: 'kmod' as const, source: 'falco-0.44.1' } };
    assert.deepEqual(thenCells([old, now], { falco: '0.44.1', sources: ['falco-0.44.1'], removed: {} }), [old]);
    assert.deepEqual(thenCells([old, now]), [old, now]);
  });

  it("two batteries' differences: a call's status, a field seen otherwise; a matching value is the same; a missing tail is not compared", () => {
    type Call = { seq: number; call: string; status: 'right' | 'wrong' | 'missing'; enter?: boolean; fields: { field: string; expected: string; seen: string }[] };
    const call = (status: Call['status'], seen = '3', seq = 1): Call => ({ seq, call: 'write', status, fields: status === 'missing' ? [] : [{ field: 'fd', expected: '3', seen }] });
    const bat = (...calls: Call[]) => ({ right: 0, wrong: 0, missing: 0, calls });
    assert.deepEqual(batteryDifferences(bat(call('right')), bat(call('right'))), []);
    assert.deepEqual(batteryDifferences(bat(call('right')), bat(call('wrong', '4'))), ['write #1: right vs wrong', 'write #1 fd: as called vs 4']);
    // the same wrong value in both is the same data
    assert.deepEqual(batteryDifferences(bat(call('wrong', '4')), bat(call('wrong', '4'))), []);
    // wrong only for its missing enter event
    assert.deepEqual(batteryDifferences(bat({ ...call('wrong'), enter: false }), bat(call('right'))), ['write #1: wrong, no enter event vs right']);
    // a call missing at the end of one battery (it stopped printing) was never compared, in either order
    assert.deepEqual(batteryDifferences(bat(call('right')), bat(call('missing'))), []);
    assert.deepEqual(batteryDifferences(bat(call('right'), call('right', '3', 2)), bat(call('right'), call('missing', '3', 2))), []);
    assert.deepEqual(batteryDifferences(bat(call('missing'), call('missing', '3', 2)), bat(call('right'), call('right', '3', 2))), []);
    // one missing between found ones is a difference
    assert.deepEqual(batteryDifferences(bat(call('missing'), call('right', '3', 2)), bat(call('right'), call('right', '3', 2))), ['write #1: no event vs right', 'write #1 fd: not checked vs as called']);
    assert.deepEqual(batteryDifferences(bat(call('right'), call('right', '3', 2)), bat(call('missing'), call('right', '3', 2))), ['write #1: right vs no event', 'write #1 fd: as called vs not checked']);
    // a call past the end of the other battery is not compared
    assert.deepEqual(batteryDifferences(bat(call('right'), call('wrong', '9', 2)), bat(call('right'))), []);
  });

  describe('claims', () => {
    const claims = (id: string, cells: CellResult[], ctx = {}) => claimVerdicts({ source: 's', platforms: [], claims: [{ id, text: 't' }] }, cells, ctx)[0]!;

    it("each claim's feed (CLAIM_FEEDS, early.ts's order) is what decides it: every cell outside it together leave it untested; each cell shape in it moves the claim's words somewhere", () => {
      // every shape of cell a matrix makes, passing and failing, below and above 4.14, and a negative control
      const battery = { right: BATTERY_SCRIPT.length, wrong: 0, missing: 0, calls: BATTERY_SCRIPT.map((call, i) => ({ seq: i + 1, call, status: 'right' as const, fields: [] })) };
      const shapes: CellResult[] = [];
      for (const driver of ['kmod', 'ebpf', 'modern-ebpf', 'pdig'] as DriverId[])
        for (const profile of ['host', 'locked-down', 'ptrace-only'])
          for (const kind of ['sysdig', 'falco', 'scap-open'] as const)
            for (const [k, version] of [['old', '4.9.0'], ['new', '6.1.1']] as const)
              for (const [status, extra] of [
                ['pass', {}],
                ['fail', { phase: 'capture', class: 'capture:missing-events', firstError: 'e' }],
                ['fail', { phase: 'build', class: 'build:kernel-version-check', firstError: 'too old' }],
                ['fail', { phase: 'load', class: 'load:permission', firstError: 'EPERM' }],
                ['fail', { phase: 'load', class: 'load:other', firstError: 'Unable to load the BPF probe' }],
              ] as const)
                shapes.push({
                  ...cell(k, driver, status, extra),
                  id: `${k}/${driver}@0.23.2/${profile}/${kind}/${status}/${extra.class ?? ''}`,
                  kernel: { id: k, version, arch: 'amd64', machine: 'q35' },
                  profile,
                  consumer: { id: kind, kind },
                  // only a consumer that prints parameters has a battery (scap-open counts)
                  evidence: { events: 1, marker: true, untracedMarker: false, ...(printsParameters(kind) ? { battery } : {}) },
                });
      shapes.push(cell('new', 'kmod', 'pass', { id: 'new/kmod@0.23.2/control-from-old', profile: 'control-from-old', control: { from: 'old', refused: true, fromRelease: '4.9.0', message: 'm' } as CellResult['control'] }));
      const shapeOf = (c: CellResult) => `${c.driver.id}/${c.profile}/${c.consumer?.kind}`;
      const feeds = (id: string, c: CellResult) => CLAIM_FEEDS[id]!({ driver: c.driver.id, profile: c.profile, consumerKind: c.consumer?.kind ?? '', control: c.control !== undefined });
      for (const id of Object.keys(CLAIM_FEEDS).filter((x) => x !== 'kmod-fastest')) {
        // the cells outside the feed may add words (a host twin beside its refusal) but never decide: the early order reaches the feed first
        const outside = shapes.filter((x) => !feeds(id, x));
        assert.equal(claims(id, outside).verdict, 'untested', `${id}: decided by cells outside its feed (${outside.length})`);
        // some kernel and outcome of each fed shape, alone or beside one other cell, moves the claim
        const moved = new Map<string, boolean>();
        const alone = claims(id, []);
        for (const x of shapes.filter((c) => feeds(id, c))) {
          if (moved.get(shapeOf(x))) continue;
          const moves = (base: CellResult[]) => {
            const before = base.length ? claims(id, base) : alone;
            const after = claims(id, [...base, x]);
            return after.why !== before.why || after.verdict !== before.verdict;
          };
          moved.set(shapeOf(x), [[], ...shapes.filter((y) => y.id !== x.id).map((y) => [y])].some(moves));
        }
        for (const [shape, yes] of moved) assert.ok(yes, `${id}: ${shape} is in its feed, but no such cell ever moved it`);
      }
    });

    it("kmod-fastest: each outcome's words, with the figures", () => {
      const fastest = (ratio: Record<string, number>) => claims('kmod-fastest', [], { overhead: { at: '2026-01-01', ratio } });
      assert.equal(fastest({ ebpf: 2 }).why, 'needs the driver overhead figures (`npm run bench` writes them to reports/bench.json); none measured');
      assert.equal(fastest({ kmod: 1.5 }).why, "only kmod's overhead was measured (1.5×)");
      const ok = fastest({ kmod: 1, ebpf: 2 });
      assert.deepEqual([ok.verdict, ok.why, ok.cells], ['supported', 'kmod costs clearly the least: syscall loop ×1 with kmod, ×2 with ebpf (vs no driver; bench of 2026-01-01)', []]);
      assert.equal(fastest({ kmod: 2, ebpf: 1, pdig: 1.2 }).why, 'ebpf, pdig cost clearly less than kmod: syscall loop ×2 with kmod, ×1 with ebpf, ×1.2 with pdig (vs no driver; bench of 2026-01-01)');
      // the noise band's edges: 25% either way
      assert.equal(fastest({ kmod: 2, ebpf: 1.5 }).verdict, 'untested');
      assert.equal(fastest({ kmod: 2, ebpf: 1.49 }).verdict, 'contradicted');
      assert.equal(fastest({ kmod: 2, ebpf: 2.5 }).verdict, 'untested');
      assert.equal(fastest({ kmod: 2, ebpf: 2.51 }).verdict, 'supported');
      assert.equal(fastest({ kmod: 2, ebpf: 2.2 }).why, 'too close to call: ebpf within 25% of kmod, inside one TCG measurement\'s noise: syscall loop ×2 with kmod, ×2.2 with ebpf (vs no driver; bench of 2026-01-01)');
    });

    it('kmod-tied-to-kernel: decided by the controls alone; refused across both version and architecture', () => {
      const control = (b: string, a: string, status: CellResult['status'], facts: Record<string, unknown>, extra: Partial<CellResult> = {}): CellResult => ({
        ...cell(b, 'kmod', status, { id: `${b}/kmod@0.23.2/control-from-${a}`, profile: `control-from-${a}`, control: { from: a, ...facts } as CellResult['control'], ...extra }),
      });
      const tied = (cells: CellResult[]) => claims('kmod-tied-to-kernel', cells);
      const version = control('b', 'a', 'pass', { refused: true, fromRelease: '5.10', message: 'scap: version magic x' });
      const arch = control('b', 'x', 'pass', { refused: true, fromArch: 'arm64', message: 'Invalid architecture in ELF header' });
      const ok = tied([version, arch, cell('b', 'kmod', 'fail', { phase: 'load', firstError: 'e' })]);
      assert.equal(ok.verdict, 'supported');
      assert.equal(ok.why, 'every negative control that ran was refused, across versions and architectures: b refused the module built for a (5.10) across version: scap: version magic x; b refused the module built for x across architecture (arm64 → amd64): Invalid architecture in ELF header');
      assert.deepEqual(ok.cells, [version.id, arch.id]);
      const oneWay = tied([version]);
      assert.deepEqual([oneWay.verdict, oneWay.cells], ['untested', [version.id]]);
      assert.match(oneWay.why, /none crossed the architecture \(matrix\.yaml controls: crossArch: true\)/);
      const noMessage = tied([control('b', 'a', 'pass', { refused: true }, { reason: 'refused it' }), arch]);
      assert.match(noMessage.why, /built for a across version: refused it;/);
      const accepted = control('b', 'a', 'fail', { refused: false });
      assert.deepEqual([tied([version, arch, accepted]).verdict, tied([accepted]).why], ['contradicted', 'b accepted the kernel module built for a (across version)']);
      // a control failing otherwise (no answer from insmod) decides nothing, and names its phase and words
      const noAnswer = control('b', 'a', 'fail', {}, { phase: 'load', reason: 'no answer from insmod' });
      const failed = tied([version, arch, noAnswer]);
      assert.equal(failed.verdict, 'untested');
      assert.match(failed.why, /b\/kmod@0\.23\.2\/control-from-a failed at load without insmod's answer \(no answer from insmod\)/);
      assert.deepEqual(failed.cells, [version.id, arch.id]);
      assert.match(tied([control('b', 'a', 'fail', {})]).why, /failed at an unknown phase without insmod's answer \(no error recorded\)/);
      assert.match(tied([control('b', 'a', 'fail', {}, { firstError: 'fe', reason: 'r' })]).why, /without insmod's answer \(fe\)/);
      // a pass without refused (older results) is neither
      assert.match(tied([control('b', 'a', 'pass', {})]).why, /^no negative control was refused or accepted/);
      assert.match(tied([]).why, /^no negative control ran/);
    });

    it('ebpf-same-data-as-kmod: pairs by kernel, source, profile and consumer kind; the differences named, at most three each; agreement needs both batteries whole', () => {
      // the whole script (BATTERY_SCRIPT), each call's fd seen as `seens` says (right where not given)
      const call = (seq: number, seen: string) => ({ seq, call: BATTERY_SCRIPT[seq - 1]!, status: (seen === '3' ? 'right' : 'wrong') as 'right' | 'wrong', fields: [{ field: 'fd', expected: '3', seen }] });
      const whole = (seens: string[]) => BATTERY_SCRIPT.map((_, i) => seens[i] ?? '3');
      const withBattery = (kernel: string, driver: DriverId, seens: string[], profile = 'host', kind: 'sysdig' | 'falco' = 'sysdig') => ({
        ...cell(kernel, driver, 'pass'),
        id: `${kernel}/${driver}@0.23.2/${profile}`,
        profile,
        consumer: { id: kind, kind },
        evidence: { events: 1, marker: true, battery: { right: seens.filter((x) => x === '3').length, wrong: seens.filter((x) => x !== '3').length, missing: 0, calls: seens.map((x, i) => call(i + 1, x)) } },
      });
      const same = claims('ebpf-same-data-as-kmod', [withBattery('a', 'kmod', whole([])), withBattery('a', 'ebpf', whole([])), withBattery('b', 'ebpf', whole(['4']))]);
      assert.equal(same.verdict, 'supported');
      assert.equal(same.why, "the battery's events match call for call, the enter events included, on a (ebpf@0.23.2 20/20 = kmod)");
      assert.deepEqual(same.cells, ['a/kmod@0.23.2/host', 'a/ebpf@0.23.2/host']);
      const differ = claims('ebpf-same-data-as-kmod', [withBattery('a', 'kmod', whole([])), withBattery('a', 'modern-ebpf', whole(['4', '4']))]);
      assert.equal(differ.verdict, 'contradicted');
      assert.equal(differ.why, 'a/modern-ebpf@0.23.2/host differs from a/kmod@0.23.2/host: mkdirat #1: right vs wrong; mkdirat #1 fd: as called vs 4; openat #2: right vs wrong; +1 more');
      assert.deepEqual(differ.cells, ['a/kmod@0.23.2/host', 'a/modern-ebpf@0.23.2/host']);
      const otherProfile = claims('ebpf-same-data-as-kmod', [withBattery('a', 'kmod', whole([])), withBattery('a', 'ebpf', whole(['4']), 'locked-down')]);
      assert.equal(otherProfile.verdict, 'untested');
      assert.match(otherProfile.why, /^no kernel has the battery from both an eBPF driver and the kernel module of the same source and consumer kind/);
      const otherKind = claims('ebpf-same-data-as-kmod', [withBattery('a', 'kmod', whole([])), withBattery('a', 'ebpf', whole(['4']), 'host', 'falco')]);
      assert.equal(otherKind.verdict, 'untested', "Falco's battery against sysdig's is no pair");
      // results without the consumer's kind: the same consumer id pairs, none does not
      const noKind = (c: ReturnType<typeof withBattery>, id?: string) => ({ ...c, consumer: id ? { id } : undefined });
      assert.equal(claims('ebpf-same-data-as-kmod', [noKind(withBattery('a', 'kmod', whole([])), 'sysdig'), noKind(withBattery('a', 'ebpf', whole(['4'])), 'sysdig')]).verdict, 'contradicted');
      assert.equal(claims('ebpf-same-data-as-kmod', [noKind(withBattery('a', 'kmod', whole([])), 'sysdig'), noKind(withBattery('a', 'ebpf', whole(['4'])), 'sysdig-0.40')]).verdict, 'untested');
      assert.equal(claims('ebpf-same-data-as-kmod', [noKind(withBattery('a', 'kmod', whole([]))), noKind(withBattery('a', 'ebpf', whole(['4'])))]).verdict, 'untested');
      // one kind known, the other not: the consumer ids decide
      assert.equal(claims('ebpf-same-data-as-kmod', [noKind(withBattery('a', 'kmod', whole([])), 'sysdig'), withBattery('a', 'ebpf', whole(['4']))]).verdict, 'contradicted');
      // exactly three differences: no "more"
      assert.equal(
        claims('ebpf-same-data-as-kmod', [withBattery('a', 'kmod', whole(['4'])), withBattery('a', 'ebpf', whole(['5', '4']))]).why,
        'a/ebpf@0.23.2/host differs from a/kmod@0.23.2/host: mkdirat #1 fd: 4 vs 5; openat #2: right vs wrong; openat #2 fd: as called vs 4',
      );
      // a whole battery with a call missing is not whole
      const gap = withBattery('a', 'ebpf', whole([]));
      const withGap = { ...gap, evidence: { ...gap.evidence, battery: { ...gap.evidence.battery, calls: gap.evidence.battery.calls.map((c, i) => (i === 0 ? { ...c, status: 'missing' as const, fields: [] } : c)) } } };
      const kmodGap = { ...withBattery('a', 'kmod', whole([])), evidence: withGap.evidence };
      assert.equal(claims('ebpf-same-data-as-kmod', [kmodGap, withGap]).verdict, 'untested', 'both missing the same call agree, but are not whole');
      const empty = claims('ebpf-same-data-as-kmod', [withBattery('a', 'kmod', []), withBattery('a', 'ebpf', [])]);
      assert.equal(empty.verdict, 'untested');
      // two batteries cut alike agree on nothing
      const cut = claims('ebpf-same-data-as-kmod', [withBattery('a', 'kmod', ['3', '3']), withBattery('a', 'ebpf', ['3', '3'])]);
      assert.deepEqual([cut.verdict, cut.why], ['untested', 'the batteries agree only as far as they go, and none of the pairs is complete: a/ebpf@0.23.2/host 2 calls, 0 missing; a/kmod@0.23.2/host 2, 0 missing']);
      assert.deepEqual(cut.cells, ['a/kmod@0.23.2/host', 'a/ebpf@0.23.2/host']);
    });
  });
});
