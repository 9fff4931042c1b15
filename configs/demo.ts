/**
 * The demo: the whole ID³ pipeline at CPU scale on the parametric face set (faces the project
 * renders itself, with known identities and attributes), on a 2-core machine in about ten minutes.
 *
 * It trains a small face-recognition model on the real (rendered) training identities: the frozen
 * encoder f of the ID loss, and the table's "trained on real faces" row. Then two variants, sharing
 * every stage they have in common:
 * - `id3`: the diffusion model with the ID-preserving loss, Tammes anchors, the reversed-likelihood
 *   guidance at the γ the stage `guidance` chose on the validation identities: the ID³ synthetic set;
 * - `baseline`: λ = 0 (plain conditional diffusion), γ = 0, random anchors: the baseline synthetic set;
 * each generates its synthetic identities, trains the same face-recognition recipe on them and scores
 * it on pairs of 100 held-out real identities, beside the raw-pixel baseline on the same pairs.
 */
import { defineConfig } from 'id3';
import type { Id3ConfigInput } from 'id3';

type Id3PoseMapInput = NonNullable<NonNullable<NonNullable<Id3ConfigInput['diffusion']>['conditioning']>['poseMap']>;
type Id3DiffusionModelInput = NonNullable<NonNullable<Id3ConfigInput['diffusion']>['model']>;

/** The face-recognition recipe: on the real faces (the encoder) and on each synthetic set (train-fr). */
export const faceRecognition = {
  backbone: 'iresnet-small',
  inputSize: 32,
  embeddingSize: 128,
  head: 'cosface',
  s: 16,
  m: 0.2,
  epochs: 5,
  decayEpochs: [3, 4],
  warmupEpochs: 1,
  batchSize: 64,
} satisfies NonNullable<Id3ConfigInput['trainFr']>;

/** The parametric face set: 850 training, 50 validation and 100 test identities × 8 images at 32 px. */
export const parametricFaces = {
  kind: 'parametric',
  identities: 1000,
  imagesPerIdentity: 8,
  resolution: 32,
  valIdentities: 50,
  testIdentities: 100,
  seed: 0,
} satisfies NonNullable<Id3ConfigInput['dataset']>;

/** [ours] The head-pose map (python/id3_torch/diffusion/pose_map.py) where the parametric renderer draws the head: centred
 *  at (0, 0.08) in image units, half-axes the mean head half-width and half-height (0.555, 0.68) at the mean scale (0.975).
 *  Without it the U-Net ignored the asked pose entirely (docs/diffusion.md, "Attributes"). */
export const parametricPoseMap = { centre: [0, 0.08], halfAxes: [0.55, 0.68] } satisfies Id3PoseMapInput;

/** The judge that measures the generated sets: another architecture (wider, shallower, ArcFace, 64-d), trained on
 *  400 parametric identities none of the splits holds. Neither the ID loss nor the guidance ever sees it. */
export const judge = {
  kind: 'train',
  identities: 400,
  imagesPerIdentity: 8,
  recipe: { ...faceRecognition, embeddingSize: 64, widths: [24, 48, 64, 96], layers: [1, 1, 1, 1], head: 'arcface', s: 16, m: 0.3 },
} satisfies NonNullable<Id3ConfigInput['judge']>;

/** The pixel-space U-Net the demo had before its latent space (patch 2, 32 → 16 → 8 → 4): what configs/diffusion-demo.ts
 *  and configs/diffusion-proof.ts measured (docs/diffusion.md), and the model of the diffusion benchmarks. */
export const pixelUNet = {
  patchSize: 2,
  channels: 16,
  channelMults: [1, 2, 2],
  resBlocks: 1,
  attentionResolutions: [8, 4],
  headChannels: 16,
  dropout: 0,
  preconditioning: 'edm',
} satisfies Id3DiffusionModelInput;

export default defineConfig({
  name: 'demo',
  dataset: parametricFaces,
  encoder: { kind: 'train', recipe: faceRecognition },
  judge,
  diffusion: {
    // [ours] Latent diffusion: an autoencoder (32 × 32 × 3 → 8 × 8 × 3, 400 steps) fitted first, the U-Net on its
    // latents. In pixel space the same 10 minutes gave coloured noise; here blurred heads (docs/diffusion.md, "Pixel or
    // latent space").
    model: {
      patchSize: 1,
      channels: 32,
      channelMults: [1, 2],
      resBlocks: 1,
      attentionResolutions: [8, 4],
      headChannels: 16,
      dropout: 0,
      preconditioning: 'edm',
      latent: { width: 32, steps: 400 },
    },
    conditioning: { poseMap: parametricPoseMap },
    // EDM's loss weighting [ours]: at this length the paper's plain ε loss leaves the coarse structure unlearnt
    // (docs/diffusion.md); ln σ_t drawn around −0.8 ± 1.4, a little noisier than EDM's −1.2 ± 1.2, for a short training.
    loss: { w: 0.5, weighting: 'edm', logSigmaMean: -0.8, logSigmaStd: 1.4 },
    training: { steps: 800, batchSize: 32, lr: 2e-3, warmupSteps: 40, emaDecay: 0.995, checkpointEvery: 400 },
    // γ and the gradient mode: chosen by the stage `guidance` (below); the baseline samples at γ = 0.
    sampler: { steps: 12, batchSize: 64 },
  },
  // γ chosen on the 50 validation identities by the judge, never by f, never on the test identities.
  guidance: { scales: [0, 10, 20], modes: ['detached'] },
  anchors: { count: 128 },
  generate: { imagesPerIdentity: 6, bounds: [0.7, 0.9], identitiesPerShard: 32, attributeRegressor: { epochs: 2 } },
  // 128 × 6 synthetic images are far fewer than the 850 × 8 real ones: more epochs, smaller batches.
  trainFr: { ...faceRecognition, epochs: 12, decayEpochs: [8, 11], batchSize: 32 },
  evaluate: { pairs: 4000 },
  // Each variant over 3 seeds of anchors, plan (so sampling) and train-fr: the table's mean ± standard error.
  seeds: 3,
  variants: {
    id3: {},
    baseline: { diffusion: { loss: { w: 0 }, sampler: { guidanceScale: 0 } }, anchors: { method: 'random' }, guidance: null },
  },
});
