// test/processes.ts, what the integration suites' `after` hooks use to end the
// CLI processes a timed-out hook or test left running.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Children } from '../processes.js';

/** Live (not zombie) descendants of pid, from /proc. */
function descendants(pid: number): number[] {
  const r = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  const kids = r ? r.split(' ').map(Number) : [];
  return kids.flatMap((k) => [k, ...(existsSync(`/proc/${k}`) ? descendants(k) : [])]);
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), what);
}

describe('test/processes: ending what a suite started', function () {
  this.timeout(30_000);

  it('ends a child and its whole tree with SIGTERM, and waits for them', async () => {
    const c = new Children();
    const p = c.start('sh', ['-c', 'sleep 300 & sleep 300 & wait'], { reject: false });
    await until(() => descendants(p.pid!).length === 2, 'two sleeps started');
    const tree = [p.pid!, ...descendants(p.pid!)];
    await c.endAll();
    assert.deepEqual(tree.filter(alive), []);
    assert.equal((await p).signal, 'SIGTERM');
  });

  it('SIGKILLs what ignores SIGTERM, an orphan (its parent died) included', async () => {
    const c = new Children();
    // the outer shell dies of SIGTERM; the inner one and its sleep ignore it, and are orphaned
    const p = c.start('sh', ['-c', `sh -c 'trap "" TERM; sleep 300; :' & wait`], { reject: false });
    await until(() => descendants(p.pid!).length === 2, 'inner shell and sleep started');
    const tree = [p.pid!, ...descendants(p.pid!)];
    const t0 = Date.now();
    await c.endAll(1000);
    assert.deepEqual(tree.filter(alive), []);
    assert.ok(Date.now() - t0 >= 1000, 'after the grace period');
  });

  it('starts nothing once ended; a child that already exited is left alone', async () => {
    const c = new Children();
    const done = await c.start('true', []);
    assert.equal(done.exitCode, 0);
    await c.endAll();
    assert.throws(() => c.start('true', []), /this suite's processes were ended/);
  });
});
