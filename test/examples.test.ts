/** examples/ablation.ts at toy size: one row per ablation, each variant remaking only what it changes. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../src/bridge/session.ts';
import type { StageName } from '../src/pipeline/stage.ts';
import { ablation, variants } from '../examples/ablation.ts';
import { toyId3Config } from './fixtures/toy-id3.ts';

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
});
afterAll(async () => session?.close());

describe('examples/ablation.ts', () => {
  it("sweeps the paper's ablation axes into one CSV, sharing every stage a variant does not change", async () => {
    const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-ablation-'));
    const result = await ablation(toyId3Config(runsDir), { session });
    expect(result.rows.map((r) => r.variant)).toEqual(Object.keys(variants));

    const made = (stage: StageName) => Object.keys(variants).filter((v) => result.runs[v]!.stages[stage]?.outcome === 'done');
    expect(made('prepare')).toEqual(['id3']);
    expect(made('train')).toEqual(['id3', 'no-id-loss']); // only the ID loss is a training setting
    expect(made('anchors')).toEqual(['id3', 'random-anchors']);
    expect(made('generate')).toEqual(Object.keys(variants)); // every axis changes the generated set

    const fields = ['variant', 'diffusion.loss.w', 'diffusion.sampler.guidanceScale', 'anchors.method', 'generate.bounds'];
    expect(result.rows.map((r) => fields.map((f) => r[f]))).toEqual([
      ['id3', 0.5, 2, 'tammes', '[0.7,0.9]'],
      ['no-id-loss', 0, 2, 'tammes', '[0.7,0.9]'],
      ['no-guidance', 0.5, 0, 'tammes', '[0.7,0.9]'],
      ['random-anchors', 0.5, 2, 'random', '[0.7,0.9]'],
      ['bounds-0.5-0.7', 0.5, 2, 'tammes', '[0.5,0.7]'],
    ]);
    for (const row of result.rows) {
      expect(Math.abs(row['judge consistency'] as number)).toBeLessThanOrEqual(1); // the judge's figures, per variant
      expect(row['judge precision']).toBeGreaterThanOrEqual(0);
      expect(row['held-out iresnet-small (train-fr)']).toBeGreaterThan(0.3);
    }
    // The papers' table: a row per training set, the rows every variant shares once.
    const trainedOn = Object.keys(variants)
      .slice(1)
      .map((v) => `iresnet-small (train-fr) on ${v}`);
    expect(result.verification!.rows.map((r) => r.model)).toEqual([
      'iresnet-small (encoder)',
      'iresnet-small (train-fr) on id3',
      'raw pixels (cosine)',
      ...trainedOn,
    ]);
    expect(result.verification!.rows[1]!['held-out']).toBe(
      Number((100 * (result.rows[0]!['held-out iresnet-small (train-fr)'] as number)).toFixed(2)),
    );
    const csv = readFileSync(path.join(runsDir, 'toy', 'sweep.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv).toHaveLength(1 + result.rows.length);
    expect(csv[0]).toBe(result.columns.join(','));
  }, 180_000);
});
