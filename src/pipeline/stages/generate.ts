/**
 * generate: the synthetic dataset. First the per-image plan, here in TypeScript (src/anchors/plan.ts:
 * for identity i and image j, y_ij at cosine v_ij ~ U[lb, ub] from the anchor w_i, attributes s_ij, a
 * seed), written whole before any image is sampled; then Python samples every image of it with the
 * ID-preserving sampler (`diffusion.sampler`) and writes the sharded dataset with its card, in the
 * bridge or under torchrun. A killed run resumes by shard.
 */
import path from 'node:path';
import { writeIdentityPlan, type PlanSummary } from '../../anchors/plan.ts';
import { runJob } from '../../bridge/jobs.ts';
import { runTorchrun } from '../../bridge/torchrun.ts';
import type { GenerateConfig, Id3Config } from '../../config/schema.ts';
import { samplerArgs } from '../../diffusion/jobs.ts';
import { markdownTable } from '../../report/markdown.ts';
import type { Stage, StageContext } from '../stage.ts';
import { tensorDevice } from './anchors.ts';

/** The card's figures (python/id3_torch/evaluation/synthetic.py `synthetic_statistics`). */
export interface SyntheticStatistics {
  identityConsistency: { meanCosineToCentre: number; meanCosineToCondition: number; meanCosineToAnchor: number };
  separation: { maxCentreCosine: number | null; meanCentreCosine: number | null; minCentreAngle: number | null };
  attributes: {
    predictedSpread: Record<string, number>;
    requestedSpread: Record<string, number>;
    error: Record<string, number>;
  };
  leakage?: { closestCosine: number; closestAngle: number; closestIdentity: number; meanNearestCosine: number; trainingIdentities: number };
}

export interface GenerateSummary {
  identities: number;
  imagesPerIdentity: number;
  images: number;
  sampled: number;
  reused: number;
  processes: number;
  imagesPerSecond: number | null;
  statistics: SyntheticStatistics;
  /** The plan's cosines v_ij and their KS test against U[lb, ub]. */
  cosines: PlanSummary['cosines'];
  /** Relative to the run folder. */
  dataset: string;
  manifest: string;
  card: string;
  grid: string;
}

const generateOf = (config: Id3Config): GenerateConfig => {
  if (!config.generate) throw new Error('generate: the config has no generate section');
  return config.generate;
};

const samplerOf = (config: Id3Config) => {
  if (!config.diffusion) throw new Error('generate: the config has no diffusion section');
  return config.diffusion.sampler;
};

/** How the generated images' attributes are measured: the parametric set's regressor (stage
 *  "attributes"), face-api's predictors for real faces. */
function attributePredictor(config: Id3Config, runDir: string): { kind: 'regressor'; path: string } | { kind: 'face-api' } {
  return config.dataset.kind === 'parametric' ? { kind: 'regressor', path: path.join(runDir, 'attributes') } : { kind: 'face-api' };
}

const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));

