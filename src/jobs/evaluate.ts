/** Verification of face-recognition models (python/id3_torch/jobs/evaluate.py): the evaluate stage's job over
 *  every pair set and IJB folder, and one model on one IJB folder (`id3 verify --ijb`). */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import { IjbBenchmark } from '../config/evaluate.ts';
import { IjbResult } from '../evaluation/ijb.ts';
import { VerificationResult } from '../evaluation/verification.ts';
import { count, Device, EncoderSpec, FilePath } from './common.ts';

export const evaluateJob = defineJob(
  'evaluate',
  z.strictObject({
    models: z.array(z.strictObject({ name: z.string(), encoder: EncoderSpec })),
    /** Pairs drawn from the prepared set's held-out identities; null: none. */
    heldOut: z
      .strictObject({
        name: z.string(),
        manifest: FilePath(),
        splits: z.array(z.string()),
        pairs: z.number().int().positive(),
        seed: count(),
      })
      .nullable(),
    /** insightface verification .bin files. */
    benchmarks: z.array(z.strictObject({ name: z.string(), path: FilePath() })),
    ijb: z.array(IjbBenchmark.omit({ whenMissing: true })),
    workers: count(),
    pixelBaseline: z.boolean(),
    batchSize: z.number().int().positive(),
    /** pairs.csv goes here. */
    outDir: FilePath(),
    device: Device,
  }),
  z.looseObject({
    rows: z.array(VerificationResult.extend({ model: z.string(), benchmark: z.string() })),
    sets: z.array(z.looseObject({ name: z.string(), images: count(), pairs: count(), identities: count().nullable() })),
    ijb: z.array(IjbResult.extend({ model: z.string(), benchmark: z.string() })),
  }),
);

export const verifyIjbJob = defineJob(
  'verify.ijb',
  z.strictObject({
    /** The folder holding loose_crop/ and meta/. */
    folder: FilePath(),
    /** A train-fr folder, or a checkpoint of `backbone`. */
    model: FilePath(),
    backbone: z.string().nullable().optional(),
    batchSize: z.number().int().positive().optional(),
    workers: count().optional(),
    detectorScore: z.boolean().optional(),
    normScore: z.boolean().optional(),
    device: Device.optional(),
    /** Every pair's score too. */
    scores: z.boolean().optional(),
  }),
  IjbResult,
);
