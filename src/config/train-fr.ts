/** The face-recognition training recipe: the `trainFr` section, and the encoder stage's recipe. */
import { z } from 'zod';
import { intInRange, nonNegativeInt, numberInRange, positiveInt } from './fields.ts';

/** Face-recognition training (the recipe of ../shared/id3-method.md by default). */
export const TrainFr = z
  .strictObject({
    backbone: z.enum(['iresnet18', 'iresnet34', 'iresnet50', 'iresnet100', 'iresnet-small']).default('iresnet50'),
    inputSize: intInRange(32, 224).default(112).describe('backbone input side; images are resized to it'),
    embeddingSize: positiveInt().default(512),
    widths: z.tuple([positiveInt(), positiveInt(), positiveInt(), positiveInt()]).optional().describe('iresnet-small only: channels of the four stages'),
    layers: z.tuple([positiveInt(), positiveInt(), positiveInt(), positiveInt()]).optional().describe('iresnet-small only: blocks of the four stages'),
    head: z.enum(['arcface', 'cosface', 'adaface']).default('arcface'),
    s: numberInRange(1, 128).default(64).describe('logit scale'),
    m: numberInRange(0, 1.5).default(0.5).describe('margin (radians for arcface, cosine for cosface)'),
    epochs: positiveInt().default(40),
    decayEpochs: z
      .array(positiveInt())
      .refine((a) => a.every((x, i) => i === 0 || a[i - 1]! < x), { error: 'expected increasing epochs' })
      .default([22, 28, 32])
      .describe('lr ÷ 10 at each of these epochs'),
    warmupEpochs: numberInRange(0, 1000).default(0),
    batchSize: positiveInt().default(128).describe('images per process per step'),
    lr: numberInRange(0, 10).default(0.1),
    momentum: numberInRange(0, 1).default(0.9),
    weightDecay: numberInRange(0, 1).default(5e-4),
    flip: z.boolean().default(true).describe('random horizontal flips'),
    gradClip: numberInRange(0, 1e6).nullable().default(5).describe('max gradient L2 norm; null = no clipping'),
    checkpointEvery: positiveInt().default(500).describe('steps between resumable checkpoints'),
    seed: nonNegativeInt().default(0),
    processes: positiveInt().default(1).describe('processes under torchrun (one per GPU); 1 = in the bridge'),
  })
  .refine((t) => (t.widths === undefined && t.layers === undefined) || t.backbone === 'iresnet-small', {
    error: 'expected widths and layers only with backbone "iresnet-small"',
    when: (payload) => payload.issues.length === 0,
  });
export type TrainFr = z.infer<typeof TrainFr>;
