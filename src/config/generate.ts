/**
 * The `generate` section: the synthetic dataset (docs/method.md, "Synthetic dataset
 * generation"). The per-image plan's fields (IdentityPlan: m, [lb, ub], attributes, seed) sit at its
 * top, so that `generate.bounds` is the field an ablation changes; how images are drawn is
 * `diffusion.sampler`; how they are written, the rest.
 */
import { z } from 'zod';
import { IdentityPlan } from './anchors.ts';
import { intInRange, nonNegativeInt, numberInRange, positiveInt } from './fields.ts';

/** The attribute regressor that measures generated images of the parametric set (stage "attributes"),
 *  whose cartoon faces no shipped predictor reads. */
export const AttributeRegressorRecipe = z
  .strictObject({
    epochs: positiveInt().default(6),
    batchSize: positiveInt().default(64),
    lr: numberInRange(0, 1).default(3e-3),
    widths: z.array(positiveInt()).min(1).default([16, 32, 64]).describe('channels of its convolution stages'),
    seed: nonNegativeInt().default(0),
  })
  .prefault({});
export type AttributeRegressorRecipe = z.infer<typeof AttributeRegressorRecipe>;

export const GenerateConfig = IdentityPlan.extend({
  formats: z
    .array(z.enum(['folder', 'recordio']))
    .min(1, { error: 'expected at least one format' })
    .refine((f) => new Set(f).size === f.length, { error: 'expected distinct formats' })
    .default(['folder'])
    .describe('an image folder (with manifest.csv) and/or insightface RecordIO (train.rec/.idx)'),
  imageFormat: z.enum(['png', 'jpeg']).default('png').describe('how images are encoded'),
  jpegQuality: intInRange(1, 95).default(95),
  identitiesPerShard: positiveInt()
    .default(100)
    .describe('identities written (and, after a kill, redone) together; torchrun ranks take whole shards'),
  processes: positiveInt().default(1).describe('processes under torchrun (one per GPU); 1 = in the bridge'),
  gridIdentities: intInRange(1, 64).default(8).describe('rows of generate/grid.png'),
  gridImages: intInRange(1, 64).default(8).describe('columns of generate/grid.png'),
  attributeRegressor: AttributeRegressorRecipe.describe('parametric set only: the regressor that measures the generated attributes'),
  fidInceptionWeights: z
    .string({ error: 'expected a path' })
    .min(1, { error: 'expected a path' })
    .optional()
    .describe(
      "FID on the card: pytorch-fid's Inception weights, the file pt_inception-2015-12-05-6726825d.pth (relative to the working directory), " +
        'which you supply: id3 never downloads it. For real faces; on the 32-px parametric faces Inception features mean little',
    ),
});
export type GenerateConfig = z.infer<typeof GenerateConfig>;
