/**
 * The judge: an identity encoder that neither the ID loss nor the guidance ever sees, which measures
 * the generated sets (their card, the sweep table). f's own figures stay beside it, labelled as
 * optimised by the sampler: an image that fools f scores as well as a face there.
 *
 * For the parametric set (`train`): another face-recognition model, trained on parametric identities
 * rendered after the dataset's last one (disjoint from every split f and the diffusion model saw), so
 * that f's blind spots are not the judge's. For real data: an encoder made elsewhere, e.g. AdaFace
 * when f is ArcFace, or the dlib descriptor.
 */
import { z } from 'zod';
import { AdaFaceEncoder, ArcFaceEncoder, DlibEncoder, FolderEncoder } from './encoder.ts';
import { positiveInt } from './fields.ts';
import { TrainFr } from './train-fr.ts';

export const TrainedJudge = z.strictObject({
  kind: z.literal('train'),
  identities: positiveInt().default(400).describe("parametric identities it is trained on, numbered after the dataset's last identity"),
  imagesPerIdentity: positiveInt().default(8).describe('images of each of them'),
  recipe: TrainFr.describe('its face-recognition recipe: an architecture other than f\'s (stage "judge")'),
});
export type TrainedJudge = z.infer<typeof TrainedJudge>;

export const JudgeConfig = z.discriminatedUnion('kind', [TrainedJudge, FolderEncoder, DlibEncoder, ArcFaceEncoder, AdaFaceEncoder]);
export type JudgeConfig = z.infer<typeof JudgeConfig>;
