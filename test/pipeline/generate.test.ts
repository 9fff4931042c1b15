/**
 * The ID³ pipeline at toy size: prepare → encoder → attributes → train → anchors → generate →
 * train-fr on the generated set → evaluate → report; and generate killed under torchrun, resumed,
 * ending with the bytes of an unbroken run in the bridge.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import type { GenerateSummary } from '../../src/pipeline/stages/generate.ts';
import type { TrainFrSummary } from '../../src/pipeline/stages/train-fr.ts';
import { exited, runCli, spawnTs } from '../fixtures/processes.ts';
import { toyId3Config } from '../fixtures/toy-id3.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-generate-'));
const base = toyId3Config(runsDir);
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** Every file of a generated dataset, by relative path → sha256; but its card (it names its folder) and its layout (the shard size). */
function datasetBytes(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (!/^(card|layout\.json|dataset\.json)/.test(path.relative(root, file))) out[path.relative(root, file)] = sha(file);
    }
  };
  walk(root);
  return out;
}

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
});
afterAll(async () => {
  await session.close();
});

describe('generate', () => {
  it('samples the plan into a dataset with its card, and train-fr learns its identities', async () => {
    const result = await runPipeline(resolveConfig(base, 'test'), { session });
    expect(Object.keys(result.stages)).toEqual([
      'prepare',
      'encoder',
      'judge',
      'attributes',
      'train',
      'anchors',
      'generate',
      'train-fr',
      'evaluate',
      'report',
    ]);
    // The jobs the toy run starts, each of which passed its contract on both sides to get here (src/jobs/,
    // python/id3_torch/jobs/contracts.json checked on entry).
    const started = session.finishedJobs.map((j) => j.kind);
    expect([...new Set(started)].sort()).toEqual([
      'anchors.identity-centres',
      'attributes.train',
      'evaluate',
      'generate',
      'prepare.parametric',
      'report.plots',
      'train',
      'train-fr',
    ]);
    const g = result.stages.generate!.record.summary as GenerateSummary;
    expect(g).toMatchObject({ identities: 8, imagesPerIdentity: 3, images: 24, sampled: 24, reused: 0 });
    expect(g.cosines.min).toBeGreaterThanOrEqual(0.7 - 1e-6);
    expect(g.cosines.max).toBeLessThanOrEqual(0.9 + 1e-6);
    expect(g.cosines.maxError).toBeLessThan(1e-5);

    const root = path.join(result.dir, g.dataset);
    const manifest = readFileSync(path.join(root, 'manifest.csv'), 'utf8').trim().split('\n');
    expect(manifest).toHaveLength(1 + 24);
    const card = JSON.parse(readFileSync(path.join(root, 'card.json'), 'utf8'));
    expect(card.statistics).toEqual(JSON.parse(JSON.stringify(g.statistics)));
    const s = g.statistics;
    const judge = s.judge!;
    expect(judge.encoder).toMatch(/trained on 12 other parametric identities/);
    for (const figures of [judge, s.f]) {
      for (const v of [
        figures.identityConsistency.leaveOneOutCosine,
        figures.identityConsistency.chanceCosine,
        figures.separation.maxCentreCosine!,
        figures.leakage!.closestCosine,
      ]) {
        expect(v).toBeGreaterThanOrEqual(-1);
        expect(v).toBeLessThanOrEqual(1 + 1e-6);
      }
      expect(figures.separation.maxCentreCosine!).toBeGreaterThanOrEqual(figures.separation.meanCentreCosine!);
      expect(figures.leakage!.trainingIdentities).toBe(18); // the prepared training split, in each one's space
    }
    expect(s.f.identityConsistency.meanCosineToCondition).toBeLessThanOrEqual(1 + 1e-6);
    // Realism: generated against half the 20 test identities' 80 images, beside the other half and its flat images.
    expect(judge.realism.heldOutSplit).toBe('test');
    expect(judge.realism.realVsReal).toMatchObject({ real: 40, generated: 40, k: 3 });
    expect(judge.realism.generated).toMatchObject({ real: 40, generated: 24 });
    expect(judge.realism.floor.recall).toBeLessThan(judge.realism.realVsReal.recall);
    expect(Object.keys(s.attributes)).toEqual(['age', 'yaw', 'pitch', 'roll']);
    // Memorisation: every generated image against the 18 × 4 training images, beside the 80 held-out ones.
    const m = s.memorisation!;
    expect(m.judge).toMatchObject({ generatedImages: 24, heldOutImages: 80, trainingImages: 72 });
    expect(m.judge.generated.closest).toBeGreaterThanOrEqual(m.judge.generated.median); // cosine: larger is closer
    expect(m.pixels.generated.closest).toBeLessThanOrEqual(m.pixels.generated.median); // RMS: smaller is closer
    expect(m.pixels.heldOut.closest).toBeGreaterThan(0); // no held-out photo is a training image
    expect(statSync(path.join(result.dir, path.dirname(g.grid), m.picture)).size).toBeGreaterThan(100);
    // The yardstick's ceiling: the same figures on the held-out real images, their true attributes as asked (the
    // renderer draws yaw uniformly in ±45°: a within-identity spread of about 26° over a few images each).
    expect(Object.keys(s.attributesReal!)).toEqual(['age', 'yaw', 'pitch', 'roll']);
    expect(s.attributesReal!.yaw!.spreadAsked).toBeGreaterThan(10);
    expect(s.attributesReal!.yaw!.spreadAsked).toBeLessThan(30);
    expect(result.stages.judge!.record.summary).toMatchObject({ classes: 12, images: 48 });
    expect(readFileSync(path.join(root, 'card.md'), 'utf8')).toMatch(/f\.encoder \| f, optimised by the sampler/);
    expect(statSync(path.join(result.dir, g.grid)).size).toBeGreaterThan(100);

    const trained = result.stages['train-fr']!.record.summary as TrainFrSummary;
    expect(trained).toMatchObject({ classes: 8, images: 24 });
    expect(readFileSync(path.join(result.dir, 'report', 'report.md'), 'utf8')).toContain('## Synthetic dataset');
    expect(readFileSync(path.join(result.dir, 'report', 'report.md'), 'utf8')).toMatch(
      /the attribute regressor on held-out real images, truth as asked: .* \| age -?\d/,
    );
  });

  it('killed under torchrun and resumed, it ends with the bytes of the unbroken run', async () => {
    // Another shard size is another key (a new folder) but the same images: they depend on their seeds
    // and conditions (and, in the last bits, on their batch: batches of one identity are the same here).
    const file = path.join(runsDir, 'killed.ts');
    const killed = {
      ...base,
      name: 'killed',
      generate: { ...base.generate, identitiesPerShard: 1, processes: 2 },
      trainFr: undefined,
      report: false,
    };
    writeFileSync(file, `export default ${JSON.stringify(killed)};\n`);
    const run = spawnTs('bin/id3.js', ['run', file, '--json'], { OMP_NUM_THREADS: '1' });
    await run.waitFor(/"event":"progress","stage":"generate","step":([3-9]|1\d)\b/, 120_000);
    run.child.kill('SIGKILL');
    await exited(run.child);
    const folder = path.join(runsDir, 'killed', 'generate');
    expect(JSON.parse(readFileSync(path.join(folder, 'stage.json'), 'utf8')).status).toBe('running');
    expect(existsSync(path.join(folder, 'dataset', 'dataset.json'))).toBe(false);

    const again = await runCli(['run', file, '--json'], { env: { OMP_NUM_THREADS: '1' } });
    expect(again.code).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(folder, 'stage.json'), 'utf8')).summary as GenerateSummary;
    expect(summary.processes).toBe(2);
    expect(summary.reused).toBeGreaterThan(0);
    expect(summary.sampled + summary.reused).toBe(24);
    expect(datasetBytes(path.join(folder, 'dataset'))).toEqual(datasetBytes(path.join(runsDir, 'toy', 'generate', 'dataset')));
  });
});
