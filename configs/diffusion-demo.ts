/**
 * ID³ at the demo's scale, alone: prepare, the encoder f and the pixel-space diffusion model of configs/demo.ts,
 * with f trained as docs/diffusion.md measured it (10 epochs) and DDIM at 25 steps. About 100 s a
 * training on a 2-core CPU. At this size the samples are not faces to a human eye; what they carry is
 * measured identity (docs/diffusion.md, "The CPU-scale proof").
 */
import { defineConfig, type Id3ConfigInput } from 'id3';
import demo, { faceRecognition, parametricFaces, pixelUNet } from './demo.ts';

/** f of the CPU-scale proof: the demo's recipe, 10 epochs. */
export const proofEncoder: NonNullable<Id3ConfigInput['encoder']> = {
  kind: 'train',
  recipe: { ...faceRecognition, epochs: 10, decayEpochs: [7, 9] },
};

export default defineConfig({
  name: 'diffusion-demo',
  dataset: { ...parametricFaces, identities: 1200 }, // 1,050 training identities, as docs/diffusion.md measured
  encoder: proofEncoder,
  // The demo's recipe in pixel space, 400 steps, as measured (the demo itself now works in a latent space).
  diffusion: {
    ...demo.diffusion,
    model: pixelUNet,
    training: { ...demo.diffusion?.training, steps: 400, checkpointEvery: 200 },
    sampler: { steps: 25, guidanceScale: 20, gradientMode: 'detached' },
  },
  evaluate: demo.evaluate,
});
