/**
 * train: the ID³ diffusion model on the prepared training split, conditioned on y = f(x0) of the
 * frozen identity encoder (stage "encoder", or a folder) and on the manifest's attributes, under
 * the ID-preserving loss. In the bridge, or under torchrun when `training.processes` > 1. Writes
 * train/model.json + ema.safetensors (what `load_diffusion_model` reads), checkpoint.safetensors
 * (resumable state) and grid.png (training images over samples for their conditions).
 */
import path from 'node:path';
import { runStageJob } from '../stage-job.ts';
import type { DiffusionConfig, Id3Config } from '../../config/schema.ts';
import type { Stage, StageContext } from '../stage.ts';
import { encoderKey, encoderSpec } from './encoder.ts';
import { outputsOf } from './outputs-of.ts';
import { trainJob } from '../../jobs/diffusion.ts';
import { denoisedSide } from '../../config/diffusion.ts';
import type { JobArgs } from '../../bridge/jobs.ts';

export interface TrainSummary {
  steps: number;
  images: number;
  resolution: number;
  processes: number;
  /** Whether the steps ran under bf16 autocast (diffusion.training.autocast, resolved on the machine that trained). */
  bf16: boolean;
  parameters: number;
  finalLoss: number | null;
  /** Mean ||ε − ε_θ||² of the last step. */
  denoising: number | null;
  /** Mean 1 − ⟨y, f(x̂0)⟩ of the last step (unweighted). */
  identity: number | null;
  imagesPerSecond: number | null;
  /** The model folder, relative to the run folder: model.json, ema.safetensors. */
  model: string;
  grid: string;
}

const diffusionOf = (config: Id3Config): DiffusionConfig => {
  if (!config.diffusion) throw new Error('train: the config has no diffusion section');
  return config.diffusion;
};

/** The job's arguments (python/id3_torch/jobs/diffusion.py `training_options`). */
export function trainJobArgs(config: Id3Config, runDir: string, outDir: string): JobArgs<typeof trainJob> {
  const { model, conditioning, schedule, loss, training } = diffusionOf(config);
  const { processes: _processes, ...rest } = training;
  return {
    manifest: outputsOf(runDir).prepare.manifest,
    outDir,
    encoder: encoderSpec(config, runDir),
    device: config.device,
    model,
    conditioning,
    schedule,
    loss,
    training: rest,
  };
}

export const trainStage: Stage<TrainSummary> = {
  name: 'train',
  version: 1,
  after: ['prepare', 'encoder'],
  enabled: (config) => config.diffusion !== undefined,
  // checkpointEvery changes when state is saved, the sampler only what later stages draw: both stay out.
  // processes stays in: batchSize is per process.
  slice: (config) => {
    const { sampler: _sampler, training, ...rest } = diffusionOf(config);
    const { checkpointEvery: _checkpointEvery, ...trainingSlice } = training;
    return { ...rest, training: trainingSlice, encoder: encoderKey(config) };
  },
  describe: (config) => {
    const d = diffusionOf(config);
    const m = d.model;
    const side = denoisedSide(d, config.dataset.resolution);
    return (
      `U-Net ${m.channels}×[${m.channelMults.join(',')}]${m.patchSize > 1 ? ` on ${m.patchSize}×${m.patchSize} patches` : ''} at ${config.dataset.resolution} px` +
      (m.latent ? ` (on ${side}×${side}×${m.latent.channels} latents, autoencoder ${m.latent.steps} steps)` : '') +
      `${d.conditioning.poseMap ? ' with the head-pose map' : ''}${d.conditioning.identity === 'centre' ? ', y = identity centres' : ''}` +
      `${d.conditioning.attributeDropout ? `, attributes dropped for ${+(d.conditioning.attributeDropout * 100).toFixed(1)} % of rows` : ''}, ` +
      `w ${d.loss.w}, ${d.training.steps} steps, batch ${d.training.batchSize} × ${d.training.processes} process(es)`
    );
  },
  summarize: (s) =>
    `${s.steps} steps on ${s.images} images, loss ${s.finalLoss?.toFixed(4) ?? '-'} (denoising ${s.denoising?.toFixed(4) ?? '-'}, ` +
    `1 − ⟨y, f(x̂0)⟩ ${s.identity?.toFixed(3) ?? '-'})` +
    (s.imagesPerSecond ? `, ${s.imagesPerSecond.toFixed(0)} img/s` : ''),

  async run(context: StageContext): Promise<TrainSummary> {
    const { config, runDir, dir } = context;
    const args = trainJobArgs(config, runDir, dir);
    const result = await runStageJob(trainJob, args, context, { processes: diffusionOf(config).training.processes });
    return { ...result, model: path.relative(runDir, dir), grid: path.relative(runDir, path.join(dir, 'grid.png')) };
  },
};
