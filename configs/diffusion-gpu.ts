/**
 * ID³ at GPU scale on the parametric face set at 64 px (not run in this project's CI: no GPU there;
 * docs/diffusion.md has the 112-px model and what to expect). The U-Net is the schema's default
 * (128 channels × [1, 2, 2, 2], 2 residual blocks a level, attention at 16 and 8 px); bf16 autocast is
 * on whenever the device is CUDA. Set `processes` to the number of GPUs: batchSize is per process.
 */
import { defineConfig } from 'id3';

export default defineConfig({
  name: 'diffusion-gpu',
  device: 'cuda',
  dataset: { kind: 'parametric', identities: 10_000, imagesPerIdentity: 16, resolution: 64, valIdentities: 200, testIdentities: 500 },
  encoder: {
    kind: 'train',
    recipe: {
      backbone: 'iresnet18',
      inputSize: 64,
      embeddingSize: 512,
      head: 'arcface',
      epochs: 20,
      decayEpochs: [12, 16, 18],
      batchSize: 256,
    },
  },
  diffusion: {
    training: { steps: 200_000, batchSize: 64, lr: 1e-4, warmupSteps: 1000, emaDecay: 0.9999, checkpointEvery: 5000, processes: 1 },
    sampler: { steps: 50 },
  },
});
