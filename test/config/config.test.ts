/** Config files: defaults, and one clear line per problem naming the path, expected and found. */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, resolveConfig } from '../../src/config/load.ts';
import { expandVariants } from '../../src/config/variants.ts';

function problems(input: unknown): string[] {
  try {
    resolveConfig(input, 'x.ts');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('resolveConfig', () => {
  it('fills in every default and names the run', () => {
    const config = resolveConfig({ dataset: { kind: 'parametric' } }, 'x.ts', 'from-file');
    expect(config).toEqual({
      name: 'from-file',
      runsDir: 'runs',
      device: 'auto',
      dataset: {
        kind: 'parametric',
        identities: 300,
        imagesPerIdentity: 16,
        resolution: 64,
        valIdentities: 30,
        testIdentities: 60,
        seed: 0,
        ranges: { age: [18, 80], yaw: [-45, 45], pitch: [-20, 20], roll: [-15, 15] },
        gridIdentities: 8,
        gridImages: 8,
        batchSize: 256,
      },
      evaluate: { split: 'test', pairs: 6000, seed: 0, benchmarks: [], ijb: [], workers: 0, pixelBaseline: true, batchSize: 256 },
      seeds: 1,
      report: true,
    });
    const withTraining = resolveConfig({ dataset: { kind: 'parametric' }, trainFr: {} }, 'x.ts');
    expect(withTraining.trainFr).toEqual({
      backbone: 'iresnet50',
      inputSize: 112,
      embeddingSize: 512,
      head: 'arcface',
      s: 64,
      m: 0.5,
      epochs: 40,
      decayEpochs: [22, 28, 32],
      warmupEpochs: 0,
      batchSize: 128,
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 5e-4,
      flip: true,
      augment: { crop: 0, cropScale: [0.2, 1], lowResolution: 0, lowResolutionScale: [0.2, 1], photometric: 0, photometricStrength: 0.5 },
      loader: { mode: 'auto', workers: 2, memoryGiB: 4, sampling: 'uniform', onCorrupt: 'raise' },
      gradClip: 5,
      maxWeightGrowth: 20,
      checkpointEvery: 500,
      seed: 0,
      processes: 1,
    });
    expect(resolveConfig({ name: 'given', dataset: { kind: 'parametric' } }, 'x.ts', 'from-file').name).toBe('given');
  });

  it('says what was expected and what was found, one line per problem', () => {
    expect(
      problems({
        device: 'tpu',
        extra: 1,
        dataset: { kind: 'parametric', identities: -3, resolution: 20, imagesPerIdentity: 2.5, ranges: { yaw: [30, -30] }, typo: true },
      }),
    ).toEqual([
      'device: expected one of "auto"|"cpu"|"cuda", got "tpu"',
      'dataset.identities: expected a positive integer, got -3',
      'dataset.imagesPerIdentity: expected a positive integer, got 2.5',
      'dataset.resolution: expected an integer from 32 to 128, got 20',
      'dataset.ranges.yaw: expected [low, high] with low ≤ high',
      'dataset.typo: unknown key',
      'extra: unknown key',
    ]);
    expect(problems({ dataset: { kind: 'parametric' }, trainFr: { widths: [8, 8, 8, 8] }, evaluate: { pairs: 30 } })).toEqual([
      'trainFr: expected widths and layers only with backbone "iresnet-small"',
      'evaluate.pairs: expected a multiple of 20 (10 folds of same + different pairs), got 30',
    ]);
    expect(
      problems({
        dataset: { kind: 'parametric' },
        evaluate: {
          ijb: [
            { name: 'IJB-C', folder: 'a', whenMissing: 'maybe' },
            { name: 'IJB-C', folder: 'b' },
          ],
        },
      }),
    ).toEqual(['evaluate.ijb.0.whenMissing: expected one of "error"|"skip", got "maybe"']);
    expect(
      problems({
        dataset: { kind: 'parametric' },
        evaluate: {
          ijb: [
            { name: 'IJB-C', folder: 'a' },
            { name: 'IJB-C', folder: 'b' },
          ],
        },
      }),
    ).toEqual(['evaluate.ijb: expected IJB folders of distinct names']);
    expect(problems({ dataset: { kind: 'parametric', identities: 10, valIdentities: 4, testIdentities: 6 } })).toEqual([
      'dataset: expected valIdentities + testIdentities to leave at least one training identity',
    ]);
  });

  it('names a missing section, a wrong dataset kind and a wrong type', () => {
    expect(problems({})).toEqual(['dataset: expected object, got nothing']);
    expect(problems({ dataset: { kind: 'ffhq' } })).toEqual([
      'dataset.kind: expected one of "parametric" | "folders" | "manifest" | "recordio", got "ffhq"',
    ]);
    expect(problems({ runsDir: 3, dataset: { kind: 'parametric' } })).toEqual(['runsDir: expected a folder path, got 3']);
    expect(problems({ name: '../escape', dataset: { kind: 'parametric' } })).toEqual([
      'name: expected a name of letters, digits, ".", "_", "-", got "../escape"',
    ]);
  });

  it('refuses an empty [lb, ub] at validation, not at generate after training', () => {
    const generating = { dataset: { kind: 'parametric' }, encoder: { kind: 'train', recipe: {} }, diffusion: {}, anchors: {} };
    expect(problems({ ...generating, generate: { bounds: [0.8, 0.8] } })).toEqual([
      'generate.bounds: expected [lb, ub] with lb < ub: v_ij ~ U[lb, ub] needs an interval',
    ]);
    expect(resolveConfig({ ...generating, generate: { bounds: [0.79, 0.8] } }, 'x.ts').generate?.bounds).toEqual([0.79, 0.8]);
  });

  it('trains on the first realIdentities of the real split only when asked for real data', () => {
    expect(problems({ dataset: { kind: 'parametric' }, trainFr: { realIdentities: 10 } })).toEqual([
      "trainFr.realIdentities: expected realIdentities only with data 'real', got 10",
    ]);
    expect(
      resolveConfig({ dataset: { kind: 'parametric' }, trainFr: { data: 'real', realIdentities: 10 } }, 'x.ts').trainFr?.realIdentities,
    ).toBe(10);
  });

  it('lets a variant leave a section out with null, and only a top-level section', () => {
    const base = resolveConfig(
      {
        name: 'b',
        dataset: { kind: 'parametric' },
        encoder: { kind: 'train', recipe: {} },
        diffusion: {},
        anchors: {},
        generate: {},
        trainFr: {},
      },
      'x.ts',
    );
    const [synthetic, real] = expandVariants(base, 'x.ts', {
      synthetic: { diffusion: { training: { gradClip: null } } },
      real: { diffusion: null, anchors: null, generate: null, trainFr: { data: 'real', realIdentities: 5 } },
    });
    expect(synthetic!.config.diffusion?.training.gradClip).toBeNull(); // a nested null is a value
    expect(synthetic!.config.generate).toBeDefined();
    expect(real!.config).not.toHaveProperty('diffusion');
    expect(real!.config).not.toHaveProperty('generate');
    expect(real!.config.trainFr).toMatchObject({ data: 'real', realIdentities: 5 });
    expect(real!.config.encoder).toEqual(base.encoder);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'id3-config-'));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('loads the demo config, which imports id3, and names the run', async () => {
    const { source, config } = await loadConfigFile('configs/demo.ts');
    expect(source).toBe(path.resolve('configs/demo.ts'));
    expect(config.name).toBe('demo');
    expect(config.dataset.kind).toBe('parametric');
  });

  it.each(readdirSync('configs').filter((f) => f.endsWith('.ts')))('configs/%s loads, and so does each of its variants', async (file) => {
    const { config, source } = await loadConfigFile(path.join('configs', file));
    expect(config.name).toBe(file.replace(/\.ts$/, ''));
    for (const v of config.variants ? expandVariants(config, source) : []) expect(v.config.name).toBe(`${config.name}-${v.variant}`);
  });

  it.each([
    ['missing.ts', null, /missing\.ts: invalid config\n {2}file not found/],
    ['broken.ts', 'export default {{{', /broken\.ts: invalid config\n {2}could not be imported: /],
    [
      'nodefault.ts',
      'export const x = 1;',
      /nodefault\.ts: invalid config\n {2}expected `export default defineConfig\(\{ \.\.\. \}\)`, found no default export/,
    ],
    [
      'bad.ts',
      "export default { dataset: { kind: 'parametric', identities: 0 } };",
      /bad\.ts: invalid config\n {2}dataset\.identities: expected a positive integer, got 0/,
    ],
  ])('rejects %s with a ConfigError naming the file', async (name, text, message) => {
    const p = text === null ? path.join(dir, name) : file(name, text);
    const err = await loadConfigFile(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message.startsWith(p)).toBe(true);
  });
});
