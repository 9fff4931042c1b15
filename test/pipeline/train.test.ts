/** prepare → encoder → train (the ID³ diffusion model) through the runner: in the bridge, under torchrun, killed and resumed. */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import type { Id3ConfigInput } from '../../src/config/schema.ts';
import { planRun, runPipeline } from '../../src/pipeline/runner.ts';
import type { TrainSummary } from '../../src/pipeline/stages/train.ts';
import { exited, runCli, spawnTs, waitUntil } from '../fixtures/processes.ts';
import { TINY_FR } from '../fixtures/toy-id3.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-train-'));
const env = { OMP_NUM_THREADS: '1' };
const STEPS = 60;

const trainedEncoder: Id3ConfigInput['encoder'] = {
  kind: 'train',
  recipe: { ...TINY_FR, widths: [8, 8, 16, 16] },
};
/** Later runs take the first run's encoder as a folder: the same f, without training it again. */
const sameEncoder: Id3ConfigInput['encoder'] = { kind: 'folder', path: path.join(runsDir, 'bridge', 'encoder') };

const input = (
  name: string,
  processes = 1,
  diffusion: object = {},
  encoder: Id3ConfigInput['encoder'] = trainedEncoder,
): Id3ConfigInput => ({
  name,
  runsDir,
  device: 'cpu',
  dataset: { kind: 'parametric', identities: 10, imagesPerIdentity: 4, resolution: 32, valIdentities: 1, testIdentities: 1 },
  encoder,
  diffusion: {
    model: { patchSize: 2, channels: 16, channelMults: [1, 2], resBlocks: 1, attentionResolutions: [8], headChannels: 16, dropout: 0.1 },
    conditioning: { hidden: [32, 32], size: 64 },
    training: {
      steps: STEPS,
      batchSize: 4 / processes,
      lr: 1e-3,
      warmupSteps: 5,
      emaDecay: 0.9,
      checkpointEvery: 10,
      gridImages: 2,
      processes,
    },
    ...diffusion,
  },
  evaluate: { split: null }, // these tests are about train alone
  report: false,
});
const config = (...args: Parameters<typeof input>) => resolveConfig(input(...args), 'test');
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start({ env });
});
afterAll(async () => {
  await session.close();
});

