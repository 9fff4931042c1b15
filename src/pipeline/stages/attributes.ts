/**
 * attributes: the predictor that measures generated images' attributes (age, yaw, pitch, roll). For
 * the parametric set, whose cartoon faces no shipped predictor reads, a small CNN trained on the
 * prepared training images against their ground truth (python/id3_torch/encoders/attribute_regressor.py),
 * its error on held-out real images recorded. One per prepared set: every variant shares it.
 */
import path from 'node:path';
import { runJob } from '../../bridge/jobs.ts';
import type { Id3Config } from '../../config/schema.ts';
import type { Stage } from '../stage.ts';
import { outputsOf } from './outputs-of.ts';
import { attributesTrainJob } from '../../jobs/diffusion.ts';

export interface AttributesSummary {
  evalSplit: string;
  evalImages: number;
  /** Mean absolute error on the held-out real images: years, degrees. */
  meanAbsoluteError: Record<'age' | 'yaw' | 'pitch' | 'roll', number>;
  /** The regressor's folder, relative to the run folder. */
  regressor: string;
}

const recipeOf = (config: Id3Config) => {
  if (!config.generate) throw new Error('attributes: the config has no generate section');
  return config.generate.attributeRegressor;
};

/** The held-out split it is scored on: test identities where there are any. */
const evalSplit = (config: Id3Config): 'val' | 'test' =>
  config.dataset.kind === 'parametric' && config.dataset.testIdentities === 0 ? 'val' : 'test';

export const attributesStage: Stage<AttributesSummary> = {
  name: 'attributes',
  version: 1,
  after: ['prepare'],
  enabled: (config) => config.generate !== undefined && config.dataset.kind === 'parametric',
  slice: (config) => ({ ...recipeOf(config), evalSplit: evalSplit(config) }),
  describe: (config) => `attribute regressor on the prepared training images, ${recipeOf(config).epochs} epochs`,
  summarize: (s) =>
    `error on ${s.evalImages} ${s.evalSplit} images: ` +
    Object.entries(s.meanAbsoluteError)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', '),

  async run({ config, runDir, dir, session, reporter, signal }) {
    const result = await runJob(
      session,
      attributesTrainJob,
      {
        ...recipeOf(config),
        manifest: outputsOf(runDir).prepare.manifest,
        outDir: dir,
        evalSplit: evalSplit(config),
        inputSize: config.dataset.resolution,
        device: config.device,
      },
      { onProgress: (p) => reporter.progress('attributes', p), signal, eventsPath: path.join(dir, 'events.jsonl') },
    );
    return { ...result, regressor: path.relative(runDir, dir) };
  },
};
