/**
 * train-fr: a face-recognition model trained on the training split of the prepared data, in
 * the bridge (one process) or under torchrun (several). Its backbone becomes a named, frozen
 * encoder (train-fr/encoder.json + backbone.safetensors) for the stages that follow.
 */
import path from 'node:path';
import { runStageJob } from '../stage-job.ts';
import type { Id3Config, TrainFr } from '../../config/schema.ts';
import type { Stage, StageContext } from '../stage.ts';
import { outputsOf } from './outputs-of.ts';
import { trainFrJob } from '../../jobs/train-fr.ts';
import type { JobArgs } from '../../bridge/jobs.ts';

export interface TrainFrSummary {
  steps: number;
  epochs: number;
  classes: number;
  images: number;
  processes: number;
  finalLoss: number | null;
  /** ‖θ‖ ÷ ‖θ₀‖ of the weights at the last step (trainFr.maxWeightGrowth bounds it). */
  weightGrowth: number | null;
  imagesPerSecond: number | null;
  /** How images reached the model (trainFr.loader.mode, auto resolved). */
  feed: 'memory' | 'stream';
  /** Images left out because they do not decode (trainFr.loader.onCorrupt 'skip'); the first 100 listed. */
  skippedImages: number;
  skipped: { index: number; where: string; problem: string }[];
  /** Relative to the run folder. */
  encoder: string;
}

const trainFrOf = (config: Id3Config): TrainFr => {
  if (!config.trainFr) throw new Error('train-fr: the config has no trainFr section');
  return config.trainFr;
};

/** The job's arguments (python/id3_torch/jobs/train_fr.py `fr_training_options`). */
export function trainFrJobArgs(
  recipe: TrainFr,
  device: Id3Config['device'],
  {
    manifest,
    outDir,
    splits,
    identities = null,
  }: { manifest: string; outDir: string; splits: string[] | null; identities?: number | null },
): JobArgs<typeof trainFrJob> {
  const {
    backbone,
    inputSize,
    embeddingSize,
    widths,
    layers,
    processes: _processes,
    data: _data,
    realIdentities: _realIdentities,
    ...rest
  } = recipe;
  return {
    ...rest,
    backbone: { name: backbone, inputSize, embeddingSize, widths: widths ?? null, layers: layers ?? null },
    data: manifest,
    outDir,
    splits,
    identities,
    device,
  };
}

/** Train a recipe on a manifest (its `splits`, or all of it), in the bridge or under torchrun. */
export async function trainFaceRecognition(
  recipe: TrainFr,
  context: StageContext,
  { manifest, splits, identities, label }: { manifest: string; splits: string[] | null; identities?: number | null; label: string },
): Promise<TrainFrSummary> {
  const { config, runDir, dir } = context;
  const args = trainFrJobArgs(recipe, config.device, { manifest, outDir: dir, splits, identities });
  const result = await runStageJob(trainFrJob, args, context, {
    processes: recipe.processes,
    label,
  });
  const { backbone: _weights, ...summary } = result;
  return { ...summary, encoder: path.relative(runDir, dir) };
}

/** The recipe's cache-key part: `checkpointEvery` changes when state is saved, `maxWeightGrowth` only
 *  whether a diverging run stops, and the loader's mode, workers and memory budget how images are
 *  decoded, not what is trained; `processes` stays in, since batchSize is per process (it sets the
 *  global batch and the schedule). */
export function recipeSlice(recipe: TrainFr): object {
  const { checkpointEvery: _checkpointEvery, maxWeightGrowth: _maxWeightGrowth, loader, ...rest } = recipe;
  const { mode: _mode, workers: _workers, memoryGiB: _memoryGiB, ...sampling } = loader;
  return { ...rest, loader: sampling };
}

export function describeRecipe(t: TrainFr): string {
  return `${t.backbone} at ${t.inputSize} px, ${t.head} (s ${t.s}, m ${t.m}), ${t.epochs} epochs, batch ${t.batchSize} × ${t.processes} process(es)`;
}

export function summarizeTraining(s: TrainFrSummary): string {
  return (
    `${s.steps} steps on ${s.images} images of ${s.classes} identities, final loss ${s.finalLoss?.toFixed(3) ?? '-'}` +
    (s.imagesPerSecond ? `, ${s.imagesPerSecond.toFixed(0)} img/s` : '') +
    (s.skippedImages ? `, ${s.skippedImages} undecodable image(s) skipped` : '')
  );
}

/** What train-fr trains on: the prepared training split (real), or the generated set (synthetic). */
export function trainingData(config: Id3Config): 'real' | 'synthetic' {
  return trainFrOf(config).data ?? (config.generate ? 'synthetic' : 'real');
}

export const trainFrStage: Stage<TrainFrSummary> = {
  name: 'train-fr',
  version: 1,
  after: ['prepare', 'generate'],
  enabled: (config) => config.trainFr !== undefined,
  slice: (config) => ({ ...recipeSlice(trainFrOf(config)), data: trainingData(config) }),
  describe: (config) => {
    const { realIdentities } = trainFrOf(config);
    const real = `prepared training split${realIdentities ? ` (its first ${realIdentities} identities)` : ''}`;
    return `${describeRecipe(trainFrOf(config))}, on the ${trainingData(config) === 'real' ? real : 'generated set'}`;
  },
  summarize: summarizeTraining,
  outputLines: (s, here) => [`  encoder:  ${here(s.encoder)} (encoder.json, backbone.safetensors)`],
  run: (context) =>
    trainFaceRecognition(trainFrOf(context.config), context, {
      ...(trainingData(context.config) === 'real'
        ? {
            manifest: outputsOf(context.runDir).prepare.manifest,
            splits: ['train'],
            identities: trainFrOf(context.config).realIdentities ?? null,
          }
        : { manifest: outputsOf(context.runDir).generate.manifest, splits: null }),
      label: 'train-fr',
    }),
};