export const generateStage: Stage<GenerateSummary> = {
  name: 'generate',
  version: 1,
  after: ['prepare', 'encoder', 'train', 'anchors', 'attributes'],
  enabled: (config) => config.generate !== undefined,
  // Images depend on their seeds and conditions only: batch size and process count change speed.
  slice: (config) => {
    const { processes: _processes, ...generate } = generateOf(config);
    const { batchSize: _batchSize, ...sampler } = samplerOf(config);
    return { ...generate, sampler };
  },
  describe: (config) => {
    const g = generateOf(config);
    const s = samplerOf(config);
    return (
      `${config.anchors?.count ?? '?'} identities × ${g.imagesPerIdentity} images, v ~ U[${g.bounds.join(', ')}], ` +
      `${s.method} ${s.method === 'ddim' ? `${s.steps} steps, ` : ''}γ ${s.guidanceScale} (${s.gradientMode}, target ${s.guidanceTarget})`
    );
  },
  summarize: (s) =>
    `${s.images} images of ${s.identities} identities (${s.sampled} sampled` +
    (s.imagesPerSecond ? ` at ${s.imagesPerSecond.toFixed(1)} img/s` : '') +
    `); cos to centre ${f3(s.statistics.identityConsistency.meanCosineToCentre)}, ` +
    `max centre cos ${f3(s.statistics.separation.maxCentreCosine)}` +
    (s.statistics.leakage ? `, closest training identity cos ${f3(s.statistics.leakage.closestCosine)}` : ''),
  metrics: (s) => ({
    'cos to centre': s.statistics.identityConsistency.meanCosineToCentre,
    'cos to condition': s.statistics.identityConsistency.meanCosineToCondition,
    'max centre cos': s.statistics.separation.maxCentreCosine,
    'mean centre cos': s.statistics.separation.meanCentreCosine,
    'closest training cos': s.statistics.leakage?.closestCosine ?? null,
    'yaw spread': s.statistics.attributes.predictedSpread.yaw ?? null,
  }),
  report: (s) => {
    const st = s.statistics;
    const rows = [
      { figure: 'mean cos(f(x_ij), centre c_i) — identity consistency', value: f3(st.identityConsistency.meanCosineToCentre) },
      { figure: 'mean cos(f(x_ij), condition y_ij)', value: f3(st.identityConsistency.meanCosineToCondition) },
      { figure: 'mean cos(f(x_ij), anchor w_i)', value: f3(st.identityConsistency.meanCosineToAnchor) },
      { figure: 'max / mean cos between identity centres — separation', value: `${f3(st.separation.maxCentreCosine)} / ${f3(st.separation.meanCentreCosine)}` },
      ...Object.keys(st.attributes.requestedSpread).map((name) => ({
        figure: `${name}: spread within identities, predicted (asked); error`,
        value: `${f3(st.attributes.predictedSpread[name])} (${f3(st.attributes.requestedSpread[name])}); ${f3(st.attributes.error[name])}`,
      })),
      ...(st.leakage ? [{ figure: `closest training identity: cos (angle) over ${st.leakage.trainingIdentities} — leakage`, value: `${f3(st.leakage.closestCosine)} (${st.leakage.closestAngle.toFixed(1)}°)` }] : []),
    ];
    return [
      {
        markdown:
          `## Synthetic dataset\n\n${s.images} images of ${s.identities} identities ([card](../${s.card}), [manifest](../${s.manifest})). ` +
          `Plan: cos(y_ij, w_i) = v_ij in [${f3(s.cosines.min)}, ${f3(s.cosines.max)}], KS p = ${f3(s.cosines.ks.pValue)}. ` +
          `Rows are identities, columns their images:\n\n![generated](../${s.grid})\n\n${markdownTable(['figure', 'value'], rows)}`,
      },
    ];
  },

  async run(context: StageContext): Promise<GenerateSummary> {
    const { config, runDir, dir, session, reporter, signal } = context;
    const g = generateOf(config);
    const sampler = samplerOf(config);
    const { imagesPerIdentity, bounds, attributes, seed } = g;
    const plan = await writeIdentityPlan(session, {
      anchors: path.join(runDir, 'anchors', 'anchors.npy'),
      plan: { imagesPerIdentity, bounds, attributes, seed },
      manifest: path.join(runDir, 'prepare', 'manifest.csv'),
      outDir: path.join(dir, 'plan'),
      device: await tensorDevice(context),
      signal,
    });
    const args = {
      plan: path.join(dir, 'plan'),
      trainDir: path.join(runDir, 'train'),
      outDir: dir,
      sampler: { ...samplerArgs(sampler), guidanceTarget: sampler.guidanceTarget },
      batchSize: sampler.batchSize,
      formats: g.formats,
      imageFormat: g.imageFormat,
      jpegQuality: g.jpegQuality,
      identitiesPerShard: g.identitiesPerShard,
      gridIdentities: g.gridIdentities,
      gridImages: g.gridImages,
      centres: config.encoder ? path.join(runDir, 'anchors', 'centres.npy') : null,
      attributes: attributePredictor(config, runDir),
      device: config.device,
    };
    type Result = Omit<GenerateSummary, 'cosines' | 'dataset' | 'manifest' | 'card' | 'grid'>;
    const onProgress = (p: Parameters<typeof reporter.progress>[1]) => reporter.progress('generate', p);
    const result =
      g.processes > 1
        ? await runTorchrun<Result>('generate', args, { processes: g.processes, session, dir, onProgress, signal })
        : await runJob<Result>(session, 'generate', args, { onProgress, signal, eventsPath: path.join(dir, 'events.jsonl') });
    const relative = (...p: string[]) => path.relative(runDir, path.join(dir, ...p));
    return {
      ...result,
      cosines: plan.cosines,
      dataset: relative('dataset'),
      manifest: relative('dataset', 'manifest.csv'),
      card: relative('dataset', 'card.md'),
      grid: relative('grid.png'),
    };
  },
};
