#!/usr/bin/env node
// CI glue of the nightly workflow (.github/workflows/nightly.yml), in zx:
//   nightly.mjs shard <i>   run shard i of $KMATRIX_SHARDS into reports/shards/<run-id>/
//   nightly.mjs merge       merge shards/*/ → reports/<run-id>/, check expectations,
//                           publish into site/, keep the results in previous/;
//                           writes `published` and `code` to $GITHUB_OUTPUT.
// Environment: KMATRIX_RUN_ID, KMATRIX_SHARDS, KMATRIX_CELL (optional: only the
// cells matching this glob, e.g. a workflow_dispatch of part of the matrix).
import { $, fs, path } from 'zx';

$.verbose = true;
const [cmd, arg] = process.argv.slice(2);
const runId = process.env.KMATRIX_RUN_ID ?? `local-${Date.now()}`;
const shards = Number(process.env.KMATRIX_SHARDS ?? 4);
const previous = 'previous/results.json';
const kmatrix = ['node', 'bin/kmatrix.js'];
const only = process.env.KMATRIX_CELL ? ['--cell', process.env.KMATRIX_CELL] : [];

async function output(key, value) {
  if (process.env.GITHUB_OUTPUT) await fs.appendFile(process.env.GITHUB_OUTPUT, `${key}=${value}\n`);
  console.log(`${key}=${value}`);
}

if (cmd === 'shard') {
  const i = Number(arg);
  // A shard's own cell failures are judged after the merge; infrastructure errors (3) stay visible but do not stop the others.
  const r = await $({ nothrow: true })`${kmatrix} --reports reports/shards run ${only} --shard ${i}/${shards} --run-id ${runId} -j 2 --previous ${(await fs.pathExists(previous)) ? previous : ''}`;
  if (r.exitCode !== 0 && r.exitCode !== 3) process.exit(r.exitCode ?? 1);
} else if (cmd === 'merge') {
  const dirs = (await fs.readdir('shards')).filter((d) => d.startsWith('shard-')).sort().map((d) => path.join('shards', d));
  const out = path.join('reports', runId);
  const merged = await $({ nothrow: true })`${kmatrix} merge ${dirs} --out ${out} --previous ${(await fs.pathExists(previous)) ? previous : ''}`;
  // exit code 1: expectations not met (still published); anything else without results: no run to publish
  if (!(await fs.pathExists(path.join(out, 'results.json')))) {
    await output('published', 'false');
    await output('code', merged.exitCode ?? 1);
    process.exit(0);
  }
  await $`${kmatrix} report ${out} --publish site`;
  await fs.ensureDir('previous');
  await fs.copy(path.join(out, 'results.json'), previous);
  await output('published', 'true');
  await output('code', merged.exitCode ?? 1);
} else {
  console.error('usage: nightly.mjs shard <i> | merge');
  process.exit(2);
}
