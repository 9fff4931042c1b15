/**
 * The config schema: the single source of the config types. A config file is checked against
 * `Id3Config`; `Id3ConfigInput` is what users write (defaults optional), `Id3Config` what the
 * pipeline reads (defaults filled in). Unknown keys are errors everywhere.
 */
import { z } from 'zod';
import { DiffusionConfig, diffusionFitProblems } from './diffusion.ts';
import { EncoderConfig } from './encoder.ts';
import { intInRange, interval, nonNegativeInt, positiveInt } from './fields.ts';
import { TrainFr } from './train-fr.ts';

export { DiffusionConfig, DiffusionSampler } from './diffusion.ts';
export { EncoderConfig, FolderEncoder, TrainedEncoder } from './encoder.ts';
export { TrainFr } from './train-fr.ts';

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
export const ParametricDataset = z.strictObject({
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

export const DatasetConfig = z.discriminatedUnion('kind', [ParametricDataset]);
export type DatasetConfig = z.infer<typeof DatasetConfig>;


/** Verification on held-out identities: the field's 10-fold protocol, and the raw-pixel baseline. */
export const Evaluate = z
  .strictObject({
    split: z.enum(['val', 'test']).default('test').describe('identities the pairs are drawn from'),
    pairs: positiveInt()
      .refine((n) => n % 20 === 0, { error: 'expected a multiple of 20 (10 folds of same + different pairs)' })
      .default(6000),
    seed: nonNegativeInt().default(0),
    pixelBaseline: z.boolean().default(true).describe('also score raw-pixel cosine on the same pairs'),
    batchSize: positiveInt().default(256),
  })
  .prefault({});
export type Evaluate = z.infer<typeof Evaluate>;

/** Identities of the evaluated split, and the same-identity pairs one of its 10 folds can supply. */
function evaluationCapacity(config: { dataset: ParametricDataset; evaluate: Evaluate }): { identities: number; sameFold: number } {
  const d = config.dataset;
  const identities = config.evaluate.split === 'test' ? d.testIdentities : d.valIdentities;
  const perImage = (d.imagesPerIdentity * (d.imagesPerIdentity - 1)) / 2;
  return { identities, sameFold: Math.floor(identities / 10) * perImage };
}

export const Id3Config = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a run name of letters, digits, ".", "_", "-"' })
    .default('run')
    .describe('run name: the run lives in <runsDir>/<name>/ (default: the config file name)'),
  runsDir: z.string({ error: 'expected a folder path' }).min(1, { error: 'expected a folder path' }).default('runs').describe('folder of all runs, relative to the working directory'),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto').describe('where tensors run; auto = cuda when available'),
  dataset: DatasetConfig,
  encoder: EncoderConfig.optional().describe('the frozen identity encoder f of the ID³ stages'),
  trainFr: TrainFr.optional().describe('train a face-recognition model on the prepared training split'),
  diffusion: DiffusionConfig.optional().describe('the ID³ diffusion model, trained by the stage "train" (needs encoder)'),
  evaluate: Evaluate.describe('verification on held-out identities (needs trainFr)'),
})
  // Checked here rather than after hours of training: the pairs must be drawable from the split.
  .superRefine((config, context) => {
    if (config.diffusion) {
      if (!config.encoder) context.addIssue({ code: 'custom', path: ['encoder'], message: 'expected an encoder section: the diffusion model conditions on f' });
      for (const [at, message] of diffusionFitProblems(config.diffusion, config.dataset.resolution)) context.addIssue({ code: 'custom', path: ['diffusion', ...at], message });
    }
    if (!config.trainFr) return;
    const { identities, sameFold } = evaluationCapacity(config);
    if (identities < 20) {
      context.addIssue({ code: 'custom', path: ['evaluate', 'split'], message: `expected a split of at least 20 identities (2 in each of 10 folds), but ${config.evaluate.split} has ${identities}` });
    } else if (config.evaluate.pairs / 20 > sameFold) {
      context.addIssue({ code: 'custom', path: ['evaluate', 'pairs'], message: `expected at most ${sameFold * 20} pairs: each fold of ${config.evaluate.split} identities holds only ${sameFold} same-identity pairs` });
    }
  });
/** The resolved config: every default filled in. */
export type Id3Config = z.infer<typeof Id3Config>;
/** What a config file may say. */
export type Id3ConfigInput = z.input<typeof Id3Config>;
