/** A face set converted between image folders and insightface RecordIO (`id3 data convert`,
 *  python/id3_torch/jobs/data.py). */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import { count, FilePath, Skipped } from './common.ts';

export const dataConvertJob = defineJob(
  'data.convert',
  z.strictObject({
    src: FilePath(),
    /** A folder, or a .rec (with its .idx beside). */
    dst: FilePath(),
    /** A manifest's splits to keep; null: all. */
    splits: z.array(z.string()).nullable().optional(),
    onCorrupt: z.enum(['raise', 'skip']).optional(),
    /** Re-encode as; null: keep each image's bytes. */
    imageFormat: z.enum(['jpeg', 'png']).nullable().optional(),
    quality: z.number().int().min(1).max(95).optional(),
    workers: count().optional(),
    batchSize: z.number().int().positive().optional(),
  }),
  z.looseObject({
    src: z.string(),
    dst: z.string(),
    format: z.enum(['folders', 'recordio']),
    images: count(),
    identities: count(),
    skippedImages: count(),
    skipped: Skipped,
  }),
);
