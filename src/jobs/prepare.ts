/** The stage "prepare"'s jobs (python/id3_torch/jobs/prepare.py): parametric faces rendered, a real set
 *  detected, aligned, measured and split. */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import { Framing } from '../config/encoder.ts';
import { ParametricRanges } from '../config/schema.ts';
import { count, Device, EncoderSpec, FilePath, float } from './common.ts';

const Split = z.enum(['train', 'val', 'test']);

export const prepareParametricJob = defineJob(
  'prepare.parametric',
  z.strictObject({
    outDir: FilePath(),
    gridPath: FilePath(),
    /** Identities firstIdentity … firstIdentity + identities − 1 of the set that `seed` draws. */
    firstIdentity: count(),
    identities: count(),
    imagesPerIdentity: z.number().int().positive(),
    resolution: z.number().int().positive(),
    seed: count(),
    ranges: ParametricRanges.unwrap(),
    batchSize: z.number().int().positive(),
    gridIdentities: z.number().int().positive(),
    gridImages: z.number().int().positive(),
  }),
  z.looseObject({
    /** One per image; `path` relative to outDir. */
    rows: z.array(
      z.looseObject({ path: z.string(), identity: count(), image: count(), age: float(), yaw: float(), pitch: float(), roll: float() }),
    ),
    rendered: count(),
    reused: count(),
  }),
);

/** Where a real set's images come from (python/id3_torch/stages/real_sources.py `open_source`). */
export const RealSource = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('folders'), path: FilePath() }),
  z.strictObject({ kind: z.literal('manifest'), path: FilePath(), manifest: z.string() }),
  z.strictObject({ kind: z.literal('recordio'), rec: FilePath(), idx: FilePath().optional() }),
]);
export type RealSource = z.infer<typeof RealSource>;

export const prepareRealJob = defineJob(
  'prepare.real',
  z.strictObject({
    dataset: RealSource,
    outDir: FilePath(),
    align: z.boolean(),
    framing: Framing,
    resolution: z.number().int().positive(),
    minConfidence: z.number().min(0).max(1),
    valIdentities: count(),
    testIdentities: count(),
    batchSize: z.number().int().positive(),
    /** Embeds every image when given (an encoder made outside the run). */
    encoder: EncoderSpec.nullable(),
    device: Device,
  }),
  z.looseObject({
    /** Paths inside outDir. */
    manifest: z.string(),
    notFound: z.string(),
    embeddings: z.string().nullable(),
    inputs: count(),
    images: count(),
    missing: count(),
    identities: z.record(Split, count()),
  }),
);
