/**
 * Datasets of real faces (python/id3_torch/stages/prepare_real.py): identity folders, a folder with a
 * manifest, or an insightface RecordIO. Raw photos are aligned by prepare (`align`); pre-aligned sets
 * (insightface 112×112 crops, FFHQ) say their `framing` and skip detection.
 */
import { z } from 'zod';
import { Framing } from './encoder.ts';
import { intInRange, nonNegativeInt, numberInRange, positiveInt } from './fields.ts';

const path = () => z.string({ error: 'expected a path' }).min(1, { error: 'expected a path' });

const common = {
  align: z
    .boolean()
    .default(false)
    .describe(
      'detect the face in each photo (face-api SSD MobileNetV1), find 68 landmarks and warp it into `framing`; false: the images are aligned crops already',
    ),
  framing: Framing.default('arcface-112').describe(
    'framing of the aligned images: the one prepare writes (align), or the one they come in',
  ),
  resolution: intInRange(32, 1024).default(112).describe('side of the aligned images prepare writes (align only)'),
  minConfidence: numberInRange(0.05, 0.99).default(0.5).describe('detector score below which no face counts as found (align only)'),
  valIdentities: nonNegativeInt()
    .default(0)
    .describe('identities held out for tuning (split "val"): the last ones before the test identities'),
  testIdentities: nonNegativeInt().default(0).describe('identities held out for evaluation (split "test"): the last ones'),
  batchSize: positiveInt().default(32).describe('images per batch: each finished batch is kept, so a killed prepare resumes after it'),
};

export const FoldersDataset = z.strictObject({
  kind: z.literal('folders'),
  path: path().describe('root/<identity>/<image>.{jpg,png}, relative to the working directory'),
  ...common,
});

export const ManifestDataset = z.strictObject({
  kind: z.literal('manifest'),
  path: path().describe('the folder the manifest and its image paths are in, relative to the working directory'),
  manifest: z.string().min(1).default('manifest.csv').describe('CSV with at least the columns path and identity'),
  ...common,
});

export const RecordIODataset = z.strictObject({
  kind: z.literal('recordio'),
  rec: path().describe('an insightface/MXNet .rec file, relative to the working directory'),
  idx: path().optional().describe('its .idx (default: beside the .rec)'),
  ...common,
});

export const RealDatasets = [FoldersDataset, ManifestDataset, RecordIODataset] as const;
export type RealDataset = z.infer<(typeof RealDatasets)[number]>;
