// Complete evidence or no pass, on real VMs: the 6.1 kernel module of driver
// 0.23.2 with sid's sysdig 0.41 (a cell that passes with the real init), run
// with a guest init (KMATRIX_GUEST_INIT) changed, by kernel argument, to skip
// the battery, to cut it short (its output through `head -n 8`: the program
// really dies of SIGPIPE after 7 calls), or to kill the consumer during the
// soak. None of them may pass: each fails at capture with its class and
// first error, twice (a capture failure is run once more).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadMatrix } from '../../harness/matrix.js';
import { GUEST_INIT } from '../../harness/paths.js';
import { describeCell, endRuns, qemuProcesses, runMatrix } from './helpers.js';

const CELL = (profile: string) => `debian-6.1-amd64/kmod@0.23.2/${profile}`;
const NO_BATTERY = CELL('no-battery');
const CUT_BATTERY = CELL('cut-battery');
const SOAK_KILL = CELL('soak-kill');

/** `text` with `from` replaced once (it must be there: init.sh changing under this test fails it, never silently). */
function replaceOnce(text: string, from: string, to: string): string {
  assert.equal(text.split(from).length, 2, `init.sh has exactly one ${JSON.stringify(from)}`);
  return text.replace(from, () => to);
}

/** The real init.sh with the faults, each chosen by the kernel argument kmatrix.fault=<name>. */
function faultyInit(file: string): void {
  let init = readFileSync(GUEST_INIT, 'utf8');
  init = replaceOnce(init, '[ $found = 1 ] && hook capturing\n', `[ $found = 1 ] && hook capturing\nfault=$(sed -n 's/.*kmatrix\\.fault=\\([a-z-]*\\).*/\\1/p' /proc/cmdline)\n`);
  // no-battery: the battery (and so the soak) never runs, and nothing says so
  init = replaceOnce(init, 'if [ $found = 1 ] && [ -x /kmatrix/kmbattery ]; then', 'if [ $found = 1 ] && [ -x /kmatrix/kmbattery ] && [ "$fault" != no-battery ]; then');
  // cut-battery: its stdout a pipe that closes after 8 lines (start + 7 calls); its writes after that kill it (SIGPIPE)
  init = replaceOnce(
    init,
    '  battery "$KM_NONCE" > /tmp/battery.out 2>&1; brc=$?\n',
    '  if [ "$fault" = cut-battery ]; then { battery "$KM_NONCE" 2>&1; echo $? > /tmp/brc; } | head -n 8 > /tmp/battery.out; brc=$(cat /tmp/brc); else battery "$KM_NONCE" > /tmp/battery.out 2>&1; brc=$?; fi\n',
  );
  // soak-kill: the consumer killed after the soak's first round
  init = replaceOnce(init, '      runs=$((runs+1))\n', '      runs=$((runs+1))\n      [ "$fault" = soak-kill ] && [ $runs = 1 ] && kill -9 $pid\n');
  writeFileSync(file, init, { mode: 0o755 });
}

/** matrix.yaml with the three fault profiles, and only their cells. */
function faultMatrix(dir: string): string {
  const text = readFileSync('matrix.yaml', 'utf8')
    .replace(/^recommended: (\S+)$/m, (_, f: string) => `recommended: ${path.resolve(f)}`)
    .replace(/^profiles:\n/m, 'profiles:\n  no-battery: { cmdline: ["kmatrix.fault=no-battery"] }\n  cut-battery: { cmdline: ["kmatrix.fault=cut-battery"] }\n  soak-kill: { cmdline: ["kmatrix.fault=soak-kill"] }\n')
    .replace(/^matrix:\n[\s\S]*$/m, 'matrix:\n  - { kernels: [debian-6.1-amd64], drivers: [kmod], sources: ["0.23.2"], profiles: [no-battery, cut-battery, soak-kill] }\n');
  const file = path.join(dir, 'evidence.yaml');
  writeFileSync(file, text);
  return file;
}

describe('integration: complete evidence or no pass (a battery skipped or cut short, the consumer killed in the soak)', function () {
  this.timeout(30 * 60_000); // cold: the 6.1 kernel, the module's build, sid's sysdig guest; then 6 boots (3 cells, each run twice)
  let r: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'kmatrix-evidence-'));
    faultyInit(path.join(work, 'init'));
    process.env.KMATRIX_GUEST_INIT = path.join(work, 'init');
    try {
      r = await runMatrix([NO_BATTERY, CUT_BATTERY, SOAK_KILL], loadMatrix(faultMatrix(work)));
    } finally {
      delete process.env.KMATRIX_GUEST_INIT;
    }
  });

  after(async () => {
    await endRuns();
    assert.deepEqual(await qemuProcesses(), []);
  });

  /** Failed at capture, as `cls`, both runs (a capture failure is run once more: the same failure again). */
  const failedTwice = (id: string, cls: string) => {
    const c = r.byId.get(id)!;
    assert.deepEqual([c.status, c.phase, c.class], ['fail', 'capture', cls], describeCell(c));
    assert.deepEqual(c.runs?.map((x) => [x.status, x.phase, x.class]), [['fail', 'capture', cls], ['fail', 'capture', cls]], describeCell(c));
    assert.equal(c.evidence?.marker, true, 'the marker was seen: the marker alone is no pass');
    return c;
  };

  it('the battery skipped: fail, "the guest reported no battery"', () => {
    const c = failedTwice(NO_BATTERY, 'capture:workload-incomplete');
    assert.equal(c.firstError, 'battery: the guest reported no battery');
    assert.equal(c.evidence?.battery, undefined);
  });

  it('the battery cut after 7 calls (killed by SIGPIPE): fail, "stopped after 7 of 20 calls", though its 7 calls are right', () => {
    const c = failedTwice(CUT_BATTERY, 'capture:workload-incomplete');
    assert.match(c.firstError ?? '', /^battery: stopped after 7 of 20 calls \(exit \d+\)$/);
    assert.equal(c.reason, 'marker seen, but the battery did not run its whole script');
    assert.deepEqual([c.evidence?.battery?.calls.length, c.evidence?.battery?.right], [7, 7], c.evidence?.battery?.firstProblem);
  });

  it('the consumer killed during the soak: fail, consumer-died, the soak saying it was not alive at its end', () => {
    const c = failedTwice(SOAK_KILL, 'capture:consumer-died');
    assert.equal(c.reason, 'the consumer was killed by signal 9 (SIGKILL) during the soak');
    assert.equal(c.firstError, 'sysdig was killed by signal 9 (SIGKILL)', 'its stderr says nothing: the exit is the first error');
    assert.equal(c.evidence?.soak?.alive, false, JSON.stringify(c.evidence?.soak));
    assert.ok((c.evidence?.soak?.runs ?? 0) >= 1);
    assert.deepEqual([c.evidence?.battery?.right, c.evidence?.battery?.rc], [20, 0], 'the battery before the soak was whole and right');
  });
});
