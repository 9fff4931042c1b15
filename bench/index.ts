/** `npm run bench`: every benchmark, measured side by side in one run, printed as a table. */
import { stringify } from 'csv-stringify/sync';
import { closeSession } from '../src/bridge/index.ts';
import { benchAnchors } from './anchors.ts';
import { benchBridge, type BenchRow } from './bridge.ts';
import { benchEncoders } from './encoders.ts';
import { benchData } from './data.ts';
import { benchDiffusion } from './diffusion.ts';
import { benchFr } from './fr.ts';
import { benchOrchestration } from './orchestration.ts';
import { benchParametric } from './parametric.ts';

const suites: Array<[string, () => Promise<BenchRow[]>]> = [
  ['bridge', benchBridge],
  ['parametric', benchParametric],
  ['fr', benchFr],
  ['encoders', benchEncoders],
  ['data', benchData],
  ['anchors', benchAnchors],
  ['diffusion', benchDiffusion],
  ['orchestration', benchOrchestration],
];

// `npm run bench -- fr diffusion`: only the suites named.
const chosen = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const unknown = chosen.filter((name) => !suites.some(([suite]) => suite === name));
if (unknown.length) throw new Error(`unknown benchmark suite ${unknown.join(', ')}; known: ${suites.map(([s]) => s).join(', ')}`);

const rows: Array<BenchRow & { suite: string }> = [];
for (const [suite, bench] of suites.filter(([name]) => chosen.length === 0 || chosen.includes(name))) {
  console.error(`running ${suite} …`);
  for (const row of await bench()) rows.push({ suite, ...row });
}
await closeSession();

const width = Math.max(...rows.map((r) => r.name.length));
for (const r of rows) {
  console.log(`${r.pass ? 'ok  ' : 'MISS'} ${r.name.padEnd(width)}  ${String(r.value).padStart(9)} ${r.unit.padEnd(6)} target ${r.target}`);
}
if (process.argv.includes('--csv'))
  process.stdout.write(`\n${stringify(rows, { header: true, columns: ['suite', 'name', 'value', 'unit', 'target', 'pass'] })}`);
