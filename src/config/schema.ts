/**
 * The config schema: the single source of the config types. A config file is checked against
 * `Id3Config`; `Id3ConfigInput` is what users write (defaults optional), `Id3Config` what the
 * pipeline reads (defaults filled in). Unknown keys are errors everywhere.
 */
import { z } from 'zod';
import { AnchorsConfig, anchorsAgreeWithEncoder } from './anchors.ts';
import { RealDatasets } from './dataset.ts';
import { DiffusionConfig, diffusionFitProblems } from './diffusion.ts';
import { EncoderConfig } from './encoder.ts';
import { GenerateConfig } from './generate.ts';
import { GuidanceChoice } from './guidance.ts';
import { JudgeConfig } from './judge.ts';
import { Evaluate } from './evaluate.ts';
import { intInRange, interval, nonNegativeInt, positiveInt } from './fields.ts';
import { TrainFr } from './train-fr.ts';

export { FoldersDataset, ManifestDataset, RecordIODataset, type RealDataset } from './dataset.ts';
export { AdaFaceEncoder, ArcFaceEncoder, DlibEncoder, EncoderConfig, FolderEncoder, Framing, TrainedEncoder } from './encoder.ts';
export { DiffusionConfig, DiffusionSampler } from './diffusion.ts';
export { TrainFr } from './train-fr.ts';
export { Benchmark, Evaluate, IjbBenchmark } from './evaluate.ts';
export { AttributeRegressorRecipe, GenerateConfig } from './generate.ts';
export { JudgeConfig, TrainedJudge } from './judge.ts';
export { AnchorsConfig, IdentityPlan, AttributeSource } from './anchors.ts';

/** Ground-truth nuisance ranges of the parametric face set (degrees, years). */
export const ParametricRanges = z
  .strictObject({
    age: interval(0, 100).default([18, 80]).describe('age in years'),
    yaw: interval(-90, 90).default([-45, 45]).describe('head yaw in degrees'),
    pitch: interval(-90, 90).default([-20, 20]).describe('head pitch in degrees'),
    roll: interval(-90, 90).default([-15, 15]).describe('head roll in degrees'),
  })
  .prefault({});
export type ParametricRanges = z.infer<typeof ParametricRanges>;

/** Faces rendered from parameters in torch, with known identities and attributes. */
export const ParametricDataset = z
  .strictObject({
    kind: z.literal('parametric'),
    identities: positiveInt().default(300).describe('identities rendered, over all splits'),
    imagesPerIdentity: positiveInt().default(16).describe('images of each identity'),
    resolution: intInRange(32, 128).default(64).describe('image side in pixels'),
    valIdentities: nonNegativeInt().default(30).describe('identities held out for tuning (split "val")'),
    testIdentities: nonNegativeInt().default(60).describe('identities held out for evaluation (split "test")'),
    seed: nonNegativeInt().default(0).describe('same seed, same bytes'),
    ranges: ParametricRanges,
    gridIdentities: intInRange(1, 64).default(8).describe('rows of the sample grid PNG'),
    gridImages: intInRange(1, 64).default(8).describe('columns of the sample grid PNG'),
    batchSize: positiveInt().default(256).describe('images rendered per batch'),
  })
  .refine((d) => d.valIdentities + d.testIdentities < d.identities, {
    error: 'expected valIdentities + testIdentities to leave at least one training identity',
    // Only once the counts themselves are valid: a bad count is reported once, by its own name.
    when: (payload) => payload.issues.length === 0,
  });
export type ParametricDataset = z.infer<typeof ParametricDataset>;

export const DatasetConfig = z.discriminatedUnion('kind', [ParametricDataset, ...RealDatasets]);
export type DatasetConfig = z.infer<typeof DatasetConfig>;

/** Identities of the evaluated split, and the same-identity pairs one of its 10 folds can supply. */
function evaluationCapacity(d: ParametricDataset, split: 'val' | 'test'): { identities: number; sameFold: number } {
  const identities = split === 'test' ? d.testIdentities : d.valIdentities;
  const perImage = (d.imagesPerIdentity * (d.imagesPerIdentity - 1)) / 2;
  return { identities, sameFold: Math.floor(identities / 10) * perImage };
}

