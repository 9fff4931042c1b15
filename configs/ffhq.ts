/**
 * ID³ at the paper's scale, with FFHQ as the diffusion model's training set (GPU only; never run by this
 * project, which had no GPU: every figure below is an estimate, derived in docs/gpu.md).
 *
 * prepare  detect and align FFHQ's 70,000 photos into 112-px ArcFace crops (the framing of the .bin
 *          benchmarks), embed each with the pretrained ArcFace f, predict age and pose
 * train    the ID³ U-Net at 112 px (78.8M parameters), 500k steps × batch 16 as the paper trained it
 * guidance γ chosen on 1,000 held-out photos by an independent judge (dlib), never on the benchmarks
 * anchors  10,000 Tammes anchors in f's 512-d space, kept out of the training identities' neighbourhoods
 * generate 10,000 identities × 50 images (0.5M), DDIM 50 with identity guidance, on every GPU
 * train-fr iResNet-50 + ArcFace (s 64, m 0.5) on the synthetic set, 40 epochs, on every GPU
 * evaluate LFW, CFP-FP, CPLFW, AgeDB-30, CALFW (10-fold protocol), beside raw pixels; IJB-C 1:1 (TAR at
 *          FAR 1e-6 … 1e-1) when data/IJB_release/IJBC is there
 *
 * Expects, relative to the working directory (docs/gpu.md, "Data layout"; you download them):
 *   data/ffhq/images1024x1024/00000/00000.png …   FFHQ as NVlabs distributes it
 *   data/ffhq/manifest.csv                        path,identity: FFHQ has no identity labels, so each
 *                                                 image is its own identity (docs/gpu.md has the one-liner)
 *   weights/arcface-r100/backbone.pth             an insightface arcface_torch iResNet-100 (a state dict)
 *   data/benchmarks/{lfw,cfp_fp,cplfw,agedb_30,calfw}.bin
 *   data/IJB_release/IJBC/{loose_crop,meta}/       optional: insightface's IJB-C release (skipped when absent)
 *
 * Estimated cost (docs/gpu.md, "GPU hours"; from FLOPs per image at 15–30 % of an A100's peak, not
 * measured): prepare ≈ 1 h (CPU-bound), train ≈ 8–17 h on one GPU, generate ≈ 22–45 GPU-h (3–6 h on 8),
 * train-fr ≈ 2–5 GPU-h: about 35–70 A100-hours, 13–25 h on one node of 8. Set GPUS to your node's.
 * casia.ts is this config with CASIA-WebFace in place of FFHQ.
 */
import { defineConfig, type Id3ConfigInput } from 'id3';
import gpu from './diffusion-gpu.ts';

type Section<K extends keyof Id3ConfigInput> = NonNullable<Id3ConfigInput[K]>;

/** GPUs of the node: processes (one per GPU) of generate and train-fr. batchSize is per process. */
export const GPUS = 8;

/** The frozen identity encoder f: a published ArcFace iResNet-100 (insightface arcface_torch). */
export const encoder = {
  kind: 'arcface',
  path: 'weights/arcface-r100/backbone.pth',
  backbone: 'iresnet100',
  framing: 'arcface-112',
} satisfies Section<'encoder'>;

/**
 * The GPU-scale diffusion section of configs/diffusion-gpu.ts at 112 px (docs/diffusion.md, "GPU scale":
 * 128 × [1, 1, 2, 2, 4], attention at 28 and 14 px; 78.8M parameters, 306 GFLOP an image for forward +
 * backward), trained with the paper's recipe: 500k steps of 16 images. One process: 16 images a step
 * give a GPU little to share (docs/gpu.md, "Several GPUs").
 */
export const diffusion = {
  ...gpu.diffusion,
  model: { ...gpu.diffusion?.model, channelMults: [1, 1, 2, 2, 4], attentionResolutions: [28, 14] },
  loss: { w: 0.5 },
  training: { ...gpu.diffusion?.training, steps: 500_000, batchSize: 16, processes: 1 },
  // γ and the gradient mode: chosen by the stage `guidance` (below) on the validation identities.
  sampler: { ...gpu.diffusion?.sampler, method: 'ddim', steps: 50, batchSize: 128 },
} satisfies Section<'diffusion'>;

