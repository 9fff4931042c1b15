/**
 * generate: the synthetic dataset. First the per-image plan, here in TypeScript (src/anchors/plan.ts:
 * for identity i and image j, y_ij at cosine v_ij ~ U[lb, ub] from the anchor w_i, attributes s_ij, a
 * seed), written whole before any image is sampled; then Python samples every image of it with the
 * ID-preserving sampler (`diffusion.sampler`) and writes the sharded dataset with its card, in the
 * bridge or under torchrun. A killed run resumes by shard. With `generate.fidInceptionWeights`, the card
 * also has FID rows (python/id3_torch/evaluation/fid.py), and the weights file's bytes enter the cache key.
 */
import path from 'node:path';
import { writeIdentityPlan, type PlanSummary } from '../../anchors/plan.ts';
import { runStageJob } from '../stage-job.ts';
import type { GenerateConfig, Id3Config } from '../../config/schema.ts';
import { samplerArgs } from '../../diffusion/jobs.ts';
import { markdownTable } from '../../report/markdown.ts';
import type { Stage, StageContext } from '../stage.ts';
import { tensorDevice } from './anchors.ts';
import { fileDigest } from './encoder.ts';
import { judgeSpec } from './judge.ts';
import { chosenGuidance } from './guidance.ts';
import { outputsOf } from './outputs-of.ts';
import {
  generateJob,
  type FidFigures,
  type FidRow,
  type IdentityFigures,
  type MemorisationFigures,
  type NearestQuantiles,
  type RealismScores,
  type SyntheticStatistics,
} from '../../jobs/generate.ts';

export type { SyntheticStatistics };

export interface GenerateSummary {
  /** The γ and gradient mode sampled at; chosen: by the guidance stage on the validation identities. */
  guidance: { guidanceScale: number; gradientMode: 'detached' | 'full'; chosen: boolean };
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
function attributePredictor(
  config: Id3Config,
  runDir: string,
): { kind: 'regressor'; path: string; real: ReturnType<typeof heldOutReal> } | { kind: 'face-api' } {
  return config.dataset.kind === 'parametric'
    ? { kind: 'regressor', path: outputsOf(runDir).attributes.folder, real: heldOutReal(config, runDir) }
    : { kind: 'face-api' };
}

/** The real images that realism is measured against: the prepared manifest's held-out test split, else val. */
function heldOutReal(config: Id3Config, runDir: string): { manifest: string; split: 'test' | 'val' } {
  const split = config.dataset.kind === 'parametric' && config.dataset.testIdentities === 0 ? 'val' : 'test';
  return { manifest: outputsOf(runDir).prepare.manifest, split };
}

/** The judge and the real images it compares with: the prepared training identities (leakage) and the
 *  held-out images (realism). */
function judgeArgs(config: Id3Config, runDir: string) {
  const judge = judgeSpec(config, runDir);
  if (!judge) return null;
  return { ...judge, real: heldOutReal(config, runDir) };
}

const FID_FIELD = 'generate.fidInceptionWeights';

/** FID's weights file (absolute) and the held-out images, or null when the config asks for no FID. */
function fidArgs(config: Id3Config, runDir: string): { weights: string; real: ReturnType<typeof heldOutReal> } | null {
  const weights = generateOf(config).fidInceptionWeights;
  return weights === undefined ? null : { weights: path.resolve(weights), real: heldOutReal(config, runDir) };
}

/** The report's FID rows, measured like the judge's realism rows (none when FID was not asked for). */
function fidRows(fid: FidFigures | undefined): { figure: string; value: string }[] {
  if (!fid) return [];
  const row = (name: string, r: FidRow) => ({
    figure: `${fid.features}, ${name} (${r.generated} against ${r.real} real)`,
    value: r.fid.toFixed(2),
  });
  return [
    row('generated', fid.generated),
    row(`real vs real (${fid.heldOutSplit} halves)`, fid.realVsReal),
    row('floor (flat images)', fid.floor),
  ];
}

const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));