/** A judge must be another encoder than f, and a trained one needs parametric faces to be trained on. */
function judgeProblems(config: { dataset: DatasetConfig; encoder?: EncoderConfig; judge?: JudgeConfig }): [string[], string][] {
  const { judge, encoder, dataset } = config;
  if (!judge) return [];
  if (judge.kind === 'train') {
    if (dataset.kind !== 'parametric')
      return [
        [
          ['kind'],
          "expected an encoder made elsewhere ('folder', 'dlib', 'arcface', 'adaface'): a trained judge is rendered parametric faces",
        ],
      ];
    if (encoder?.kind === 'train') {
      const architecture = (r: TrainFr) => JSON.stringify([r.backbone, r.inputSize, r.embeddingSize, r.widths, r.layers]);
      if (architecture(judge.recipe) === architecture(encoder.recipe)) {
        return [
          [
            ['recipe'],
            "expected another architecture than f's (backbone, inputSize, embeddingSize, widths, layers): f's blind spots must not be the judge's",
          ],
        ];
      }
    }
    return [];
  }
  if (encoder && encoder.kind === judge.kind && JSON.stringify(encoder) === JSON.stringify(judge)) {
    return [[[], 'expected an encoder other than f (the encoder section): a judge that is f scores what fools f as a face']];
  }
  return [];
}

/** The choice needs the model it samples, a judge to score it, and validation identities to score it on. */
function guidanceProblems(config: { dataset: DatasetConfig; diffusion?: unknown; judge?: JudgeConfig; guidance?: unknown }): string[] {
  if (!config.guidance) return [];
  const problems = [];
  if (!config.diffusion) problems.push('expected a diffusion section: the choice samples the trained model');
  if (!config.judge) problems.push('expected a judge: γ is chosen by an encoder that the guidance does not climb, never by f');
  if (config.dataset.valIdentities < 2) {
    problems.push(
      `expected dataset.valIdentities ≥ 2 (now ${config.dataset.valIdentities}): γ is chosen on validation identities, never on the test ones`,
    );
  }
  return problems;
}

