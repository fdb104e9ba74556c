// The reports of a run, written side by side in its directory: index.html
// (compatibility), junit.xml, mochawesome.html; and `publish`, which adds a
// run to a static site (runs/<id>/, history.json, index.html with the history).
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic.js';
import { UserError } from '../errors.js';
import { readResults, type ResultsFile } from '../results.js';
import { addRun, historyEntry, historySection, streak, type History } from './history.js';
import { renderReport } from './html.js';
import { renderJUnit } from './junit.js';
import { writeMochawesome } from './mochawesome.js';

/** Write the run's HTML report, JUnit XML and mochawesome report; returns the HTML's path. */
export async function writeReport(data: ResultsFile, runDir: string): Promise<string> {
  const file = path.join(runDir, 'index.html');
  // atomic: the page may be open while the run goes (progress.ts), never seen half-written
  await writeFileAtomic(file, renderReport(data));
  await writeFile(path.join(runDir, 'junit.xml'), renderJUnit(data));
  await writeMochawesome(data, runDir);
  return file;
}

/**
 * Add a run (its directory, with results.json and cells/) to the site in
 * `siteDir`: runs/<id>/ keeps it whole, history.json gets its entry, and
 * index.html shows the newest run with what changed since the one before.
 */
export async function publish(runDir: string, siteDir: string): Promise<{ index: string; history: History }> {
  const data = readResults(path.join(runDir, 'results.json'));
  const id = data.run.id;
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new UserError(`Run id ${JSON.stringify(id)} cannot name a directory of the site.`);
  const target = path.join(siteDir, 'runs', id);
  await mkdir(path.join(siteDir, 'runs'), { recursive: true });
  if ((await realpath(runDir)) !== (existsSync(target) ? await realpath(target) : '')) await cp(await realpath(runDir), target, { recursive: true, dereference: true });
  await writeReport(data, target);

  const historyFile = path.join(siteDir, 'history.json');
  let history: History = { runs: [] };
  if (existsSync(historyFile)) {
    try {
      history = JSON.parse(readFileSync(historyFile, 'utf8')) as History;
      if (!Array.isArray(history.runs)) throw new Error('no "runs" list');
    } catch (e) {
      throw new UserError(`${historyFile} is not a kmatrix history file (${(e as Error).message}); move it away to start a new history.`);
    }
  }
  history = addRun(history, historyEntry(data));
  await writeFileAtomic(historyFile, JSON.stringify(history, null, 2) + '\n');

  const latest = history.runs.at(-1)!;
  const latestData = latest.id === id ? data : readResults(path.join(siteDir, 'runs', latest.id, 'results.json'));
  const index = path.join(siteDir, 'index.html');
  await writeFileAtomic(index, renderReport(latestData, {
      base: `runs/${latest.id}/`,
      history: historySection(history, (r) => `runs/${r}/index.html`),
      streak: (cell) => {
        const s = streak(history, cell);
        return s && `${s.status} for ${s.runs} published run(s) in a row`;
      },
    }));
  return { index, history };
}
