/**
 * train-fr: a face-recognition model trained on the training split of the prepared data, in
 * the bridge (one process) or under torchrun (several). Its backbone becomes a named, frozen
 * encoder (train-fr/encoder.json + backbone.safetensors) for the stages that follow.
 */
import path from 'node:path';
import { runJob } from '../../bridge/jobs.ts';
import { runTorchrun } from '../../bridge/torchrun.ts';
import type { Id3Config, TrainFr } from '../../config/schema.ts';
import type { Stage, StageContext } from '../stage.ts';

export interface TrainFrSummary {
  steps: number;
  epochs: number;
  classes: number;
  images: number;
  processes: number;
  finalLoss: number | null;
  imagesPerSecond: number | null;
  /** Relative to the run folder. */
  encoder: string;
}

const trainFrOf = (config: Id3Config): TrainFr => {
  if (!config.trainFr) throw new Error('train-fr: the config has no trainFr section');
  return config.trainFr;
};

/** The job's arguments (python/id3_torch/recognition/train.py `FrTrainingOptions.from_args`). */
export function trainFrJobArgs(config: Id3Config, manifest: string, outDir: string): object {
  const { backbone, inputSize, embeddingSize, widths, layers, processes: _processes, ...recipe } = trainFrOf(config);
  return {
    ...recipe,
    backbone: { name: backbone, inputSize, embeddingSize, widths: widths ?? null, layers: layers ?? null },
    manifest,
    outDir,
    splits: ['train'],
    device: config.device,
  };
}

export const trainFrStage: Stage<TrainFrSummary> = {
  name: 'train-fr',
  version: 1,
  after: ['prepare'],
  enabled: (config) => config.trainFr !== undefined,
  // `processes` stays in: batchSize is per process, so it sets the global batch and the schedule.
  // `checkpointEvery` changes when state is saved, not what is trained.
  slice: (config) => {
    const { checkpointEvery: _checkpointEvery, ...recipe } = trainFrOf(config);
    return recipe;
  },
  describe: (config) => {
    const t = trainFrOf(config);
    return `${t.backbone} at ${t.inputSize} px, ${t.head} (s ${t.s}, m ${t.m}), ${t.epochs} epochs, batch ${t.batchSize} × ${t.processes} process(es)`;
  },
  summarize: (s) =>
    `${s.steps} steps on ${s.images} images of ${s.classes} identities, final loss ${s.finalLoss?.toFixed(3) ?? '-'}` +
    (s.imagesPerSecond ? `, ${s.imagesPerSecond.toFixed(0)} img/s` : ''),

  async run({ config, runDir, dir, session, reporter, signal }: StageContext): Promise<TrainFrSummary> {
    const args = trainFrJobArgs(config, path.join(runDir, 'prepare', 'manifest.csv'), dir);
    const onProgress = (p: Parameters<typeof reporter.progress>[1]) => reporter.progress('train-fr', p);
    const processes = trainFrOf(config).processes;
    const result =
      processes > 1
        ? await runTorchrun<TrainFrSummary & { backbone: string }>('train-fr', args, { processes, session, dir, onProgress, signal })
        : await runJob<TrainFrSummary & { backbone: string }>(session, 'train-fr', args, {
            onProgress,
            signal,
            eventsPath: path.join(dir, 'events.jsonl'),
          });
    const { backbone: _weights, ...summary } = result;
    return { ...summary, encoder: path.relative(runDir, dir) };
  },
};
