/**
 * judge: the identity encoder that measures the generated sets and that nothing optimised
 * (config/judge.ts). With `judge.kind: 'train'` this stage renders its own parametric faces, identities
 * numbered after the dataset's last one (so disjoint from every split f and the diffusion model saw),
 * and trains its recipe on them; other kinds name an encoder made elsewhere, and this stage does not run.
 */
import path from 'node:path';
import type { Id3Config, JudgeConfig, ParametricDataset, TrainedJudge } from '../../config/schema.ts';
import { PARAMETRIC_COLUMNS, writeManifest, type ParametricManifestRow } from '../../dataset/manifest.ts';
import type { Stage } from '../stage.ts';
import { specOf } from './encoder.ts';
import { renderParametric } from './prepare.ts';
import { describeRecipe, recipeSlice, summarizeTraining, trainFaceRecognition, type TrainFrSummary } from './train-fr.ts';
import { outputsOf } from './outputs-of.ts';

const trainedJudge = (config: Id3Config): { judge: TrainedJudge; faces: ParametricDataset } => {
  if (config.judge?.kind !== 'train' || config.dataset.kind !== 'parametric') throw new Error('judge: not trained in this run');
  return { judge: config.judge, faces: config.dataset };
};

/** The judge as python/id3_torch/encoders/registry.py takes it, and how the card names it; null: no judge. */
export function judgeSpec(config: Id3Config, runDir: string): { spec: ReturnType<typeof specOf>; name: string } | null {
  const judge: JudgeConfig | undefined = config.judge;
  if (!judge) return null;
  if (judge.kind === 'train') {
    return {
      spec: { kind: 'folder', path: outputsOf(runDir).judge.folder },
      name: `${describeRecipe(judge.recipe)}, trained on ${judge.identities} other parametric identities`,
    };
  }
  return { spec: specOf(judge, runDir), name: 'path' in judge ? `${judge.kind} (${judge.path})` : judge.kind };
}

export const judgeStage: Stage<TrainFrSummary> = {
  name: 'judge',
  version: 1,
  after: [],
  reported: false,
  enabled: (config) => config.judge?.kind === 'train' && config.generate !== undefined,
  slice: (config) => {
    const { judge, faces } = trainedJudge(config);
    return {
      faces: {
        first: faces.identities,
        identities: judge.identities,
        images: judge.imagesPerIdentity,
        resolution: faces.resolution,
        seed: faces.seed,
        ranges: faces.ranges,
      },
      recipe: recipeSlice(judge.recipe),
    };
  },
  describe: (config) => {
    const { judge } = trainedJudge(config);
    return `independent judge: ${describeRecipe(judge.recipe)} on ${judge.identities} other identities × ${judge.imagesPerIdentity} images`;
  },
  summarize: summarizeTraining,
  async run(context) {
    const { judge, faces } = trainedJudge(context.config);
    const rendered = await renderParametric(context, 'judge', faces, {
      first: faces.identities,
      identities: judge.identities,
      imagesPerIdentity: judge.imagesPerIdentity,
    });
    const manifest = path.join(context.dir, 'manifest.csv');
    writeManifest<ParametricManifestRow>(
      manifest,
      PARAMETRIC_COLUMNS,
      rendered.rows.map((row) => ({ ...row, split: 'train' })),
    );
    return trainFaceRecognition(judge.recipe, context, { manifest, splits: ['train'], label: 'judge' });
  },
};
