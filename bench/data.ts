/** Data loading: 112×112 JPEG images/s from a .rec with 2 DataLoader workers vs the same files from folders;
 *  train-fr's loop with its data in memory vs streamed (bench/data.py). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot, pythonExecutable } from '../src/bridge/python-env.ts';
import type { BenchRow } from './bridge.ts';

export async function benchData(): Promise<BenchRow[]> {
  const r = JSON.parse(execFileSync(pythonExecutable(), [path.join(projectRoot, 'bench', 'data.py')], { encoding: 'utf8' })) as {
    images: number;
    rec: number;
    folders: number;
    trainMemory: number;
    trainStream: number;
  };
  const round = (x: number) => Number(x.toPrecision(4));
  return [
    {
      name: `.rec, 2 workers, 112×112 JPEG decoded (${r.images} images)`,
      value: round(r.rec),
      unit: 'img/s',
      target: '≥ 1000',
      pass: r.rec >= 1000,
    },
    { name: 'same JPEGs from identity folders, 2 workers', value: round(r.folders), unit: 'img/s', target: '(figure)', pass: true },
    { name: '.rec ÷ folders', value: round(r.rec / r.folders), unit: '×', target: '(figure)', pass: true },
    { name: 'train-fr 32 px, data in memory', value: round(r.trainMemory), unit: 'img/s', target: '(figure)', pass: true },
    { name: 'train-fr 32 px, streamed by 2 workers', value: round(r.trainStream), unit: 'img/s', target: '(figure)', pass: true },
    { name: 'train-fr in memory ÷ streamed', value: round(r.trainMemory / r.trainStream), unit: '×', target: '(figure)', pass: true },
  ];
}
