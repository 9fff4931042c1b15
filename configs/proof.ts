/**
 * The proof: the whole ID³ pipeline at the largest size this 2-core machine runs in the issue's 90 minutes (about 68 min
 * measured with the demo's first four stages made, about 73 from empty), large enough that the diffusion model's samples
 * are heads (README "The proof" and docs/diffusion.md show them).
 *
 *   npx id3 run configs/proof.ts
 *
 * It shares the demo's parametric face set, encoder f and judge (so a finished demo's first stages are
 * reused), and its latent-space model [ours], and changes what the demo cannot afford: a finer latent (16 × 16 × 3)
 * fitted almost 4 times longer and the U-Net trained 5 times longer on it; a synthetic set of 432 identities × 8 images
 * (3,456: half the real training split's 6,800); DDIM in 15 steps with classifier-free guidance on the attributes
 * alone at κ = 3 (chosen on the validation identities). Two variants over 3 seeds each (anchors, plan, sampling and
 * face-recognition training; one diffusion model per loss setting):
 * - `id3`: the ID loss (w = 0.5), Tammes anchors, the guidance at the γ and gradient mode that the stage
 *   `guidance` chooses on the 50 validation identities by the judge's person rank-1 (never by f, never on the test
 *   identities);
 * - `baseline`: λ = 0, γ = 0, random anchors;
 * - `real-subset`: no diffusion at all; the same face-recognition recipe on the first 432 real training
 *   identities × 8 images: the real set of the synthetic sets' size, the ratio's denominator.
 */
import { defineConfig } from 'id3';
import demo, { faceRecognition, judge, parametricFaces } from './demo.ts';

export default defineConfig({
  name: 'proof',
  dataset: parametricFaces,
  encoder: demo.encoder,
  judge,
  diffusion: {
    // [ours] 16 × 16 × 3 latents (downscale 2), which keep the pose that 8 × 8 ones lose, under a U-Net at patch 1 (levels
    // 16 and 8); σ_d = 0.25, the latents' measured standard deviation (docs/diffusion.md, "The proof at 16 × 16, patch 1").
    model: {
      ...demo.diffusion?.model,
      patchSize: 1,
      attentionResolutions: [8],
      sigmaData: 0.25,
      latent: { width: 32, channels: 3, steps: 1500, downscale: 2 },
    },
    // [ours] 20 % of the rows that keep c are told y with the attributes unknown, which trains ε(y, ∅): the sampler's
    // classifier-free guidance then amplifies the pose and age alone (docs/diffusion.md, "Guiding the attributes alone").
    conditioning: { ...demo.diffusion?.conditioning, attributeDropout: 0.2 },
    loss: { ...demo.diffusion?.loss },
    training: { ...demo.diffusion?.training, steps: 4000, warmupSteps: 100, checkpointEvery: 500 },
    // γ and the gradient mode come from the stage `guidance` (below); the baseline samples at γ = 0.
    sampler: { steps: 15, batchSize: 64, cfgScale: 3, cfgGuides: 'attributes' },
  },
  guidance: { scales: [0, 1, 2, 4, 8, 16], modes: ['detached', 'full'] },
  anchors: { count: 432 },
  generate: { imagesPerIdentity: 8, bounds: [0.7, 0.9], identitiesPerShard: 48, attributeRegressor: { epochs: 2 } },
  trainFr: { ...faceRecognition, epochs: 8, decayEpochs: [5, 7], batchSize: 64 },
  evaluate: { pairs: 4000 },
  seeds: 3,
  variants: {
    ...demo.variants, // id3 and baseline, as the demo defines them
    'real-subset': { diffusion: null, anchors: null, generate: null, guidance: null, trainFr: { data: 'real', realIdentities: 432 } },
  },
});
