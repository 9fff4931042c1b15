/** prepare → train-fr → evaluate through the runner, in the bridge and under torchrun. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import type { EvaluateSummary } from '../../src/pipeline/stages/evaluate.ts';
import type { TrainFrSummary } from '../../src/pipeline/stages/train-fr.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-fr-'));
const config = (name: string, processes: number) =>
  resolveConfig(
    {
      name,
      runsDir,
      device: 'cpu',
      dataset: { kind: 'parametric', identities: 30, imagesPerIdentity: 4, resolution: 32, valIdentities: 2, testIdentities: 20 },
      trainFr: {
        backbone: 'iresnet-small', inputSize: 32, embeddingSize: 32, widths: [8, 8, 16, 16], layers: [1, 1, 1, 1],
        head: 'cosface', s: 16, m: 0.2, epochs: 2, decayEpochs: [2], batchSize: 8 / processes, lr: 0.05, processes,
      },
      evaluate: { pairs: 100 },
    },
    'test',
  );

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
});
afterAll(async () => {
  await session.close();
});

describe('train-fr and evaluate', () => {
  it('train in the bridge, then score the encoder and the pixel baseline on the same held-out pairs', async () => {
    const result = await runPipeline(config('bridge', 1), { session });
    const train = result.stages['train-fr']!.record.summary as TrainFrSummary;
    expect(train).toMatchObject({ steps: 2 * 4, classes: 8, images: 32, processes: 1, encoder: 'train-fr' });
    const evaluation = result.stages.evaluate!.record.summary as EvaluateSummary;
    expect(evaluation.identities).toBe(20);
    expect(evaluation.rows.map((r) => [r.model, r.pairs])).toEqual([['iresnet-small (train-fr)', 100], ['raw pixels (cosine)', 100]]);
    for (const row of evaluation.rows) {
      expect(row.accuracy).toBeGreaterThanOrEqual(0.4);
      expect(row.accuracy).toBeLessThanOrEqual(1);
    }
    const table = readFileSync(path.join(result.dir, evaluation.table), 'utf8').trim().split('\n');
    expect(table[0]).toBe('model,pairs,accuracy,std,threshold,tarAt1e3,tarAt1e4');
    expect(table).toHaveLength(3);
    const pairs = readFileSync(path.join(result.dir, evaluation.pairsFile), 'utf8').trim().split('\n');
    expect(pairs).toHaveLength(101);
  });

  it('forcing train-fr redoes evaluate too, and leaves prepare cached', async () => {
    const result = await runPipeline(config('bridge', 1), { session, force: ['train-fr'] });
    expect(Object.fromEntries(Object.entries(result.stages).map(([name, s]) => [name, s.outcome]))).toEqual({
      prepare: 'cached',
      'train-fr': 'done',
      evaluate: 'done',
    });
  });

  it('train under torchrun with two processes (gloo)', async () => {
    const result = await runPipeline(config('torchrun', 2), { session });
    const train = result.stages['train-fr']!.record.summary as TrainFrSummary;
    expect(train.processes).toBe(2);
    expect(train.steps).toBe(2 * 4);
    const events = readFileSync(path.join(result.dir, 'train-fr', 'events.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ step: 8, total: 8 });
    expect(JSON.parse(readFileSync(path.join(result.dir, 'run.json'), 'utf8')).status).toBe('done');
  });
});