/** The judge: an encoder that neither the ID loss nor the guidance sees. dlib's ResNet (installed with the package,
 *  another architecture and other training data than f's ArcFace) reads the ArcFace crops in its own framing; an
 *  AdaFace checkpoint you supply is the stronger choice (`{ kind: 'adaface', path, backbone: 'ir101' }`). */
export const judge = { kind: 'dlib', framing: 'arcface-112' } satisfies Section<'judge'>;

/** γ chosen on the validation identities by the judge before any test benchmark is read (docs/gpu.md, "γ"). */
export const guidance = { scales: [0, 0.5, 1, 2, 4], modes: ['detached'] } satisfies Section<'guidance'>;

/** N = 10,000 identities; d is f's embedding size (checked against the checkpoint when the stage runs). The exclusion
 *  zone keeps every anchor as far from every training identity as 95 % of the training identities are from their
 *  nearest other one (`'auto'`, docs/anchors.md); the card's memorisation and leakage rows then say how close the
 *  generated images came. */
export const anchors = { count: 10_000, method: 'tammes', dim: 512, exclusionAngle: 'auto' } satisfies Section<'anchors'>;

/** 10,000 × 50 images, attributes resampled from the training set's, written as folders and RecordIO. */
export const generate = {
  imagesPerIdentity: 50,
  bounds: [0.7, 0.9],
  attributes: { source: 'empirical', vary: 'all' },
  formats: ['folder', 'recordio'],
  imageFormat: 'jpeg',
  jpegQuality: 95,
  identitiesPerShard: 25, // 1,250 images: what a kill can cost each rank
  processes: GPUS,
} satisfies Section<'generate'>;

/** The evaluation recipe of docs/method.md: iResNet-50, ArcFace, SGD, lr 0.1 ÷ 10 at 22, 28, 32. */
export const trainFr = {
  data: 'synthetic',
  backbone: 'iresnet50',
  inputSize: 112,
  embeddingSize: 512,
  head: 'arcface',
  s: 64,
  m: 0.5,
  epochs: 40,
  decayEpochs: [22, 28, 32],
  batchSize: 128, // per GPU, as arcface_torch
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  flip: true,
  loader: { mode: 'stream', workers: 6 }, // 0.5M decoded images are 19 GB a process
  processes: GPUS,
} satisfies Section<'trainFr'>;

/** The five benchmarks of the paper's table, as insightface distributes them (112×112, aligned). */
export const benchmarks = ['lfw', 'cfp_fp', 'cplfw', 'agedb_30', 'calfw'].map((name) => ({ name, path: `data/benchmarks/${name}.bin` }));

/** IJB-C as insightface distributes it (IJB_release/IJBC: loose_crop/, meta/): reported when the folder is there. */
export const ijb = [{ name: 'IJB-C', folder: 'data/IJB_release/IJBC', whenMissing: 'skip' as const }];

/** Benchmarks only: the real set holds no identities out (split null). IJB-C's 469k photos are read and
 *  aligned by 8 processes while the GPU runs. */
export const evaluate = { split: null, benchmarks, ijb, workers: 8 } satisfies Section<'evaluate'>;

export default defineConfig({
  name: 'ffhq',
  device: 'cuda',
  dataset: {
    kind: 'manifest',
    path: 'data/ffhq',
    manifest: 'manifest.csv',
    // FFHQ's own alignment is not the benchmarks': detect, then warp into the ArcFace template at 112 px.
    align: true,
    framing: 'arcface-112',
    resolution: 112,
    // 1,000 photos held out (each its own identity): the conditions the guidance choice is scored on.
    valIdentities: 1000,
    batchSize: 64,
  },
  encoder,
  judge,
  guidance,
  diffusion,
  anchors,
  generate,
  trainFr,
  evaluate,
});