const runName = () =>
  z
    .string({ error: 'expected a name' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a name of letters, digits, ".", "_", "-"' });

export const Id3Config = z
  .strictObject({
    name: runName().default('run').describe('run name: the run lives in <runsDir>/<name>/ (default: the config file name)'),
    runsDir: z
      .string({ error: 'expected a folder path' })
      .min(1, { error: 'expected a folder path' })
      .default('runs')
      .describe('folder of all runs, relative to the working directory'),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto').describe('where tensors run; auto = cuda when available'),
    dataset: DatasetConfig,
    encoder: EncoderConfig.optional().describe('the frozen identity encoder f of the ID³ stages'),
    trainFr: TrainFr.optional().describe('train a face-recognition model on the prepared training split'),
    diffusion: DiffusionConfig.optional().describe('the ID³ diffusion model, trained by the stage "train" (needs encoder)'),
    anchors: AnchorsConfig.optional().describe('identity anchors w_i for the synthetic identities (the stage "anchors")'),
    generate: GenerateConfig.optional().describe(
      'the synthetic dataset: the per-image plan, sampled by the trained model (needs diffusion and anchors)',
    ),
    judge: JudgeConfig.optional().describe(
      'an identity encoder that neither the loss nor the guidance sees: it measures the generated sets (config/judge.ts)',
    ),
    guidance: GuidanceChoice.optional().describe(
      'choose γ and the gradient mode on the validation identities by the judge (stage "guidance"); generate samples at the choice instead of diffusion.sampler\'s (config/guidance.ts)',
    ),
    evaluate: Evaluate.describe('verification of the face-recognition models the run trains (encoder, trainFr)'),
    seeds: intInRange(1, 100)
      .default(1)
      .describe(
        'seed replicas of each variant in a sweep: the seeds of anchors, plan (so sampling) and train-fr moved by 0 … seeds−1; the table shows mean ± standard error',
      ),
    report: z.boolean().default(true).describe('write runs/<name>/report/report.md with its plots (stage "report")'),
    variants: z
      .record(runName(), z.record(z.string(), z.unknown(), { error: 'expected a patch of this config (an object)' }))
      .optional()
      .describe(
        'named patches of this config: each runs as the run <name>-<variant>, sharing the stages they have in common, and one table compares them (config/variants.ts)',
      ),
  })
  // Checked here rather than after hours of training: the pairs must be drawable from the split.
  .superRefine((config, context) => {
    const dataset = config.dataset;
    const encoder = config.encoder;
    if (config.generate) {
      for (const needed of ['diffusion', 'anchors'] as const) {
        if (!config[needed])
          context.addIssue({
            code: 'custom',
            path: [needed],
            message: `expected a ${needed} section: generate samples the trained model at the anchors`,
          });
      }
    }
    if (config.trainFr?.data === 'synthetic' && !config.generate) {
      context.addIssue({
        code: 'custom',
        path: ['trainFr', 'data'],
        message: "expected a generate section: 'synthetic' trains on the generated set",
      });
    }
    if (config.diffusion) {
      if (!encoder)
        context.addIssue({
          code: 'custom',
          path: ['encoder'],
          message: 'expected an encoder section: the diffusion model conditions on f',
        });
      for (const [at, message] of diffusionFitProblems(config.diffusion, dataset.resolution))
        context.addIssue({ code: 'custom', path: ['diffusion', ...at], message });
    }
    for (const [at, message] of judgeProblems(config)) context.addIssue({ code: 'custom', path: ['judge', ...at], message });
    for (const message of guidanceProblems(config)) context.addIssue({ code: 'custom', path: ['guidance'], message });
    if (dataset.kind !== 'parametric' && encoder && 'framing' in encoder && encoder.framing !== dataset.framing) {
      context.addIssue({
        code: 'custom',
        path: ['encoder', 'framing'],
        message: `expected the dataset's framing ${dataset.framing}: the encoder reads the prepared images`,
      });
    }
    const trainsFr = config.trainFr !== undefined || encoder?.kind === 'train';
    if (!trainsFr || config.evaluate.split === null || dataset.kind !== 'parametric') return;
    const { identities, sameFold } = evaluationCapacity(dataset, config.evaluate.split);
    if (identities < 20) {
      context.addIssue({
        code: 'custom',
        path: ['evaluate', 'split'],
        message: `expected a split of at least 20 identities (2 in each of 10 folds), but ${config.evaluate.split} has ${identities}`,
      });
    } else if (config.evaluate.pairs / 20 > sameFold) {
      context.addIssue({
        code: 'custom',
        path: ['evaluate', 'pairs'],
        message: `expected at most ${sameFold * 20} pairs: each fold of ${config.evaluate.split} identities holds only ${sameFold} same-identity pairs`,
      });
    }
  })
  .superRefine(anchorsAgreeWithEncoder);
/** The resolved config: every default filled in. */
export type Id3Config = z.infer<typeof Id3Config>;

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
type SingleConfigInput = Omit<z.input<typeof Id3Config>, 'variants'>;
type RemovableSection = 'encoder' | 'trainFr' | 'diffusion' | 'anchors' | 'generate' | 'judge' | 'guidance';
/** A variant: any part of a config, merged into the base (objects key by key; values and arrays replaced);
 *  an optional section set to null is left out. */
export type ConfigPatch = DeepPartial<Omit<SingleConfigInput, 'name' | 'runsDir' | RemovableSection>> & {
  [K in RemovableSection]?: DeepPartial<SingleConfigInput[K]> | null;
};
/** What a config file may say. */
export type Id3ConfigInput = SingleConfigInput & { variants?: Record<string, ConfigPatch> };
