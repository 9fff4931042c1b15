/**
 * The `diffusion` section: the ID³ model (python/id3_torch/diffusion), its training (stage `train`)
 * and its ID-preserving sampler. [paper] and [ours] mark, as docs/method.md does, what the
 * paper fixes and what this project chose; every [ours] choice is a field. Defaults are the
 * GPU-scale model (docs/diffusion.md); configs/diffusion-proof.ts holds the CPU-scale one.
 */
import { z } from 'zod';
import { intInRange, nonNegativeInt, numberInRange, positiveInt } from './fields.ts';

const sides = () => z.array(positiveInt());

export const DiffusionModel = z
  .strictObject({
    patchSize: intInRange(1, 8).default(1).describe('[ours] pixels folded into channels before the first level (space-to-depth); 1 = none'),
    channels: positiveInt().default(128).describe('width of the first level'),
    channelMults: sides()
      .min(1, { error: 'expected at least one level' })
      .default([1, 2, 2, 2])
      .describe('width of each level ÷ channels; each level after the first halves the side'),
    resBlocks: positiveInt().default(2).describe('residual blocks per level (the up path has one more)'),
    attentionResolutions: sides().default([16, 8]).describe('feature-map sides (px) with self- and cross-attention'),
    headChannels: positiveInt().default(64).describe('channels per attention head'),
    dropout: numberInRange(0, 0.9).default(0.1).describe('dropout inside residual blocks'),
    conditionTokens: positiveInt().default(4).describe('[ours] c is split into this many cross-attention tokens'),
    preconditioning: z
      .enum(['edm', 'none'])
      .default('edm')
      .describe('[ours] edm: ε_θ = c_skip·x_t + c_out·F(c_in·x_t) (EDM scalings for an ε target); none: ε_θ = F(x_t)'),
    sigmaData: numberInRange(0.01, 10).default(0.5).describe("σ_d, the data's standard deviation assumed by the edm scalings"),
    latent: z
      .strictObject({
        width: positiveInt().default(32).describe('channels of its full-resolution layers (twice that below)'),
        channels: positiveInt()
          .default(3)
          .describe("C, the latent's channels: what the U-Net denoises (more keep more of the pose: docs/diffusion.md)"),
        downscale: z
          .union([z.literal(2), z.literal(4)])
          .default(4)
          .describe(
            "how many times smaller the latent's side is than the image's: 4 (R/4 × R/4 × C) or 2 (R/2 × R/2 × C: sharper, and it keeps the pose; docs/diffusion.md, \"The latent's side\")",
          ),
        steps: positiveInt().default(800).describe('L1 training steps, before the denoiser'),
        batchSize: positiveInt().default(64),
        lr: numberInRange(1e-6, 1).default(2e-3).describe('AdamW'),
      })
      .nullable()
      .default(null)
      .describe(
        '[ours, as LDM] the denoiser works in the latent space of an autoencoder (R × R × 3 → R/downscale × R/downscale × C) trained first by the stage train; the ID loss and the guidance read f through its decoder (python/id3_torch/diffusion/autoencoder.py); null = pixel space',
      ),
  })
  .prefault({});
export type DiffusionModel = z.infer<typeof DiffusionModel>;

/** What y is for a training image (DiffusionConditioning.identity). */
export const IdentityCondition = z.enum(['image', 'centre']);

export const DiffusionConditioning = z
  .strictObject({
    hidden: z.tuple([positiveInt(), positiveInt()]).default([512, 256]).describe('[paper] hidden sizes of the MLP on [y ; s] (ReLU)'),
    size: positiveInt().default(768).describe('[paper] size of c'),
    dropout: numberInRange(0, 1)
      .default(0.1)
      .describe('[ours] probability of replacing c by the learned null token (classifier-free guidance)'),
    attributeDropout: numberInRange(0, 1)
      .default(0)
      .describe(
        "[ours] probability, among the rows that keep c, of replacing s (and the pose map) by 'unknown' while keeping y: trains ε(y, ∅), which classifier-free guidance on the attributes alone needs (sampler.cfgGuides 'attributes'); 0 = off",
      ),
    identity: IdentityCondition.default('image').describe(
      "y of a training image: [paper] 'image', f(x0) of the image itself; [ours] 'centre', the unit mean of f over its identity's training images (one y per identity: f(x0) also carries the image's pose, which the anchors of generation do not; docs/diffusion.md, \"The identity condition\")",
    ),
    poseMap: z
      .strictObject({
        centre: z.tuple([numberInRange(-1, 1), numberInRange(-1, 1)]).describe('the head centre in image units ([-1, 1] across, y up)'),
        halfAxes: z.tuple([numberInRange(0.01, 2), numberInRange(0.01, 2)]).describe('the head half-width and half-height, image units'),
      })
      .nullable()
      .default(null)
      .describe(
        '[ours] the head-pose map: yaw, pitch and roll drawn per pixel as the head-frame point each pixel shows, read by the U-Net beside x_t (python/id3_torch/diffusion/pose_map.py); null = off, the pose only in c',
      ),
  })
  .prefault({});

