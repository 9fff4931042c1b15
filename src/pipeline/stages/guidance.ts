/**
 * guidance: γ and the gradient mode chosen on the validation identities by the judge (config/guidance.ts).
 * For every γ of `guidance.scales` (and, for γ > 0, every mode of `guidance.modes`), one sample per validation
 * image, conditioned on that image's (y, s), is scored by the judge: rank-1 among the validation identities
 * (against the centres of the condition photos, and against the centres of each identity's *other* photos: the
 * person rank-1, which a sample cannot earn by copying its condition photo's background and pose) and the identity
 * cosine, beside f's figures (which the guidance optimises: no evidence on their own) and the real condition
 * photos' own person rank-1 (the reference). The choice: the largest judge person rank-1 (the rank-1 where the split
 * holds one photo an identity), ties to the smaller γ, then to `detached` (half the cost). `generate` samples at
 * it. The test identities are not read here.
 *
 * Writes choice.json (every row and the choice) and choice.csv; each tried setting's samples (real
 * validation images above their samples) and measure.json under val/g<γ>-<mode>/.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import type { GuidanceChoice } from '../../config/guidance.ts';
import type { Id3Config } from '../../config/schema.ts';
import { measureIdentityPreservation, samplerArgs } from '../../diffusion/jobs.ts';
import { markdownTable } from '../../report/markdown.ts';
import { writeFileAtomic } from '../../util/files.ts';
import type { Stage } from '../stage.ts';
import { judgeSpec } from './judge.ts';
import { outputsOf } from './outputs-of.ts';

type GradientMode = 'detached' | 'full';

export interface GuidanceRow {
  guidanceScale: number;
  /** 'none' at γ = 0. */
  gradientMode: GradientMode | 'none';
  judgeRank1: number;
  /** Against the centres of each identity's photos that are no condition (null where the split has none). */
  judgePersonRank1: number | null;
  judgeCosine: number;
  /** f's figures: what the guidance climbs. */
  fRank1: number;
  fCosine: number;
  /** Mean absolute yaw error of the samples, degrees (the parametric set's regressor; null without one). */
  yawError: number | null;
  seconds: number;
}

export interface GuidanceSummary {
  split: 'val';
  identities: number;
  judge: string;
  /** The validation condition photos' own judge person rank-1: what a real photo of the person scores. */
  realPersonRank1: number | null;
  rows: GuidanceRow[];
  chosen: { guidanceScale: number; gradientMode: GradientMode };
  /** choice.json, relative to the run folder. */
  choice: string;
}

/** NaN (the split holds one photo an identity) as null, which JSON keeps. */
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);
const score3 = (v: number | null): string => (v === null ? '–' : v.toFixed(3));

const choiceOf = (config: Id3Config): GuidanceChoice => {
  if (!config.guidance || !config.diffusion) throw new Error('guidance: the config has no guidance or diffusion section');
  return config.guidance;
};

/** The settings tried, in order: γ = 0 once, every other γ in every mode. */
const settings = (g: GuidanceChoice): { guidanceScale: number; gradientMode: GradientMode }[] =>
  g.scales.flatMap((scale) =>
    scale === 0
      ? [{ guidanceScale: 0, gradientMode: 'detached' as const }]
      : g.modes.map((mode) => ({ guidanceScale: scale, gradientMode: mode })),
  );

/** The largest judge person rank-1 (the rank-1 where the split holds no other photos); ties to the smaller γ, then to
 *  detached (the rows come in that order). */
export function chooseGuidance(rows: readonly GuidanceRow[]): GuidanceRow {
  const score = rows.every((r) => r.judgePersonRank1 !== null) ? (r: GuidanceRow) => r.judgePersonRank1! : (r: GuidanceRow) => r.judgeRank1;
  return rows.reduce((best, row) => (score(row) > score(best) ? row : best));
}

/** The γ and mode generate samples at: the choice where the config has a guidance section, else diffusion.sampler's. */
export function chosenGuidance(config: Id3Config, runDir: string): { guidanceScale: number; gradientMode: GradientMode } {
  if (!config.guidance)
    return { guidanceScale: config.diffusion!.sampler.guidanceScale, gradientMode: config.diffusion!.sampler.gradientMode };
  return (JSON.parse(readFileSync(outputsOf(runDir).guidance.choice, 'utf8')) as { chosen: GuidanceSummary['chosen'] }).chosen;
}

