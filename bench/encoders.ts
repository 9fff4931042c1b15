/**
 * Encoders: images/s of the real-data prepare job per encoder on this machine (CPU, or CUDA when
 * torch sees one), the attribute predictors' error on the parametric set, and the framing check
 * (does the dlib descriptor need its own framing? same/different-person distances on real photos).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot, pythonExecutable } from '../src/bridge/python-env.ts';
import type { BenchRow } from './bridge.ts';

interface Distances {
  same: [number, number];
  different: [number, number];
  balancedAccuracy: number;
}

const run = <T>(script: string): T =>
  JSON.parse(execFileSync(pythonExecutable(), [path.join(projectRoot, 'bench', script)], { encoding: 'utf8', maxBuffer: 1 << 24 })) as T;

export async function benchEncoders(): Promise<BenchRow[]> {
  const speed = run<{
    device: string;
    imagesPerSecond: Record<string, number>;
    parametric: { errors: Record<string, { mae: number; correlation: number }> };
  }>('encoders.py');
  const framing = run<{ distances: Record<string, Distances> }>('framing.py');
  const round = (x: number) => Number(x.toPrecision(4));
  const rows: BenchRow[] = Object.entries(speed.imagesPerSecond).map(([name, value]) => ({
    name: `prepare (${speed.device}): ${name}`,
    value: round(value),
    unit: 'img/s',
    target: '(figure)',
    pass: true,
  }));
  for (const [name, e] of Object.entries(speed.parametric.errors)) {
    rows.push({
      name: `parametric set: ${name} error of the predictor (r = ${e.correlation})`,
      value: e.mae,
      unit: name === 'age' ? 'years' : '°',
      target: '(figure)',
      pass: true,
    });
  }
  for (const [name, d] of Object.entries(framing.distances)) {
    // Separation: the closest different-person pair over the farthest same-person pair.
    const margin = d.different[1] / d.same[1];
    rows.push({
      name: `dlib on real photos, ${name}: nearest other ÷ farthest same`,
      value: round(margin),
      unit: '×',
      target: name === 'arcface crop, resized only' ? '(figure)' : '> 1',
      pass: name === 'arcface crop, resized only' || margin > 1,
    });
  }
  return rows;
}
