/** The training identities' centres in f's space (python/id3_torch/jobs/anchors.py):
 *  what the anchors keep their exclusion zone from. */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import { count, Device, EncoderSpec, FilePath } from './common.ts';

export const identityCentresJob = defineJob(
  'anchors.identity-centres',
  z.strictObject({
    encoder: EncoderSpec,
    manifest: FilePath(),
    split: z.enum(['train', 'val', 'test']),
    /** The centres as a .npy, (identities, embeddingSize). */
    out: FilePath(),
    /** Images a batch: the sums' rounding, so the memo's key (stages/memo.py). */
    batchSize: z.number().int().positive().default(256),
    device: Device,
  }),
  z.looseObject({
    identities: count(),
    embeddingSize: count(),
    /** Images embedded; null when `out` was there already (reused). */
    images: count().nullable(),
    reused: z.boolean(),
  }),
);
