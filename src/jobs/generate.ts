/** The synthetic set sampled from a plan (python/id3_torch/jobs/generate.py), with its card's
 *  figures (python/id3_torch/evaluation/synthetic.py); and a preview grid of a few planned identities. */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import { GenerateConfig } from '../config/generate.ts';
import { count, Device, EncoderSpec, FilePath, float, HeldOutReal } from './common.ts';
import { DiffusionSampler } from '../config/diffusion.ts';
import { SamplerArgs } from './diffusion.ts';

/** The sampler with the guidance's target ŷ (y_ij or the anchor w_i), which the generate stage reads. */
const GenerateSampler = SamplerArgs.extend({ guidanceTarget: DiffusionSampler.unwrap().shape.guidanceTarget });

/** One encoder's identity figures of a synthetic set (`encoder_statistics`). */
const IdentityFigures = z.looseObject({
  /** How the card names the encoder that measured them. */
  encoder: z.string(),
  /** Each image against its identity's other images, and the same for unrelated images (chance). */
  identityConsistency: z.looseObject({ leaveOneOutCosine: float(), chanceCosine: float() }),
  separation: z.looseObject({
    maxCentreCosine: float().nullable(),
    meanCentreCosine: float().nullable(),
    minCentreAngle: float().nullable(),
  }),
  leakage: z
    .looseObject({
      closestCosine: float(),
      closestAngle: float(),
      closestIdentity: count(),
      meanNearestCosine: float(),
      trainingIdentities: count(),
    })
    .optional(),
});
export type IdentityFigures = z.infer<typeof IdentityFigures>;

/** Fréchet distance and k-NN precision/recall in the judge's space (python/id3_torch/evaluation/realism.py). */
const RealismScores = z.looseObject({
  frechetDistance: float(),
  precision: float(),
  recall: float(),
  k: count(),
  real: count(),
  generated: count(),
});
export type RealismScores = z.infer<typeof RealismScores>;

/** One FID row: the Fréchet distance between Gaussians fitted to two image sets' Inception pool3 features. */
const FidRow = z.looseObject({ fid: float(), real: count(), generated: count() });
export type FidRow = z.infer<typeof FidRow>;

/** FID with pytorch-fid's Inception weights (python/id3_torch/evaluation/fid.py), on the judge's realism rows. */
const FidFigures = z.looseObject({
  /** "FID (Inception pool3, pytorch-fid weights)" */
  features: z.string(),
  generated: FidRow,
  realVsReal: FidRow,
  floor: FidRow,
  heldOutSplit: z.string(),
  weightsSha256: z.string(),
});
export type FidFigures = z.infer<typeof FidFigures>;

/** Nearest-training-image scores (python/id3_torch/evaluation/memorisation.py): the closest, the 1st and 5th
 *  percentiles from the close end, the median. */
const NearestQuantiles = z.looseObject({ closest: float(), p01: float(), p05: float(), median: float() });
export type NearestQuantiles = z.infer<typeof NearestQuantiles>;
const MemorisationFigures = z.looseObject({
  generated: NearestQuantiles,
  heldOut: NearestQuantiles,
  /** The share of generated images nearer a training image than any held-out real image comes. */
  closerThanHeldOut: float(),
  generatedImages: count(),
  heldOutImages: count(),
  trainingImages: count(),
});
export type MemorisationFigures = z.infer<typeof MemorisationFigures>;

const AttributeFigures = z.record(
  z.string(),
  z.looseObject({
    correlation: float().nullable(),
    spreadAsked: float(),
    spreadObtained: float(),
    error: float(),
    meanPredictorError: float(),
  }),
);

/** The card's figures: attribute control, the judge's (if any), FID (if its weights are given) and f's. */
const SyntheticStatistics = z.looseObject({
  attributes: AttributeFigures,
  /** The same figures for the held-out real images, their ground truth as "asked": what the regressor reads
   *  of attributes that are there (the parametric set only, whose truth is known). */
  attributesReal: AttributeFigures.optional(),
  judge: IdentityFigures.extend({
    realism: z.looseObject({ generated: RealismScores, realVsReal: RealismScores, floor: RealismScores, heldOutSplit: z.string() }),
  }).optional(),
  fid: FidFigures.optional(),
  /** Each generated image's nearest training image, by the judge (cosine) and in pixels (RMS of 16 × 16
   *  thumbnails), beside the held-out real images'; `picture`: the closest pairs, in the stage folder. */
  memorisation: z.looseObject({ judge: MemorisationFigures, pixels: MemorisationFigures, picture: z.string() }).optional(),
  /** f, which the ID loss and the guidance optimise: its figures are no evidence on their own. */
  f: IdentityFigures.extend({
    identityConsistency: z.looseObject({
      leaveOneOutCosine: float(),
      chanceCosine: float(),
      meanCosineToCondition: float(),
      meanCosineToAnchor: float(),
    }),
  }),
});
export type SyntheticStatistics = z.infer<typeof SyntheticStatistics>;

const GenerateOutput = GenerateConfig.pick({
  formats: true,
  imageFormat: true,
  jpegQuality: true,
  identitiesPerShard: true,
  gridIdentities: true,
  gridImages: true,
});

export const generateJob = defineJob(
  'generate',
  GenerateOutput.extend({
    /** The folder src/anchors/plan.ts wrote. */
    plan: FilePath(),
    trainDir: FilePath(),
    outDir: FilePath(),
    sampler: GenerateSampler,
    batchSize: z.number().int().positive(),
    /** The training identities' centres in f's space (leakage); null without an encoder. */
    centres: FilePath().nullable(),
    /** How the generated images' attributes are measured: the parametric set's regressor, face-api's predictors for real faces. */
    attributes: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('regressor'), path: FilePath(), real: HeldOutReal }),
      z.strictObject({ kind: z.literal('face-api') }),
    ]),
    judge: z.strictObject({ spec: EncoderSpec, name: z.string(), real: HeldOutReal }).nullable(),
    fid: z.strictObject({ weights: FilePath(), real: HeldOutReal }).nullable(),
    device: Device,
  }),
  z.looseObject({
    identities: count(),
    imagesPerIdentity: count(),
    images: count(),
    sampled: count(),
    reused: count(),
    processes: count(),
    imagesPerSecond: float().nullable(),
    statistics: SyntheticStatistics,
  }),
);

export const generatePreviewJob = defineJob(
  'generate.preview',
  z.strictObject({
    trainDir: FilePath(),
    plan: FilePath(),
    sampler: GenerateSampler,
    batchSize: z.number().int().positive(),
    /** The grid PNG: a row per identity of the plan. */
    out: FilePath(),
    device: Device,
  }),
  z.looseObject({ grid: z.string(), images: count() }),
);