export const generateStage: Stage<GenerateSummary> = {
  name: 'generate',
  version: 2,
  after: ['prepare', 'encoder', 'judge', 'train', 'guidance', 'anchors', 'attributes'],
  enabled: (config) => config.generate !== undefined,
  // Images depend on their seeds and conditions only: batch size and process count change speed. FID
  // depends on the weights file's bytes, not on where it lies; without it the key is what it always was.
  // With a guidance section, γ and the mode are the guidance stage's choice (its key comes through `after`).
  slice: (config) => {
    const { processes: _processes, fidInceptionWeights, ...generate } = generateOf(config);
    const { batchSize: _batchSize, ...all } = samplerOf(config);
    const { guidanceScale: _chosen, gradientMode: _chosenMode, ...rest } = all;
    const sampler = config.guidance ? rest : all;
    const fid =
      fidInceptionWeights === undefined
        ? {}
        : { fidInceptionWeights: { sha256: fileDigest(path.resolve(fidInceptionWeights), FID_FIELD) } };
    return { ...generate, sampler, ...fid };
  },
  describe: (config) => {
    const g = generateOf(config);
    const s = samplerOf(config);
    return (
      `${config.anchors?.count ?? '?'} identities × ${g.imagesPerIdentity} images, v ~ U[${g.bounds.join(', ')}], ` +
      `${s.method} ${s.method === 'ddim' ? `${s.steps} steps, ` : ''}` +
      (config.guidance
        ? `γ and mode chosen on the validation identities (target ${s.guidanceTarget})`
        : `γ ${s.guidanceScale} (${s.gradientMode}, target ${s.guidanceTarget})`)
    );
  },
  summarize: (s) => {
    const judged = s.statistics.judge ?? s.statistics.f;
    return (
      `${s.images} images of ${s.identities} identities (${s.sampled} sampled` +
      (s.imagesPerSecond ? ` at ${s.imagesPerSecond.toFixed(1)} img/s` : '') +
      `); ${s.statistics.judge ? 'judge' : 'f (optimised by the sampler; no judge)'}: consistency ` +
      `${f3(judged.identityConsistency.leaveOneOutCosine)} (chance ${f3(judged.identityConsistency.chanceCosine)}), ` +
      `max centre cos ${f3(judged.separation.maxCentreCosine)}` +
      (s.statistics.judge
        ? `, precision ${f3(s.statistics.judge.realism.generated.precision)} (real ${f3(s.statistics.judge.realism.realVsReal.precision)})`
        : '')
    );
  },
  metrics: (s) => {
    const { judge, f, attributes, fid } = s.statistics;
    return {
      'judge consistency': judge?.identityConsistency.leaveOneOutCosine ?? null,
      'judge chance': judge?.identityConsistency.chanceCosine ?? null,
      'judge max centre cos': judge?.separation.maxCentreCosine ?? null,
      'judge precision': judge?.realism.generated.precision ?? null,
      'judge recall': judge?.realism.generated.recall ?? null,
      'judge FD': judge?.realism.generated.frechetDistance ?? null,
      ...(fid ? { FID: fid.generated.fid } : {}), // a column only where FID was measured
      'f consistency (optimised)': f.identityConsistency.leaveOneOutCosine,
      'yaw correlation': attributes.yaw?.correlation ?? null,
    };
  },
  report: (s) => {
    const { judge, f, attributes, attributesReal, fid, memorisation } = s.statistics;
    const quantiles = (q: NearestQuantiles) => `${f3(q.closest)} / ${f3(q.p01)} / ${f3(q.median)}`;
    const memorisationRow = (name: string, m: MemorisationFigures) => ({
      figure: `memorisation, ${name} to the nearest of ${m.trainingImages} training images: closest / 1 % / median, generated (held-out real); generated closer than any held-out image`,
      value: `${quantiles(m.generated)} (${quantiles(m.heldOut)}); ${(100 * m.closerThanHeldOut).toFixed(1)} %`,
    });
    const identityRows = (who: string, figures: IdentityFigures) => [
      {
        figure: `${who}: leave-one-out consistency (chance level)`,
        value: `${f3(figures.identityConsistency.leaveOneOutCosine)} (${f3(figures.identityConsistency.chanceCosine)})`,
      },
      {
        figure: `${who}: max / mean cos between identity centres — separation`,
        value: `${f3(figures.separation.maxCentreCosine)} / ${f3(figures.separation.meanCentreCosine)}`,
      },
      ...(figures.leakage
        ? [
            {
              figure: `${who}: closest training identity, cos (angle) over ${figures.leakage.trainingIdentities} — leakage`,
              value: `${f3(figures.leakage.closestCosine)} (${figures.leakage.closestAngle.toFixed(1)}°)`,
            },
          ]
        : []),
    ];
    const realism = (name: string, r: RealismScores) => ({
      figure: `judge: realism, ${name}: FD; precision / recall`,
      value: `${f3(r.frechetDistance)}; ${f3(r.precision)} / ${f3(r.recall)}`,
    });
    const rows = [
      ...(judge
        ? [
            ...identityRows(`judge (${judge.encoder})`, judge),
            realism('generated', judge.realism.generated),
            realism(`real vs real (${judge.realism.heldOutSplit} halves)`, judge.realism.realVsReal),
            realism('floor (flat images)', judge.realism.floor),
            ...(memorisation
              ? [memorisationRow('judge cos', memorisation.judge), memorisationRow('pixel RMS (16 px)', memorisation.pixels)]
              : []),
            ...fidRows(fid),
          ]
        : [
            ...fidRows(fid),
            { figure: 'judge', value: "none configured: every identity figure below is f's, which the sampler optimised" },
          ]),
      ...identityRows('f (optimised by the sampler)', f),
      {
        figure: 'f (optimised by the sampler): mean cos(f(x_ij), y_ij) / cos(f(x_ij), w_i)',
        value: `${f3(f.identityConsistency.meanCosineToCondition)} / ${f3(f.identityConsistency.meanCosineToAnchor)}`,
      },
      ...Object.entries(attributes).map(([name, a]) => ({
        figure: `${name}: correlation asked–predicted; spread within identities obtained (asked); error (predicting the mean)`,
        value: `${f3(a.correlation)}; ${f3(a.spreadObtained)} (${f3(a.spreadAsked)}); ${f3(a.error)} (${f3(a.meanPredictorError)})`,
      })),
      ...(attributesReal
        ? [
            {
              figure: 'the attribute regressor on held-out real images, truth as asked: correlation; spread obtained (true)',
              value: Object.entries(attributesReal)
                .map(([name, a]) => `${name} ${f3(a.correlation)}; ${f3(a.spreadObtained)} (${f3(a.spreadAsked)})`)
                .join(' · '),
            },
          ]
        : []),
    ];
    return [
      {
        markdown:
          `## Synthetic dataset\n\n${s.images} images of ${s.identities} identities ([card](../${s.card}), [manifest](../${s.manifest})). ` +
          `Plan: cos(y_ij, w_i) = v_ij in [${f3(s.cosines.min)}, ${f3(s.cosines.max)}], KS p = ${f3(s.cosines.ks.pValue)}. ` +
          `Rows are identities, columns their images:\n\n![generated](../${s.grid})\n\n${markdownTable(['figure', 'value'], rows)}` +
          (memorisation
            ? `\n\nThe generated images nearest a training image (rows 1 and 3) above those training images (rows 2 and 4), by the judge (rows 1–2) and in pixels (rows 3–4):\n\n![memorisation](../${path.join(path.dirname(s.grid), memorisation.picture)})`
            : ''),
      },
    ];
  },

  async run(context: StageContext): Promise<GenerateSummary> {
    const { config, runDir, dir, session, signal } = context;
    const g = generateOf(config);
    const sampler = samplerOf(config);
    const { imagesPerIdentity, bounds, attributes, seed } = g;
    const plan = await writeIdentityPlan(session, {
      anchors: outputsOf(runDir).anchors.anchors,
      plan: { imagesPerIdentity, bounds, attributes, seed },
      manifest: outputsOf(runDir).prepare.manifest,
      outDir: path.join(dir, 'plan'),
      device: await tensorDevice(context),
      signal,
    });
    const args = {
      plan: path.join(dir, 'plan'),
      trainDir: outputsOf(runDir).train.folder,
      outDir: dir,
      sampler: { ...samplerArgs(sampler), ...chosenGuidance(config, runDir), guidanceTarget: sampler.guidanceTarget },
      batchSize: sampler.batchSize,
      formats: g.formats,
      imageFormat: g.imageFormat,
      jpegQuality: g.jpegQuality,
      identitiesPerShard: g.identitiesPerShard,
      gridIdentities: g.gridIdentities,
      gridImages: g.gridImages,
      centres: config.encoder ? outputsOf(runDir).anchors.centres : null,
      attributes: attributePredictor(config, runDir),
      judge: judgeArgs(config, runDir),
      fid: fidArgs(config, runDir),
      device: config.device,
    };
    const result = await runStageJob(generateJob, args, context, { processes: g.processes });
    const relative = (...p: string[]) => path.relative(runDir, path.join(dir, ...p));
    return {
      ...result,
      guidance: {
        guidanceScale: args.sampler.guidanceScale,
        gradientMode: args.sampler.gradientMode,
        chosen: config.guidance !== undefined,
      },
      cosines: plan.cosines,
      dataset: relative('dataset'),
      manifest: relative('dataset', 'manifest.csv'),
      card: relative('dataset', 'card.md'),
      grid: relative('grid.png'),
    };
  },
};
