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
import { expandVariants, patchPaths, valueAtPath } from '../config/variants.ts';
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
  /** The columns of `rows`, in order: variant, swept fields, metrics. */
  columns: string[];
  runs: Record<string, RunResult>;
  /** Rows: every model the variants evaluated; columns: pair sets (sweepVerificationTable). */
  verification: { columns: string[]; rows: Record<string, Cell>[] } | null;
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

/** Run `variants` of `base` (a config object, resolved or not; by default its own `variants`) and
 *  tabulate them in `<runsDir>/<base name>/`. */
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
  const variantRuns: Record<string, VariantRun> = {};
  const rows: SweepRow[] = [];
  for (const { variant, config: variantConfig } of expanded) {
    options.reporter?.info(`variant ${variant} (run ${variantConfig.name})`);
    const result = await runPipeline(variantConfig, options);
    runs[variant] = result;
    variantRuns[variant] = { config: variantConfig, run: result };
    const fields = Object.fromEntries(swept.map((field) => [field, cell(valueAtPath(variantConfig, field))]));
    rows.push({ variant, ...fields, ...runMetrics(result) });
  }
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const dir = path.resolve(config.runsDir, config.name);
  const csv = path.join(dir, 'sweep.csv');
  const markdown = path.join(dir, 'sweep.md');
  writeFileAtomic(csv, stringify(rows, { header: true, columns }));
  const verification = sweepVerificationTable(variantRuns);
  const verificationMarkdown = verification
    ? `\n## Verification accuracy (%)\n\n${markdownTable(verification.columns, verification.rows)}`
    : '';
  writeFileAtomic(markdown, `# Sweep ${config.name}\n\n${markdownTable(columns, rows)}${verificationMarkdown}`);
  return { rows, columns, runs, verification, csv, markdown };
}

/**
 * The sweep's verification table as papers print it, a row per training set: a model whose row is the
 * same in every variant (the encoder stage's, trained on the real faces; raw pixels) once, and each
 * variant's train-fr model, trained on that variant's data, as `<model> on <variant>`.
 */
export function sweepVerificationTable(variants: Record<string, VariantRun>): SweepResult['verification'] {
  const rows: VerificationRow[] = [];
  for (const [variant, { config, run }] of Object.entries(variants)) {
    const summary = run.stages.evaluate?.record.summary as EvaluateSummary | undefined;
    const trainFr = config.trainFr ? trainFrModelName(config.trainFr.backbone) : null;
    for (const row of summary?.rows ?? []) {
      const model = row.model === trainFr ? `${row.model} on ${variant}` : row.model;
      if (!rows.some((r) => r.model === model && r.benchmark === row.benchmark)) rows.push({ ...row, model });
    }
  }
  return rows.length > 0 ? paperTable(rows) : null;
}

function cell(value: unknown): Cell {
  if (value === null || value === undefined || ['string', 'number', 'boolean'].includes(typeof value)) return value as Cell;
  return JSON.stringify(value);
}
