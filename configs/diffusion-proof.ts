/**
 * The CPU-scale proof of ID³'s identity-preserving loss: on the demo's parametric face set and with
 * the demo's face-recognition recipe as the frozen encoder f, a small pixel-space U-Net trained with
 * the full loss (w = 0.5). `npx tsx scripts/diffusion-proof.ts` trains it, its λ = 0 twin and an
 * independent judge encoder, and measures identity preservation on held-out identities
 * (docs/diffusion.md has the numbers).
 */
import { defineConfig } from 'id3';
import demo from './demo.ts';

export default defineConfig({
  name: 'diffusion-proof',
  dataset: demo.dataset,
  encoder: { kind: 'train', recipe: demo.trainFr! },
  diffusion: {
    model: {
      patchSize: 2, channels: 16, channelMults: [1, 2, 2], resBlocks: 1, attentionResolutions: [8, 4], headChannels: 16,
      dropout: 0, preconditioning: 'edm',
    },
    loss: { w: 0.5 },
    training: { steps: 400, batchSize: 32, lr: 2e-3, warmupSteps: 40, emaDecay: 0.995, checkpointEvery: 200 },
    sampler: { steps: 25 },
  },
});