export const DiffusionSchedule = z
  .strictObject({
    timesteps: intInRange(2, 10_000).default(1000).describe('[paper] T'),
    betaStart: numberInRange(1e-8, 0.5).default(1e-4).describe('[ours, as the peers] linear β from betaStart …'),
    betaEnd: numberInRange(1e-8, 0.999).default(0.02).describe('… to betaEnd'),
  })
  .refine((s) => s.betaStart <= s.betaEnd, { error: 'expected betaStart ≤ betaEnd', when: (p) => p.issues.length === 0 })
  .prefault({});

export const DiffusionLoss = z
  .strictObject({
    w: numberInRange(0, 1000)
      .default(0.5)
      .describe('[paper] identity-term weight: λ_t = w·(1 − 1/(1 + exp(−t/T))); 0 = plain conditional diffusion'),
    weighting: z
      .enum(['epsilon', 'edm'])
      .default('epsilon')
      .describe(
        "[ours] the denoising term over t: epsilon = [paper] ||ε − ε_θ||² at uniform t; edm = EDM's loss, ||ε − ε_θ||²/c_out(t)² at t with ln σ_t ~ N(logSigmaMean, logSigmaStd²), which a short training learns far faster (docs/diffusion.md)",
      ),
    logSigmaMean: numberInRange(-10, 10).default(-1.2).describe('[ours] P_mean of the edm weighting (σ_t² = (1 − ᾱ_t)/ᾱ_t)'),
    logSigmaStd: numberInRange(0.01, 10).default(1.2).describe('[ours] P_std of the edm weighting'),
  })
  .prefault({});

export const DiffusionTraining = z
  .strictObject({
    steps: positiveInt().default(500_000).describe('[paper] optimiser steps'),
    batchSize: positiveInt().default(16).describe('images per process per step ([paper] 16 in all)'),
    lr: numberInRange(0, 1).default(1e-4).describe('[ours, as the peers] AdamW learning rate'),
    weightDecay: numberInRange(0, 1).default(0).describe('AdamW weight decay'),
    warmupSteps: nonNegativeInt().default(1000).describe('linear learning-rate warm-up, then constant'),
    gradClip: numberInRange(0, 1e6).nullable().default(1).describe('max gradient L2 norm; null = no clipping'),
    autocast: z
      .enum(['auto', 'bf16', 'off'])
      .default('auto')
      .describe(
        '[ours] bf16 autocast: auto = on CUDA and on CPUs with native bf16 (AMX or AVX-512 BF16; emulated bf16 is many times slower); off = float32',
      ),
    emaDecay: numberInRange(0, 0.999999).default(0.9999).describe('EMA decay (warmed up as min(decay, (1+n)/(10+n)))'),
    checkpointEvery: positiveInt().default(5000).describe('steps between resumable checkpoints'),
    gridImages: intInRange(0, 64)
      .default(8)
      .describe('training images shown in train/grid.png above samples for their conditions; 0 = no grid'),
    seed: nonNegativeInt().default(0),
    processes: positiveInt().default(1).describe('processes under torchrun (one per GPU); 1 = in the bridge'),
  })
  .prefault({});