export const guidanceStage: Stage<GuidanceSummary> = {
  name: 'guidance',
  version: 2, // 2: chosen by the person rank-1
  after: ['prepare', 'encoder', 'judge', 'attributes', 'train'],
  enabled: (config) => config.guidance !== undefined && config.diffusion !== undefined,
  // The sampler less what is chosen (and batchSize, which changes speed only); an external judge by its spec
  // (a trained one's key comes through `after`).
  slice: (config) => {
    const { guidanceScale: _g, gradientMode: _m, ...sampler } = samplerArgs(config.diffusion!.sampler);
    return { guidance: choiceOf(config), sampler, judge: config.judge?.kind === 'train' ? 'trained' : (config.judge ?? null) };
  },
  describe: (config) => {
    const g = choiceOf(config);
    const { cfgScale, cfgGuides } = config.diffusion!.sampler;
    const cfg = cfgScale === 1 ? '' : ` (classifier-free guidance κ ${cfgScale} on the ${cfgGuides})`;
    return `γ ∈ {${g.scales.join(', ')}} × ${g.modes.join(' / ')}${cfg}, chosen on the validation identities by the judge`;
  },
  summarize: (s) => {
    const unguided = s.rows.find((r) => r.guidanceScale === 0);
    const best = s.rows.find(
      (r) => r.guidanceScale === s.chosen.guidanceScale && (r.guidanceScale === 0 || r.gradientMode === s.chosen.gradientMode),
    )!;
    return (
      `γ ${s.chosen.guidanceScale}${s.chosen.guidanceScale ? ` ${s.chosen.gradientMode}` : ''}: judge person rank-1 ` +
      `${score3(best.judgePersonRank1)} on ${s.identities} validation identities` +
      `${unguided ? ` (unguided ${score3(unguided.judgePersonRank1)}, real photos ${score3(s.realPersonRank1)})` : ''}`
    );
  },
  metrics: (s) => ({ 'γ chosen': s.chosen.guidanceScale, 'γ mode': s.chosen.guidanceScale ? s.chosen.gradientMode : 'none' }),
  report: (s) => [
    {
      markdown:
        `## Guidance chosen on the validation identities\n\nOne sample per image of the ${s.identities} validation identities at every setting, ` +
        `scored by the judge (${s.judge}); f's figures are what the guidance climbs. Rank-1 is against the centres of ` +
        `the condition photos; person rank-1 against those of each identity's other photos, which a sample does not ` +
        `reach by copying its condition photo (the condition photos themselves score ${score3(s.realPersonRank1)}; ` +
        `chance ${(1 / s.identities).toFixed(3)}). Chosen: **γ ${s.chosen.guidanceScale}` +
        `${s.chosen.guidanceScale ? `, ${s.chosen.gradientMode}` : ''}** (the largest judge person rank-1, ties to the smaller γ). ` +
        `The test identities were not read.\n\n` +
        markdownTable(
          ['γ', 'mode', 'judge person rank-1', 'judge rank-1', 'judge cos', 'f rank-1 (optimised)', 'f cos (optimised)', 'yaw error °'],
          s.rows.map((r) => ({
            γ: r.guidanceScale,
            mode: r.gradientMode,
            'judge person rank-1': score3(r.judgePersonRank1),
            'judge rank-1': r.judgeRank1.toFixed(3),
            'judge cos': r.judgeCosine.toFixed(3),
            'f rank-1 (optimised)': r.fRank1.toFixed(3),
            'f cos (optimised)': r.fCosine.toFixed(3),
            'yaw error °': r.yawError === null ? '–' : r.yawError.toFixed(1),
          })),
        ),
    },
  ],

  async run({ config, runDir, dir, session, signal, reporter }) {
    const g = choiceOf(config);
    const judge = judgeSpec(config, runDir);
    if (!judge) throw new Error('guidance: expected a judge: γ is chosen by an encoder that the guidance does not climb');
    const outputs = outputsOf(runDir);
    const rows: GuidanceRow[] = [];
    let identities = 0;
    let realPersonRank1: number | null = null;
    for (const { guidanceScale, gradientMode } of settings(g)) {
      const label = guidanceScale === 0 ? 'g0' : `g${guidanceScale}-${gradientMode}`;
      const result = await measureIdentityPreservation(
        session,
        {
          trainDir: outputs.train.folder,
          manifest: outputs.prepare.manifest,
          split: 'val',
          perIdentity: 1,
          sampler: { ...samplerArgs(config.diffusion!.sampler), guidanceScale, gradientMode },
          seed: g.seed,
          batchSize: config.diffusion!.sampler.batchSize,
          attributeRegressor: config.dataset.kind === 'parametric' && config.generate ? outputs.attributes.folder : null,
          judges: { judge: judge.spec },
          outDir: path.join(dir, 'val', label),
          device: config.device,
        },
        {
          onProgress: (p) => reporter.progress('guidance', { ...p, label: `guidance ${label}` }),
          signal,
          eventsPath: path.join(dir, 'events.jsonl'),
        },
      );
      identities = result.identities;
      const { f, judge: j } = result.identity;
      realPersonRank1 = finiteOrNull(j!.realPersonRank1);
      rows.push({
        guidanceScale,
        gradientMode: guidanceScale === 0 ? 'none' : gradientMode,
        judgeRank1: j!.rank1,
        judgePersonRank1: finiteOrNull(j!.personRank1),
        judgeCosine: j!.identityCosine,
        fRank1: f!.rank1,
        fCosine: f!.identityCosine,
        yawError: result.attributeError?.samples.yaw ?? null,
        seconds: result.samplingSeconds,
      });
    }
    const best = chooseGuidance(rows);
    const chosen = {
      guidanceScale: best.guidanceScale,
      gradientMode: best.gradientMode === 'none' ? ('detached' as const) : best.gradientMode,
    };
    const choice = path.join(dir, 'choice.json');
    writeFileAtomic(path.join(dir, 'choice.csv'), stringify(rows, { header: true }));
    const summary = { split: 'val' as const, identities, judge: judge.name, realPersonRank1, rows, chosen };
    writeFileAtomic(choice, JSON.stringify(summary, null, 2));
    return { ...summary, choice: path.relative(runDir, choice) };
  },
};
