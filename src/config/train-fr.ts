/** The face-recognition training recipe: the `trainFr` section, and the encoder stage's recipe. */
import { z } from 'zod';
import { intInRange, interval, nonNegativeInt, numberInRange, positiveInt } from './fields.ts';

/** How training images reach the model (python/id3_torch/data/feeds.py). Mode, workers and memoryGiB
 *  change how fast, not what is trained: both feeds give the same batches. */
export const FrLoader = z
  .strictObject({
    mode: z
      .enum(['auto', 'memory', 'stream'])
      .default('auto')
      .describe(
        'memory: every image decoded once; stream: DataLoader workers decode each batch; auto: memory when the decoded images fit in memoryGiB',
      ),
    workers: intInRange(0, 64).default(2).describe('DataLoader worker processes that decode images (0: the training process)'),
    memoryGiB: numberInRange(0, 1e6).default(4).describe('auto mode: the largest decoded image set held in memory, GiB'),
    sampling: z
      .enum(['uniform', 'balanced'])
      .default('uniform')
      .describe('uniform: every image once an epoch; balanced: each draw an identity chosen uniformly, then its next image'),
    onCorrupt: z
      .enum(['raise', 'skip'])
      .default('raise')
      .describe('an image that does not decode stops training (raise), or is left out and reported (skip)'),
  })
  .prefault({});
export type FrLoader = z.infer<typeof FrLoader>;

/** AdaFace's augmentations beside the flip (python/id3_torch/data/augment.py), each with its probability. */
export const FrAugment = z
  .strictObject({
    crop: numberInRange(0, 1).default(0).describe('probability of a random crop kept in place on black (AdaFace: 0.2)'),
    cropScale: interval(0.01, 1).default([0.2, 1]).describe('fraction of the image area the crop keeps'),
    lowResolution: numberInRange(0, 1).default(0).describe('probability of a resize down and back (AdaFace: 0.2)'),
    lowResolutionScale: interval(0.01, 1).default([0.2, 1]).describe('side ratio of the low resolution'),
    photometric: numberInRange(0, 1).default(0).describe('probability of brightness, contrast and saturation jitter (AdaFace: 0.2)'),
    photometricStrength: numberInRange(0, 1).default(0.5).describe('s: each factor drawn from U[1 - s, 1 + s]'),
  })
  .prefault({});
export type FrAugment = z.infer<typeof FrAugment>;

/** Face-recognition training (the recipe of docs/method.md by default). */
export const TrainFr = z
  .strictObject({
    data: z
      .enum(['real', 'synthetic'])
      .optional()
      .describe(
        'what it trains on: the prepared training split, or the generated set; default: synthetic when there is a generate section',
      ),
    realIdentities: positiveInt()
      .optional()
      .describe(
        "with data 'real': only the first this many identities of the training split (a real reference the size of a synthetic set)",
      ),
    backbone: z.enum(['iresnet18', 'iresnet34', 'iresnet50', 'iresnet100', 'iresnet-small']).default('iresnet50'),
    inputSize: intInRange(32, 224).default(112).describe('backbone input side; images are resized to it'),
    embeddingSize: positiveInt().default(512),
    widths: z
      .tuple([positiveInt(), positiveInt(), positiveInt(), positiveInt()])
      .optional()
      .describe('iresnet-small only: channels of the four stages'),
    layers: z
      .tuple([positiveInt(), positiveInt(), positiveInt(), positiveInt()])
      .optional()
      .describe('iresnet-small only: blocks of the four stages'),
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
    augment: FrAugment.describe('augmentations beside the flip, applied to each batch on the training device'),
    loader: FrLoader.describe('how images reach the model: decoded into memory or streamed'),
    gradClip: numberInRange(0, 1e6).nullable().default(5).describe('max gradient L2 norm; null = no clipping'),
    maxWeightGrowth: numberInRange(1, 1e12)
      .nullable()
      .default(20)
      .describe(
        "[ours] stop as diverged when the weights' L2 norm exceeds this multiple of its initial value (the summary's weightGrowth); null = never",
      ),
    checkpointEvery: positiveInt().default(500).describe('steps between resumable checkpoints'),
    seed: nonNegativeInt().default(0),
    processes: positiveInt().default(1).describe('processes under torchrun (one per GPU); 1 = in the bridge'),
  })
  .refine((t) => (t.widths === undefined && t.layers === undefined) || t.backbone === 'iresnet-small', {
    error: 'expected widths and layers only with backbone "iresnet-small"',
    when: (payload) => payload.issues.length === 0,
  })
  .refine((t) => t.realIdentities === undefined || t.data === 'real', {
    error: "expected realIdentities only with data 'real'",
    path: ['realIdentities'],
    when: (payload) => payload.issues.length === 0,
  });
export type TrainFr = z.infer<typeof TrainFr>;
