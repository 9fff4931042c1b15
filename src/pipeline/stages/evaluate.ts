/**
 * evaluate: verification accuracy of every face-recognition model the run trains (the encoder
 * stage's, trained on real faces; train-fr's) with the field's 10-fold protocol, on pairs of the
 * prepared set's held-out identities and on `.bin` benchmarks, each beside the raw-pixel baseline
 * on the same pairs. Written as a CSV of every (model, pair set) and as the table papers print:
 * a row per model, a column per pair set, and their average.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { runJob } from '../../bridge/jobs.ts';
import type { Benchmark, Id3Config } from '../../config/schema.ts';
import type { VerificationResult } from '../../evaluation/verification.ts';
import { markdownTable } from '../../report/markdown.ts';
import { writeFileAtomic } from '../../util/files.ts';
import type { Stage, StageContext } from '../stage.ts';
import { outputsOf } from './outputs-of.ts';

/** The pair set drawn from the prepared set's held-out identities. */
export const HELD_OUT = 'held-out';
/** The baseline's row (python/id3_torch/evaluation/evaluate.py `PIXELS`). */
export const PIXELS = 'raw pixels (cosine)';

/** One model's verification result on one pair set. */
export type VerificationRow = VerificationResult & { model: string; benchmark: string };

export interface PairSetInfo {
  name: string;
  images: number;
  pairs: number;
  identities: number | null;
}

export interface EvaluateSummary {
  rows: VerificationRow[];
  sets: PairSetInfo[];
  /** Relative to the run folder. */
  table: string;
  paperTable: string;
  pairsFile: string | null;
}

/** The row of the train-fr stage's model: trained on the run's training set (synthetic, when generated). */
export const trainFrModelName = (backbone: string) => `${backbone} (train-fr)`;

interface EvaluatedModel {
  name: string;
  /** For python/id3_torch/encoders load_identity_encoder. */
  encoder: { kind: 'folder'; path: string };
}

/** The run's face-recognition models, by the stage that trains them. */
function modelsOf(config: Id3Config, runDir: string): EvaluatedModel[] {
  const models: EvaluatedModel[] = [];
  if (config.encoder?.kind === 'train') {
    models.push({ name: `${config.encoder.recipe.backbone} (encoder)`, encoder: { kind: 'folder', path: outputsOf(runDir).encoder.folder } });
  }
  if (config.trainFr) {
    models.push({ name: trainFrModelName(config.trainFr.backbone), encoder: { kind: 'folder', path: outputsOf(runDir).trainFr.folder } });
  }
  return models;
}

/** A benchmark file in a cache key: its path, size and modification time (hashing gigabytes at
 *  every plan would cost more than it protects). */
