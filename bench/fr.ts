/** Face-recognition training loop overhead vs a bare PyTorch loop, and the verification protocol's speed. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot, pythonExecutable } from '../src/bridge/python-env.ts';
import type { BenchRow } from './bridge.ts';
import { type Clocks, roundsLabel } from './timing.ts';

export async function benchFr(): Promise<BenchRow[]> {
  const r = JSON.parse(execFileSync(pythonExecutable(), [path.join(projectRoot, 'bench', 'fr.py')], { encoding: 'utf8' })) as {
    batchSize: number;
    training: Clocks;
    pairsPerSecond: number;
  };
  const { wall, cpu } = r.training;
  const round = (x: number) => Number(x.toPrecision(4));
  return [
    {
      name: `train-fr loop, iresnet-small 32 px, batch ${r.batchSize}`,
      value: round(r.batchSize / wall.ours),
      unit: 'img/s',
      target: '(figure)',
      pass: true,
    },
    {
      name: 'bare PyTorch loop, same model/data/batches',
      value: round(r.batchSize / wall.reference),
      unit: 'img/s',
      target: '(figure)',
      pass: true,
    },
    {
      name: `train-fr median step time ÷ bare loop's (${roundsLabel(wall)})`,
      value: round(wall.ratio),
      unit: '×',
      target: '≤ 1.05',
      pass: wall.ratio <= 1.05,
    },
    { name: `the same in CPU time (${roundsLabel(cpu)})`, value: round(cpu.ratio), unit: '×', target: '(figure)', pass: true },
    {
      name: 'verification protocol, 6,000 pairs of 512-d',
      value: round(r.pairsPerSecond),
      unit: 'pairs/s',
      target: '(figure)',
      pass: true,
    },
  ];
}
