/**
 * The frozen identity encoder f that ID³ conditions on and preserves identity with
 * (python/id3_torch/encoders). Trained in this run on the prepared training split (`train`), or
 * an encoder made elsewhere: a train-fr folder (`folder`), e.g. another run's.
 */
import { z } from 'zod';
import { TrainFr } from './train-fr.ts';

const path = () => z.string({ error: 'expected a path' }).min(1, { error: 'expected a path' });

export const TrainedEncoder = z.strictObject({
  kind: z.literal('train'),
  recipe: TrainFr.describe('face-recognition recipe, trained on the prepared training split by the stage "encoder"'),
});

export const FolderEncoder = z.strictObject({
  kind: z.literal('folder'),
  path: path().describe('a train-fr folder (encoder.json beside its weights), relative to the working directory'),
});

export const EncoderConfig = z.discriminatedUnion('kind', [TrainedEncoder, FolderEncoder]);
export type EncoderConfig = z.infer<typeof EncoderConfig>;