function benchmarkKey(b: Benchmark): object {
  const file = path.resolve(b.path);
  try {
    const { size, mtimeMs } = statSync(file);
    return { name: b.name, file, size, mtimeMs };
  } catch {
    throw new Error(`evaluate.benchmarks: ${b.name}: cannot read ${file}`);
  }
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Rows: models; columns: pair sets and their average accuracy (%), as papers print them. */
export function paperTable(rows: readonly VerificationRow[]): { columns: string[]; rows: Record<string, string | number>[] } {
  const sets = [...new Set(rows.map((r) => r.benchmark))];
  const models = [...new Set(rows.map((r) => r.model))];
  const table = models.map((model) => {
    const accuracy = sets.map((set) => rows.find((r) => r.model === model && r.benchmark === set)?.accuracy ?? NaN);
    const row: Record<string, string | number> = { model };
    sets.forEach((set, i) => (row[set] = Number((100 * accuracy[i]!).toFixed(2))));
    if (sets.length > 1) row.avg = Number(((100 * accuracy.reduce((a, b) => a + b, 0)) / sets.length).toFixed(2));
    return row;
  });
  return { columns: ['model', ...sets, ...(sets.length > 1 ? ['avg'] : [])], rows: table };
}

export const evaluateStage: Stage<EvaluateSummary> = {
  name: 'evaluate',
  // 3: one embedding path with `id3 verify` (raw embeddings flip-summed, then normalised once)
  version: 3,
  after: ['prepare', 'encoder', 'train-fr'],
  enabled: (config: Id3Config) =>
    modelsOf(config, '').length > 0 && (config.evaluate.split !== null || config.evaluate.benchmarks.length > 0),
  slice: (config) => {
    const { batchSize: _batchSize, benchmarks, ...evaluate } = config.evaluate;
    return { ...evaluate, benchmarks: benchmarks.map(benchmarkKey), models: modelsOf(config, '').map((m) => m.name) };
  },
  describe: ({ evaluate: e }) =>
    [e.split ? `${e.pairs} pairs of ${e.split} identities` : null, ...e.benchmarks.map((b) => b.name)].filter(Boolean).join(', ') +
    (e.pixelBaseline ? ', beside raw pixels' : ''),
  summarize: (s) =>
    s.rows
      .filter((r) => r.model !== PIXELS)
      .map((r) => `${r.model} on ${r.benchmark} ${percent(r.accuracy)} ± ${percent(r.std)}`)
      .join('; '),
  outputLines: (s, here) => {
    const heldOut = s.sets.find((set) => set.name === HELD_OUT);
    const sets = s.sets.map((set) => (set === heldOut ? `${set.name}: ${set.pairs} pairs of ${set.identities} identities` : `${set.name}: ${set.pairs} pairs`));
    const table = paperTable(s.rows);
    return [`\nverification accuracy, % (${sets.join('; ')}; ${here(s.table)}):\n`, markdownTable(table.columns, table.rows)];
  },
  report: (s, { reportDir }) => {
    const table = paperTable(s.rows);
    const plots = s.sets.map((set) => ({
      kind: 'lines' as const,
      path: path.join(reportDir, `roc-${set.name}.png`),
      title: `ROC: ${set.name} (${set.pairs} pairs)`,
      xlabel: 'false accept rate',
      ylabel: 'true accept rate',
      logx: true,
      series: s.rows.filter((r) => r.benchmark === set.name).map((r) => ({ label: r.model, x: r.roc.far, y: r.roc.tar })),
    }));
    const sets = s.sets.map((set) => `${set.name}: ${set.pairs} pairs${set.identities ? ` of ${set.identities} identities` : ''}`).join('; ');
    return [
      {
        markdown:
          `## Verification\n\nAccuracy (%) with the 10-fold protocol (${sets}); every figure in [verification.csv](../${s.table}).\n\n` +
          `${markdownTable(table.columns, table.rows)}\n${plots.map((p) => `![${p.title}](${path.basename(p.path)})`).join(' ')}\n`,
        plots,
      },
    ];
  },
  metrics: (s) => Object.fromEntries(s.rows.map((r) => [`${r.benchmark} ${r.model}`, r.accuracy])),

  async run({ config, runDir, dir, session, reporter, signal }: StageContext): Promise<EvaluateSummary> {
    const e = config.evaluate;
    const result = await runJob<{ rows: VerificationRow[]; sets: PairSetInfo[] }>(
      session,
      'evaluate',
      {
        models: modelsOf(config, runDir),
        heldOut: e.split
          ? { name: HELD_OUT, manifest: outputsOf(runDir).prepare.manifest, splits: [e.split], pairs: e.pairs, seed: e.seed }
          : null,
        benchmarks: e.benchmarks.map((b) => ({ name: b.name, path: path.resolve(b.path) })),
        pixelBaseline: e.pixelBaseline,
        batchSize: e.batchSize,
        outDir: dir,
        device: config.device,
      },
      { onProgress: (p) => reporter.progress('evaluate', p), signal, eventsPath: path.join(dir, 'events.jsonl') },
    );
    const table = path.join(dir, 'verification.csv');
    writeFileAtomic(
      table,
      stringify(
        result.rows.map((r) => ({ ...r, tarAt1e3: r.tarAtFar['1e-3'], tarAt1e4: r.tarAtFar['1e-4'] })),
        { header: true, columns: ['model', 'benchmark', 'pairs', 'accuracy', 'std', 'threshold', 'tarAt1e3', 'tarAt1e4'] },
      ),
    );
    const paper = paperTable(result.rows);
    const paperFile = path.join(dir, 'verification.md');
    writeFileAtomic(paperFile, markdownTable(paper.columns, paper.rows));
    const relative = (p: string) => path.relative(runDir, p);
    return {
      ...result,
      table: relative(table),
      paperTable: relative(paperFile),
      pairsFile: e.split ? relative(path.join(dir, 'pairs.csv')) : null,
    };
  },
};
