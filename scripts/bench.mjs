// npm run bench: measures this machine (not a test) → reports/bench.json + reports/bench.md.
import { execa } from 'execa';
import { bench, benchTable, writeBench } from '../dist/harness/bench/bench.js';

const commit = (await execa('git', ['rev-parse', '--short', 'HEAD'], { reject: false })).stdout || undefined;
const b = await bench({ matrixFile: process.env.KMATRIX_BENCH_MATRIX ?? 'matrix.yaml', reportsDir: 'reports', commit });
await writeBench(b, 'reports');
process.stdout.write(benchTable(b));
process.exit(0);
