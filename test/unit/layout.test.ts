// The layout stays readable: no import cycle among harness/ modules (madge,
// type imports included), and each word of the harness is a folder or a file,
// never both.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import madge from 'madge';

describe('layout of harness/', function () {
  this.timeout(60_000);

  it('has no import cycle', async () => {
    const graph = await madge('harness', { fileExtensions: ['ts'], tsConfig: 'tsconfig.json' });
    assert.ok(Object.keys(graph.obj()).length > 40, 'madge read the modules');
    assert.deepEqual(graph.circular(), []);
  });

  it('no two rooms import each other', async () => {
    const graph = await madge('harness', { fileExtensions: ['ts'], tsConfig: 'tsconfig.json' });
    const room = (f: string) => f.split('/')[0]!.replace(/\.ts$/, '');
    const edges = new Set<string>();
    for (const [from, tos] of Object.entries(graph.obj())) for (const to of tos) if (room(from) !== room(to)) edges.add(`${room(from)} > ${room(to)}`);
    assert.ok(edges.size > 20, 'madge saw the rooms import each other one way');
    const both = [...edges].filter((e) => edges.has(e.split(' > ').reverse().join(' > ')));
    assert.deepEqual(both, []);
  });

  it('a word is a folder or a file, never both', () => {
    const names = readdirSync('harness');
    const both = names.filter((n) => n.endsWith('.ts') && existsSync(path.join('harness', n.replace(/\.ts$/, ''))));
    assert.deepEqual(both, []);
  });
});
