/**
 * The frozen identity encoder f that ID³ conditions on and preserves identity with
 * (python/id3_torch/encoders). Trained in this run on the prepared training split (`train`), an
 * encoder made elsewhere (`folder`: a train-fr folder, e.g. another run's), the dlib descriptor
 * that ships in @vladmandic/face-api (`dlib`, works offline), or a published checkpoint given by
 * path (`arcface`: insightface arcface_torch; `adaface`: AdaFace).
 */
import { z } from 'zod';
import { TrainFr } from './train-fr.ts';

const path = () => z.string({ error: 'expected a path' }).min(1, { error: 'expected a path' });

/** How face images are cropped (python/id3_torch/encoders/framing.py). */
export const Framing = z.enum(['arcface-112', 'dlib-150', 'ffhq'], { error: 'expected arcface-112, dlib-150 or ffhq' });
export type Framing = z.infer<typeof Framing>;

const inputFraming = () =>
  Framing.default('arcface-112').describe(
    "how the images given to the encoder are cropped; another framing than the network's own is reframed inside the graph",
  );

export const TrainedEncoder = z.strictObject({
  kind: z.literal('train'),
  recipe: TrainFr.describe('face-recognition recipe, trained on the prepared training split by the stage "encoder"'),
});

export const FolderEncoder = z.strictObject({
  kind: z.literal('folder'),
  path: path().describe('a train-fr folder (encoder.json beside its weights), relative to the working directory'),
});

export const DlibEncoder = z.strictObject({
  kind: z.literal('dlib'),
  framing: inputFraming(),
});

export const ArcFaceEncoder = z.strictObject({
  kind: z.literal('arcface'),
  path: path().describe('an insightface arcface_torch backbone.pth (a state dict), or a .safetensors of one'),
  backbone: z
    .enum(['iresnet50', 'iresnet100'], { error: 'expected iresnet50 or iresnet100' })
    .describe('the architecture the checkpoint was trained with'),
  framing: inputFraming(),
});

export const AdaFaceEncoder = z.strictObject({
  kind: z.literal('adaface'),
  path: path().describe("an AdaFace checkpoint: the authors' Lightning .ckpt, or a state dict (.pth / .safetensors) of the backbone"),
  backbone: z.enum(['ir50', 'ir101'], { error: 'expected ir50 or ir101' }).describe('the architecture the checkpoint was trained with'),
  framing: inputFraming(),
});

export const EncoderConfig = z.discriminatedUnion('kind', [TrainedEncoder, FolderEncoder, DlibEncoder, ArcFaceEncoder, AdaFaceEncoder]);
export type EncoderConfig = z.infer<typeof EncoderConfig>;
