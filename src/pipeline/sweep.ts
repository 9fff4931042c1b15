/**
 * Sweeps: a base config and named variants, each run as `<base>-<variant>`. The variants share
 * every stage they have in common through the stage store (a stage of equal key is made once),
 * and one table compares them: a row per variant with the fields the variants set and every
 * metric their stages report, written as CSV (csv-stringify) and markdown.
 */
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { resolveConfig } from '../config/load.ts';
import type { ConfigPatch, Id3Config, Id3ConfigInput } from '../config/schema.ts';
import { applyPatch, expandVariants, patchPaths, valueAtPath } from '../config/variants.ts';
import { markdownTable, type Cell } from '../report/markdown.ts';
import { writeFileAtomic } from '../util/files.ts';
import { runPipeline, type RunOptions, type RunResult } from './runner.ts';
import { paperTable, trainFrModelName, type EvaluateSummary, type VerificationRow } from './stages/evaluate.ts';
import { STAGES } from './stages/index.ts';

export type SweepRow = Record<string, Cell> & { variant: string };

interface VariantRun {
  config: Id3Config;
  run: RunResult;
}

export interface SweepResult {
  rows: SweepRow[];
  /** The columns of `rows`, in order: variant, swept fields, seeds, metrics (with several seeds their
   *  mean, and their standard error in `<metric> ±`). */
  columns: string[];
  /** Each variant's first seed replica (its own config, unchanged). */
  runs: Record<string, RunResult>;
  /** Rows: every model the variants evaluated; columns: pair sets (sweepVerificationTable). */
  verification: { columns: string[]; rows: Record<string, Cell>[] } | null;
  /** With several seeds: each variant's train-fr accuracy against the first's, and whether it is within noise. */
  margins: string[];
  /** Absolute paths of the tables. */
  csv: string;
  markdown: string;
}

/** Every metric the stages of a finished run report (`Stage.metrics`), by column name. */
export function runMetrics(result: RunResult): Record<string, Cell> {
  const metrics: Record<string, Cell> = {};
  for (const stage of STAGES) {
    const summary = result.stages[stage.name]?.record.summary;
    if (summary && stage.metrics) Object.assign(metrics, stage.metrics(summary as never));
  }
  return metrics;
}

/**
 * The patch that makes seed replica k of a run: the seeds of everything after the diffusion model (the
 * anchors, the per-image plan and so each image's sampling seed, train-fr) moved by k. The diffusion
 * model, f and the judge are shared: one per loss setting, as the method's ablations train them.
 */
export function seedPatch(config: Id3Config, k: number): ConfigPatch {
  return {
    ...(config.anchors ? { anchors: { seed: config.anchors.seed + k } } : {}),
    ...(config.generate ? { generate: { seed: config.generate.seed + k } } : {}),
    ...(config.trainFr ? { trainFr: { seed: config.trainFr.seed + k } } : {}),
  };
}

/** Mean and standard error (sd / √n) of numbers; se null for one value. */
export function meanAndError(values: readonly number[]): { mean: number; se: number | null } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, se: null };
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, se: Math.sqrt(variance / values.length) };
}

/** One row from a variant's seed replicas: each numeric metric's mean, and with several seeds its
 *  standard error in a column `<metric> ±`; other cells from the first replica. */
function aggregate(replicas: Record<string, Cell>[]): Record<string, Cell> {
  const row: Record<string, Cell> = {};
  for (const [column, first] of Object.entries(replicas[0]!)) {
    const values = replicas.map((r) => r[column]);
    if (typeof first !== 'number' || !values.every((v): v is number => typeof v === 'number')) {
      row[column] = first;
      continue;
    }
    const { mean, se } = meanAndError(values);
    row[column] = mean;
    if (replicas.length > 1) row[`${column} ±`] = se;
  }
  return row;
}

/** Run `variants` of `base` (a config object, resolved or not; by default its own `variants`), each over
 *  `base.seeds` seed replicas (`seedPatch`), and tabulate them in `<runsDir>/<base name>/`. */
