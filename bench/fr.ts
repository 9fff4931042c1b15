/** Face-recognition training loop overhead vs a bare PyTorch loop, and the verification protocol's speed. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot, pythonExecutable } from '../src/bridge/python-env.ts';
import type { BenchRow } from './bridge.ts';

export async function benchFr(): Promise<BenchRow[]> {
  const r = JSON.parse(execFileSync(pythonExecutable(), [path.join(projectRoot, 'bench', 'fr.py')], { encoding: 'utf8' })) as {
    ours: number;
    bare: number;
    pairsPerSecond: number;
  };
  const ratio = r.bare / r.ours;
  const round = (x: number) => Number(x.toPrecision(4));
  return [
    { name: 'train-fr loop, iresnet-small 32 px, batch 64', value: round(r.ours), unit: 'img/s', target: '(figure)', pass: true },
    { name: 'bare PyTorch loop, same model/data/batches', value: round(r.bare), unit: 'img/s', target: '(figure)', pass: true },
    { name: 'train-fr time ÷ bare loop time', value: round(ratio), unit: '×', target: '≤ 1.05', pass: ratio <= 1.05 },
    { name: 'verification protocol, 6,000 pairs of 512-d', value: round(r.pairsPerSecond), unit: 'pairs/s', target: '(figure)', pass: true },
  ];
}
