/** The ID³ model's jobs (python/id3_torch/jobs/diffusion.py): its training, the measure of its samples on
 *  held-out identities, and the attribute regressor that reads the parametric faces' attributes. */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import {
  DiffusionConditioning,
  DiffusionLoss,
  DiffusionModel,
  DiffusionSampler,
  DiffusionSchedule,
  DiffusionTraining,
  IdentityCondition,
} from '../config/diffusion.ts';
import { AttributeRegressorRecipe } from '../config/generate.ts';
import { count, Device, EncoderSpec, FilePath, float, perAttribute } from './common.ts';

export const trainJob = defineJob(
  'train',
  z.strictObject({
    manifest: FilePath(),
    outDir: FilePath(),
    encoder: EncoderSpec,
    device: Device,
    model: DiffusionModel,
    conditioning: DiffusionConditioning,
    schedule: DiffusionSchedule,
    loss: DiffusionLoss,
    /** processes is the caller's: how many of this job run. */
    training: DiffusionTraining.unwrap().omit({ processes: true }),
  }),
  z.looseObject({
    steps: count(),
    images: count(),
    resolution: count(),
    processes: count(),
    /** Whether the steps ran under bf16 autocast (training.autocast, resolved on the machine that trained). */
    bf16: z.boolean(),
    parameters: count(),
    finalLoss: float().nullable(),
    /** Mean ||ε − ε_θ||² of the last step. */
    denoising: float().nullable(),
    /** Mean 1 − ⟨y, f(x̂0)⟩ of the last step (unweighted). */
    identity: float().nullable(),
    imagesPerSecond: float().nullable(),
  }),
);

/** The sampler fields Python reads (python/id3_torch/jobs/diffusion.py `sampler_options`); guidanceTarget and batchSize are the caller's. */
export const SamplerArgs = DiffusionSampler.unwrap().omit({ guidanceTarget: true, batchSize: true });
export type SamplerArgs = z.infer<typeof SamplerArgs>;

/** How one judge scores the samples (python/id3_torch/diffusion/measure.py). */
const IdentityScores = z.looseObject({
  identityCosine: float(),
  impostorCosine: float(),
  rank1: float(),
  genuineCosine: float(),
  /** Against the centres of each identity's photos that are no condition; realPersonRank1: the condition photos' own. */
  personRank1: float(),
  realPersonRank1: float(),
});
export type IdentityScores = z.infer<typeof IdentityScores>;

export const measureJob = defineJob(
  'diffusion.measure',
  z.strictObject({
    trainDir: FilePath(),
    manifest: FilePath(),
    /** Held-out identities to condition on (never trained on). */
    split: z.enum(['val', 'test']),
    /** Conditions per identity (each identity needs one image more, for genuineCosine). */
    perIdentity: z.number().int().positive(),
    sampler: SamplerArgs,
    /** Sample i has seed seed + i. */
    seed: count(),
    batchSize: z.number().int().positive(),
    /** A folder the attributes.train job wrote; null: no attribute errors (real faces). */
    attributeRegressor: FilePath().nullable(),
    /** Independent encoders to judge with, by name; the model's own f is judge "f". */
    judges: z.record(z.string(), EncoderSpec).default({}),
    /** measure.json and samples.png (real images over samples) go here; null: nowhere. */
    outDir: FilePath().nullable().default(null),
    device: Device,
  }),
  z.looseObject({
    split: z.string(),
    identities: count(),
    samples: count(),
    /** The condition y the samples had: f of each held-out image, or its identity's centre (the model's training). */
    identityCondition: IdentityCondition,
    identity: z.record(z.string(), IdentityScores),
    attributeError: z.looseObject({ samples: perAttribute(float()), real: perAttribute(float()) }).nullable(),
    sampler: SamplerArgs,
    samplingSeconds: float(),
  }),
);

export const attributesTrainJob = defineJob(
  'attributes.train',
  AttributeRegressorRecipe.unwrap().extend({
    manifest: FilePath(),
    outDir: FilePath(),
    /** Trained on these splits of the manifest. */
    splits: z.array(z.string()).default(['train']),
    evalSplit: z.enum(['val', 'test']),
    inputSize: z.number().int().positive(),
    device: Device,
  }),
  z.looseObject({
    evalSplit: z.string(),
    evalImages: count(),
    /** Mean absolute error on the held-out real images: years, degrees. */
    meanAbsoluteError: perAttribute(float()),
  }),
);
