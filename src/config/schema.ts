/**
 * The config schema: the single source of the config types. A config file is checked against
 * `Id3Config`; `Id3ConfigInput` is what users write (defaults optional), `Id3Config` what the
 * pipeline reads (defaults filled in). Unknown keys are errors everywhere.
 */
import { z } from 'zod';
import { intInRange, interval, nonNegativeInt, positiveInt } from './fields.ts';

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

export const Id3Config = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a run name of letters, digits, ".", "_", "-"' })
    .optional()
    .describe('run name: the run lives in <runsDir>/<name>/ (default: the config file name)'),
  runsDir: z.string({ error: 'expected a folder path' }).min(1, { error: 'expected a folder path' }).default('runs').describe('folder of all runs, relative to the working directory'),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto').describe('where tensors run; auto = cuda when available'),
  dataset: DatasetConfig,
});
/** The resolved config: every default filled in. */
export type Id3Config = z.infer<typeof Id3Config>;
/** What a config file may say. */
export type Id3ConfigInput = z.input<typeof Id3Config>;
