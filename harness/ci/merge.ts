// Merge: the results of a sharded run's jobs joined into one run. Every shard
// must be there, every cell a shard was given must have exactly one result,
// and two different results for one cell are refused, never picked from.
import { UserError } from '../errors.js';
import type { ResultsFile } from '../results.js';
import type { CellResult, RunInfo } from '../types.js';

export interface ShardResults {
  /** Where it came from (named in errors). */
  source: string;
  file: ResultsFile;
}

const sameResult = (a: CellResult, b: CellResult) =>
  a.status === b.status && a.phase === b.phase && a.reason === b.reason && a.firstError === b.firstError;

/** Join shards into one run (cells and RunInfo); verdicts are the caller's (they need the matrix). */
export function mergeShards(shards: ShardResults[]): { run: RunInfo; cells: CellResult[]; from: Map<string, string> } {
  if (!shards.length) throw new UserError('merge: no shard results given (pass the shard directories, each with a results.json).');
  const problems: string[] = [];
  const total = shards[0]!.file.run.shard?.total;
  const seen = new Map<number, string>();
  for (const s of shards) {
    const sh = s.file.run.shard;
    if (!sh) {
      if (shards.length > 1) problems.push(`${s.source} is not a shard (no run.shard: was it run with --shard i/N?)`);
      continue;
    }
    if (sh.total !== total) problems.push(`${s.source} is shard ${sh.index}/${sh.total}, others are of ${total}`);
    if (seen.has(sh.index)) problems.push(`shard ${sh.index}/${sh.total} given twice (${seen.get(sh.index)} and ${s.source})`);
    seen.set(sh.index, s.source);
  }
  if (total !== undefined)
    for (let i = 1; i <= total; i++) if (!seen.has(i) && shards.every((s) => s.file.run.shard)) problems.push(`shard ${i}/${total} is missing`);

  const byId = new Map<string, CellResult>();
  const from = new Map<string, string>();
  for (const s of shards) {
    for (const c of s.file.cells) {
      const had = byId.get(c.id);
      if (had && !sameResult(had, c))
        problems.push(`conflicting results for ${c.id}: ${had.status}${had.phase ? ` at ${had.phase}` : ''} in ${from.get(c.id)}, ${c.status}${c.phase ? ` at ${c.phase}` : ''} in ${s.source}`);
      else if (had) problems.push(`${c.id} has a result in both ${from.get(c.id)} and ${s.source}`);
      else {
        byId.set(c.id, c);
        from.set(c.id, s.source);
      }
    }
    for (const id of s.file.run.shard?.cells ?? []) if (!s.file.cells.some((c) => c.id === id)) problems.push(`${id} (given to ${s.source}) has no result`);
  }
  const of = shards.map((s) => s.file.run.shard?.of).filter((x) => x !== undefined);
  if (new Set(of.map((x) => x.hash)).size > 1) problems.push('the shards were cut from different cell selections (different matrix or --cell)');
  else if (of.length && of.length === shards.length && byId.size !== of[0]!.cells)
    problems.push(`${of[0]!.cells - byId.size} cell(s) of the selection have no result: the shards were split differently (each shard must get the same --previous)`);
  if (problems.length) throw new UserError(`merge refused: ${problems.join('; ')}.`);

  const runs = shards.map((s) => s.file.run);
  const first = runs[0]!;
  const join = (xs: string[]) => [...new Set(xs)].join(',');
  const run: RunInfo = {
    ...first,
    id: first.id,
    startedAt: runs.map((r) => r.startedAt).sort()[0]!,
    finishedAt: runs.map((r) => r.finishedAt ?? '').sort().at(-1) || undefined,
    host: join(runs.map((r) => r.host)),
    accel: join(runs.flatMap((r) => r.accel.split(','))),
    expiredSuitesAccepted: [...new Set(runs.flatMap((r) => r.expiredSuitesAccepted))],
  };
  delete run.shard;
  return { run, cells: [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), from };
}
