/** Face-recognition training (python/id3_torch/jobs/train_fr.py), run by
 *  the stages "encoder", "judge" and "train-fr". */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import { TrainFr } from '../config/train-fr.ts';
import { count, Device, FilePath, float, Skipped } from './common.ts';

const Side4 = z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]);

export const trainFrJob = defineJob(
  'train-fr',
  z
    .strictObject(TrainFr.shape)
    .omit({
      backbone: true,
      inputSize: true,
      embeddingSize: true,
      widths: true,
      layers: true,
      processes: true,
      data: true,
      realIdentities: true,
    })
    .extend({
      backbone: z.strictObject({
        name: TrainFr.shape.backbone.unwrap(),
        inputSize: z.number().int().positive(),
        embeddingSize: z.number().int().positive(),
        widths: Side4.nullable(),
        layers: Side4.nullable(),
      }),
      /** A manifest CSV, or a generated set's. */
      data: FilePath(),
      outDir: FilePath(),
      /** The manifest's splits trained on; null: all of it. */
      splits: z.array(z.string()).nullable(),
      /** Only the first this many identities; null: all. */
      identities: z.number().int().positive().nullable(),
      device: Device,
    }),
  z.looseObject({
    steps: count(),
    epochs: count(),
    classes: count(),
    images: count(),
    processes: count(),
    finalLoss: float().nullable(),
    /** ‖θ‖ ÷ ‖θ₀‖ at the last step. */
    weightGrowth: float().nullable(),
    imagesPerSecond: float().nullable(),
    feed: z.enum(['memory', 'stream']),
    skippedImages: count(),
    skipped: Skipped,
    /** The weights file. */
    backbone: z.string(),
  }),
);