/** The ID-preserving sampler (python/id3_torch/diffusion/sampler.py), for whatever stage samples the model. */
export const DiffusionSampler = z
  .strictObject({
    method: z.enum(['ddim', 'ddpm']).default('ddim').describe('[ours] DDIM, or DDPM ancestral over all T steps'),
    steps: intInRange(1, 10_000).default(50).describe('[ours] DDIM steps'),
    eta: numberInRange(0, 1).default(0).describe('[ours] DDIM η (0 = deterministic)'),
    guidanceScale: numberInRange(0, 1e6)
      .default(0)
      .describe('[ours] γ of γ_t = γ·λ_t/w; tune it on the val split (docs/diffusion.md); 0 = no identity guidance'),
    gradientMode: z
      .enum(['full', 'detached'])
      .default('detached')
      .describe('[ours] full: through ε_θ and f; detached: ε_θ held constant (half the cost)'),
    cfgScale: numberInRange(0, 100).default(1).describe('[ours] classifier-free guidance κ; 1 = off'),
    cfgGuides: z
      .enum(['condition', 'attributes'])
      .default('condition')
      .describe(
        "[ours] what κ amplifies: 'condition', ε(∅) + κ(ε(y, s) − ε(∅)) (identity and attributes alike); 'attributes', ε(y, ∅) + κ(ε(y, s) − ε(y, ∅)) (the attributes, holding the identity: needs a model trained with conditioning.attributeDropout > 0)",
      ),
    clip: z.boolean().default(true).describe('clip x̂0 to [-1, 1] in each step and in the guidance'),
    guidanceTarget: z
      .enum(['embedding', 'anchor'])
      .default('embedding')
      .describe('[ours] ŷ of the guidance: y_ij, or the anchor w_i (ablation)'),
    batchSize: positiveInt().default(64).describe('images sampled at once (speed only)'),
  })
  .prefault({});
export type DiffusionSampler = z.infer<typeof DiffusionSampler>;

export const DiffusionConfig = z
  .strictObject({
    model: DiffusionModel.describe('the U-Net ε_θ'),
    conditioning: DiffusionConditioning.describe('c = MLP([y ; s])'),
    schedule: DiffusionSchedule.describe('the DDPM noise schedule (ε-prediction)'),
    loss: DiffusionLoss.describe('the ID-preserving loss'),
    training: DiffusionTraining.describe('the optimiser loop of the stage "train"'),
    sampler: DiffusionSampler.describe("how samples are drawn (not part of the train stage's key)"),
  })
  .refine((d) => d.sampler.cfgScale === 1 || d.sampler.cfgGuides === 'condition' || d.conditioning.attributeDropout > 0, {
    // Caught here, before the train stage spends its hours on a model the sampler would then refuse.
    error:
      "expected conditioning.attributeDropout > 0 for classifier-free guidance on the attributes: the model learns ε(y, ∅) only from rows whose attributes were dropped (or cfgGuides 'condition', or cfgScale 1)",
    path: ['sampler', 'cfgGuides'],
    when: (p) => p.issues.length === 0,
  });
export type DiffusionConfig = z.infer<typeof DiffusionConfig>;

/** The side of what the U-Net denoises: the image's, or in latent space its latents'. */
export const denoisedSide = (d: DiffusionConfig, imageSide: number): number =>
  d.model.latent ? Math.floor(imageSide / d.model.latent.downscale) : imageSide;

/** Problems that need the image side too (the Python U-Net checks the same, later): [path, message]. */
export function diffusionFitProblems(d: DiffusionConfig, imageSide: number): Array<[string[], string]> {
  const problems: Array<[string[], string]> = [];
  const m = d.model;
  if (m.latent && imageSide % m.latent.downscale !== 0) {
    problems.push([['model', 'latent', 'downscale'], `expected a divisor of the image side ${imageSide}, got ${m.latent.downscale}`]);
  }
  const resolution = denoisedSide(d, imageSide);
  const halvings = 2 ** (m.channelMults.length - 1);
  if (resolution % (m.patchSize * halvings) !== 0) {
    problems.push([
      ['model', 'patchSize'],
      `expected the side the U-Net sees (${resolution}${m.latent ? `, the latents of ${imageSide}-px images` : ''}) to be divisible by patchSize ${m.patchSize} × 2^${m.channelMults.length - 1} (one halving per level after the first)`,
    ]);
  }
  const imageChannels = m.latent ? m.latent.channels : 3; // of what the U-Net denoises
  if (m.channels < imageChannels * m.patchSize ** 2) {
    problems.push([
      ['model', 'channels'],
      `expected at least ${imageChannels} × patchSize² = ${imageChannels * m.patchSize ** 2}: the first level must carry every pixel of a patch, or ε cannot be predicted`,
    ]);
  }
  const width = m.channelMults.map((k) => k * m.channels).find((w) => w % m.headChannels !== 0);
  if (width !== undefined)
    problems.push([
      ['model', 'headChannels'],
      `expected every level width (channels × channelMults) to be a multiple of headChannels ${m.headChannels}, got ${width}`,
    ]);
  if (d.conditioning.size % m.conditionTokens !== 0) {
    problems.push([['model', 'conditionTokens'], `expected a divisor of conditioning.size ${d.conditioning.size}`]);
  }
  return problems;
}