export async function sweep(
  base: Id3ConfigInput | Id3Config,
  variants: Record<string, ConfigPatch> = base.variants ?? {},
  options: RunOptions = {},
): Promise<SweepResult> {
  const config = resolveConfig(base, '(sweep base)');
  if (Object.keys(variants).length === 0) throw new Error('sweep: expected at least one variant');
  const expanded = expandVariants(config, '(sweep)', variants);
  const swept = [...new Set(Object.values(variants).flatMap((patch) => patchPaths(patch)))];
  const runs: Record<string, RunResult> = {};
  const variantRuns: Record<string, VariantRun[]> = {};
  const rows: SweepRow[] = [];
  for (const { variant, config: variantConfig } of expanded) {
    const replicas: Record<string, Cell>[] = [];
    variantRuns[variant] = [];
    for (let k = 0; k < config.seeds; k++) {
      const replica =
        k === 0
          ? variantConfig
          : resolveConfig({ ...applyPatch(variantConfig, seedPatch(variantConfig, k)), name: `${variantConfig.name}-s${k}` }, '(sweep)');
      options.reporter?.info(
        `variant ${variant}${config.seeds > 1 ? `, seed replica ${k + 1} of ${config.seeds}` : ''} (run ${replica.name})`,
      );
      const result = await runPipeline(replica, options);
      if (k === 0) runs[variant] = result;
      variantRuns[variant].push({ config: replica, run: result });
      replicas.push(runMetrics(result));
    }
    const fields = Object.fromEntries(swept.map((field) => [field, cell(valueAtPath(variantConfig, field))]));
    rows.push({ variant, ...fields, ...(config.seeds > 1 ? { seeds: config.seeds } : {}), ...aggregate(replicas) });
  }
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const dir = path.resolve(config.runsDir, config.name);
  const csv = path.join(dir, 'sweep.csv');
  const markdown = path.join(dir, 'sweep.md');
  writeFileAtomic(csv, stringify(rows, { header: true, columns }));
  const verification = sweepVerificationTable(variantRuns);
  const margins = config.trainFr ? accuracyMargins(rows, `held-out ${trainFrModelName(config.trainFr.backbone)}`) : [];
  const verificationMarkdown = verification
    ? `\n## Verification accuracy (%)${config.seeds > 1 ? `, mean over ${config.seeds} seeds` : ''}\n\n${markdownTable(verification.columns, verification.rows)}`
    : '';
  const marginsMarkdown = margins.length ? `\n\n${margins.map((m) => `- ${m}`).join('\n')}\n` : '';
  writeFileAtomic(markdown, `# Sweep ${config.name}\n\n${markdownTable(columns, rows)}${verificationMarkdown}${marginsMarkdown}`);
  return { rows, columns, runs, verification, margins, csv, markdown };
}

/**
 * Each variant's train-fr accuracy against the first variant's: the difference of the means over seeds
 * and its standard error √(se_a² + se_b²), and whether it is within noise (under 2 standard errors).
 * None with one seed: a single run has no error bar to compare against.
 */
export function accuracyMargins(rows: readonly SweepRow[], column: string): string[] {
  const [reference, ...others] = rows;
  if (!reference || typeof reference[`${column} ±`] !== 'number') return [];
  const points = (x: Cell) => 100 * (x as number);
  return others.flatMap((row) => {
    if (typeof row[column] !== 'number' || typeof row[`${column} ±`] !== 'number') return [];
    const difference = points(row[column]) - points(reference[column]);
    const se = Math.hypot(points(row[`${column} ±`]), points(reference[`${column} ±`]));
    const ratio = se > 0 ? Math.abs(difference) / se : Infinity;
    const verdict = ratio < 2 ? 'within noise' : `beyond noise`;
    return [
      `${column}: ${row.variant} − ${reference.variant} = ${difference >= 0 ? '+' : ''}${difference.toFixed(2)} points ± ${se.toFixed(2)} (${ratio.toFixed(1)} s.e.: ${verdict})`,
    ];
  });
}

/**
 * The sweep's verification table as papers print it, a row per training set: a model whose row is the
 * same in every variant (the encoder stage's, trained on the real faces; raw pixels) once, and each
 * variant's train-fr model, trained on that variant's data, as `<model> on <variant>`.
 */
export function sweepVerificationTable(variants: Record<string, VariantRun[]>): SweepResult['verification'] {
  const rows: VerificationRow[] = [];
  for (const [variant, replicas] of Object.entries(variants)) {
    const seen: VerificationRow[][] = [];
    for (const { config, run } of replicas) {
      const summary = run.stages.evaluate?.record.summary as EvaluateSummary | undefined;
      const trainFr = config.trainFr ? trainFrModelName(config.trainFr.backbone) : null;
      (summary?.rows ?? []).forEach((row, i) =>
        (seen[i] ??= []).push({ ...row, model: row.model === trainFr ? `${row.model} on ${variant}` : row.model }),
      );
    }
    for (const same of seen) {
      const row = { ...same[0]!, accuracy: meanAndError(same.map((r) => r.accuracy)).mean }; // the mean over seeds
      if (!rows.some((r) => r.model === row.model && r.benchmark === row.benchmark)) rows.push(row);
    }
  }
  return rows.length > 0 ? paperTable(rows) : null;
}

function cell(value: unknown): Cell {
  if (value === null || value === undefined || ['string', 'number', 'boolean'].includes(typeof value)) return value as Cell;
  return JSON.stringify(value);
}