describe('train (ID³ diffusion)', () => {
  // Generous limits: each test starts Python processes and trains; on a loaded 2-core machine that is minutes.
  it('trains in the bridge after prepare and encoder, and writes what load_diffusion_model reads', { timeout: 240_000 }, async () => {
    const result = await runPipeline(config('bridge'), { session });
    expect(Object.keys(result.stages)).toEqual(['prepare', 'encoder', 'train']);
    const summary = result.stages.train!.record.summary as TrainSummary;
    expect(summary).toMatchObject({ steps: STEPS, images: 32, resolution: 32, processes: 1, model: 'train', grid: 'train/grid.png' });
    expect(summary.denoising).toBeGreaterThan(0);
    expect(summary.identity).toBeGreaterThanOrEqual(0);
    const card = JSON.parse(readFileSync(path.join(result.dir, 'train', 'model.json'), 'utf8'));
    expect(card).toMatchObject({ kind: 'id3-diffusion', resolution: 32, weights: 'ema.safetensors', embeddingSize: 16 });
    expect(card.encoder).toEqual({ kind: 'folder', path: path.join(result.dir, 'encoder') });
    const events = readFileSync(path.join(result.dir, 'train', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ step: STEPS, total: STEPS, unit: 'step' });
    expect(Object.keys(events.at(-1).metrics).sort()).toEqual(['denoising', 'identity', 'loss', 'lr']);
  });

  it('keys: the sampler and checkpointEvery stay out of the train key; w is in it', () => {
    const base = config('bridge');
    expect(planRun(base).map((p) => p.action)).toEqual(['reuse', 'reuse', 'reuse']);
    const sampler = resolveConfig(
      { ...input('bridge'), diffusion: { ...input('bridge').diffusion, sampler: { guidanceScale: 3 } } },
      'test',
    );
    expect(planRun(sampler).map((p) => p.action)).toEqual(['reuse', 'reuse', 'reuse']);
    const baseline = config('bridge', 1, { loss: { w: 0 } });
    expect(planRun(baseline).map((p) => p.action)).toEqual(['reuse', 'reuse', 'run']);
  });

  it(
    'a run killed during train resumes from its checkpoint to the same weights as the uninterrupted run',
    { timeout: 240_000 },
    async () => {
      const configFile = path.join(runsDir, 'killed.ts');
      writeFileSync(configFile, `export default ${JSON.stringify({ ...input('killed', 1, {}, sameEncoder), name: undefined })};\n`);
      const trainDir = path.join(runsDir, 'killed', 'train');
      const first = spawnTs('bin/id3.js', ['run', configFile, '--json'], env);
      await first.waitFor(/"event":"progress","stage":"train"/, 120_000);
      await waitUntil(() => existsSync(path.join(trainDir, 'checkpoint.safetensors')), 60_000);
      first.child.kill('SIGKILL');
      await exited(first.child);
      expect(JSON.parse(readFileSync(path.join(trainDir, 'stage.json'), 'utf8')).status).toBe('running');
      expect(existsSync(path.join(trainDir, 'ema.safetensors'))).toBe(false);

      const second = await runCli(['run', configFile, '--json'], { env });
      expect(second.code).toBe(0);
      // events.jsonl holds both runs; each begins with an event at elapsed ≈ 0: the second one at a checkpoint.
      const begins = readFileSync(path.join(trainDir, 'events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((e: { elapsed: number }) => e.elapsed < 0.05)
        .map((e: { step: number }) => e.step);
      expect(begins).toHaveLength(2);
      expect(begins[0]).toBe(0);
      expect(begins[1]! % 10).toBe(0);
      expect(begins[1]).toBeGreaterThanOrEqual(10);
      // Tolerance: none. The same training straight through (the first test, same f) has the same bytes.
      for (const file of ['ema.safetensors', 'checkpoint.safetensors']) {
        expect(sha(path.join(trainDir, file))).toBe(sha(path.join(runsDir, 'bridge', 'train', file)));
      }
    },
  );

  it('trains under torchrun with two processes (gloo)', { timeout: 240_000 }, async () => {
    const result = await runPipeline(config('torchrun', 2, {}, sameEncoder), { session });
    const summary = result.stages.train!.record.summary as TrainSummary;
    expect(summary).toMatchObject({ steps: STEPS, processes: 2 });
    const events = readFileSync(path.join(result.dir, 'train', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ step: STEPS, total: STEPS });
    expect(existsSync(path.join(result.dir, 'train', 'ema.safetensors'))).toBe(true);
  });

  it('refuses a diffusion section without an encoder, a U-Net that does not fit the image side (or its latents), an unknown identity condition, attribute guidance without attribute dropout', () => {
    const { encoder: _encoder, ...noEncoder } = input('x');
    expect(() => resolveConfig(noEncoder, 'test')).toThrow(/encoder: expected an encoder section/);
    expect(() => resolveConfig(input('x', 1, { model: { patchSize: 3 } }), 'test')).toThrow(
      /diffusion\.model\.patchSize: expected the side the U-Net sees \(32\) to be divisible by patchSize 3/,
    );
    // In latent space the U-Net sees R/4: 8 px, which four levels of patch 2 cannot halve.
    expect(() => resolveConfig(input('x', 1, { model: { patchSize: 2, latent: {} } }), 'test')).toThrow(
      /diffusion\.model\.patchSize: expected the side the U-Net sees \(8, the latents of 32-px images\)/,
    );
    expect(() => resolveConfig(input('x', 1, { model: { patchSize: 1, channelMults: [1, 2], latent: {} } }), 'test')).not.toThrow();
    // The first level must hold every channel of a latent patch: 16 latent channels × patch 1 > 8.
    const narrow = { patchSize: 1, channels: 8, channelMults: [1, 2], headChannels: 8 };
    expect(() => resolveConfig(input('x', 1, { model: { ...narrow, latent: { channels: 16 } } }), 'test')).toThrow(
      /diffusion\.model\.channels: expected at least 16 × patchSize² = 16/,
    );
    expect(() => resolveConfig(input('x', 1, { model: { ...narrow, latent: { channels: 8 } } }), 'test')).not.toThrow();
    // y of a training image: the paper's f(x0) unless a config asks for its identity's centre.
    expect(resolveConfig(input('x'), 'test').diffusion!.conditioning.identity).toBe('image');
    expect(() => resolveConfig(input('x', 1, { conditioning: { identity: 'mean' } }), 'test')).toThrow(/diffusion\.conditioning\.identity/);
    // Guiding the attributes alone needs a model that learnt ε(y, ∅): refused before any training.
    const onAttributes = { sampler: { cfgScale: 3, cfgGuides: 'attributes' as const } };
    expect(() => resolveConfig(input('x', 1, onAttributes), 'test')).toThrow(
      /diffusion\.sampler\.cfgGuides: expected conditioning\.attributeDropout > 0/,
    );
    expect(() => resolveConfig(input('x', 1, { ...onAttributes, conditioning: { attributeDropout: 0.2 } }), 'test')).not.toThrow();
    expect(() => resolveConfig(input('x', 1, { sampler: { cfgScale: 1, cfgGuides: 'attributes' } }), 'test')).not.toThrow();
  });
});
