/**
 * evaluate: verification accuracy of every face-recognition model the run trains (the encoder
 * stage's, trained on real faces; train-fr's) with the field's 10-fold protocol, on pairs of the
 * prepared set's held-out identities and on `.bin` benchmarks, each beside the raw-pixel baseline
 * on the same pairs. Written as a CSV of every (model, pair set) and as the table papers print:
 * a row per model, a column per pair set, and their average. IJB-B/C folders add the 1:1 template
 * protocol's TAR at FAR 1e-6 … 1e-1 for each model (ijb.csv, its own table and ROC plot).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { runJob } from '../../bridge/jobs.ts';
import type { Benchmark, Id3Config, IjbBenchmark } from '../../config/schema.ts';
import { IJB_FARS, ijbTable, type IjbResult } from '../../evaluation/ijb.ts';
import type { VerificationResult } from '../../evaluation/verification.ts';
import { markdownTable } from '../../report/markdown.ts';
import { writeFileAtomic } from '../../util/files.ts';
import type { Stage, StageContext } from '../stage.ts';
import { outputsOf } from './outputs-of.ts';
import { evaluateJob } from '../../jobs/evaluate.ts';

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

/** One model's IJB-B/C 1:1 result. */
export type IjbRow = IjbResult & { model: string; benchmark: string };

export interface EvaluateSummary {
  rows: VerificationRow[];
  sets: PairSetInfo[];
  ijb: IjbRow[];
  /** IJB folders left out because they are not there (`whenMissing: 'skip'`), with the path looked for. */
  ijbMissing: { name: string; folder: string }[];
  /** Relative to the run folder; null without IJB rows. */
  ijbTable: string | null;
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
    models.push({
      name: `${config.encoder.recipe.backbone} (encoder)`,
      encoder: { kind: 'folder', path: outputsOf(runDir).encoder.folder },
    });
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

/** The release files that define an IJB benchmark (evaluation/ijb.py). */
const IJB_META = ['template_pair_label', 'face_tid_mid', 'name_5pts_score'];

/** The IJB folders the run evaluates: those present; an absent one is an error unless it may be skipped. */
export function presentIjb(list: readonly IjbBenchmark[]): { present: IjbBenchmark[]; missing: IjbBenchmark[] } {
  const missing = list.filter((b) => !existsSync(b.folder));
  const required = missing.find((b) => b.whenMissing === 'error');
  if (required)
    throw new Error(`evaluate.ijb: ${required.name}: ${path.resolve(required.folder)} not found (whenMissing: 'skip' leaves it out)`);
  return { present: list.filter((b) => !missing.includes(b)), missing };
}

/** An IJB folder in a cache key: its meta files' sizes and modification times (the photos are many). */
function ijbKey(b: IjbBenchmark): object {
  const folder = path.resolve(b.folder);
  const prefix = ['ijbb', 'ijbc'].find((p) => existsSync(path.join(folder, 'meta', `${p}_template_pair_label.txt`)));
  if (prefix === undefined)
    throw new Error(`evaluate.ijb: ${b.name}: ${folder} holds no meta/ijbb_template_pair_label.txt or meta/ijbc_template_pair_label.txt`);
  const files = IJB_META.map((kind) => {
    const file = path.join(folder, 'meta', `${prefix}_${kind}.txt`);
    try {
      const { size, mtimeMs } = statSync(file);
      return { file, size, mtimeMs };
    } catch {
      throw new Error(`evaluate.ijb: ${b.name}: cannot read ${file}`);
    }
  });
  return { ...b, folder, files };
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
  // 3: one embedding path with `id3 verify` (raw embeddings flip-summed, then normalised once); 4: IJB-B/C
  version: 4,
  after: ['prepare', 'encoder', 'train-fr'],
  enabled: (config: Id3Config) =>
    modelsOf(config, '').length > 0 &&
    (config.evaluate.split !== null || config.evaluate.benchmarks.length > 0 || config.evaluate.ijb.length > 0),
  slice: (config) => {
    const { batchSize: _batchSize, workers: _workers, benchmarks, ijb, ...evaluate } = config.evaluate;
    const { present, missing } = presentIjb(ijb);
    return {
      ...evaluate,
      benchmarks: benchmarks.map(benchmarkKey),
      // An absent folder is in the key too: when it appears, the stage runs again.
      ijb: [...present.map(ijbKey), ...missing.map((b) => ({ name: b.name, absent: path.resolve(b.folder) }))],
      models: modelsOf(config, '').map((m) => m.name),
    };
  },
  describe: ({ evaluate: e }) =>
    [e.split ? `${e.pairs} pairs of ${e.split} identities` : null, ...e.benchmarks.map((b) => b.name), ...e.ijb.map((b) => b.name)]
      .filter(Boolean)
      .join(', ') + (e.pixelBaseline ? ', beside raw pixels' : ''),
  summarize: (s) =>
    [
      ...s.rows.filter((r) => r.model !== PIXELS).map((r) => `${r.model} on ${r.benchmark} ${percent(r.accuracy)} ± ${percent(r.std)}`),
      ...s.ijb.map((r) => `${r.model} on ${r.benchmark} TAR@1e-4 ${percent(r.tarAtFar['1e-4'])}`),
      ...s.ijbMissing.map((m) => `${m.name} skipped (${m.folder} not found)`),
    ].join('; '),
  outputLines: (s, here) => {
    const heldOut = s.sets.find((set) => set.name === HELD_OUT);
    const sets = s.sets.map((set) =>
      set === heldOut ? `${set.name}: ${set.pairs} pairs of ${set.identities} identities` : `${set.name}: ${set.pairs} pairs`,
    );
    const table = paperTable(s.rows);
    const ijb = ijbTable(s.ijb);
    return [
      ...(s.rows.length
        ? [`\nverification accuracy, % (${sets.join('; ')}; ${here(s.table)}):\n`, markdownTable(table.columns, table.rows)]
        : []),
      ...(s.ijbTable ? [`\nIJB 1:1 verification, TAR % at FAR (${here(s.ijbTable)}):\n`, markdownTable(ijb.columns, ijb.rows)] : []),
      ...s.ijbMissing.map((m) => `${m.name}: skipped, ${m.folder} not found`),
    ];
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
    const sets = s.sets
      .map((set) => `${set.name}: ${set.pairs} pairs${set.identities ? ` of ${set.identities} identities` : ''}`)
      .join('; ');
    const image = (p: { title: string; path: string }) => `![${p.title}](${path.basename(p.path)})`;
    const sections = [];
    if (s.rows.length) {
      sections.push({
        markdown:
          `## Verification\n\nAccuracy (%) with the 10-fold protocol (${sets}); every figure in [verification.csv](../${s.table}).\n\n` +
          `${markdownTable(table.columns, table.rows)}\n${plots.map(image).join(' ')}\n`,
        plots,
      });
    }
    if (s.ijb.length || s.ijbMissing.length) {
      const ijbPlots = [...new Set(s.ijb.map((r) => r.benchmark))].map((name) => {
        const rows = s.ijb.filter((r) => r.benchmark === name);
        return {
          kind: 'lines' as const,
          path: path.join(reportDir, `roc-${name}.png`),
          title: `ROC: ${name} (${rows[0]!.templates} templates, ${rows[0]!.pairs} pairs)`,
          xlabel: 'false accept rate',
          ylabel: 'true accept rate',
          logx: true,
          series: rows.map((r) => ({ label: r.model, x: r.roc.far, y: r.roc.tar })),
        };
      });
      const ijb = ijbTable(s.ijb);
      const missing = s.ijbMissing.map((m) => `\n${m.name}: not evaluated, ${m.folder} not found.\n`).join('');
      sections.push({
        markdown:
          `## IJB 1:1 verification\n\nTAR (%) at FAR, templates pooled from media (insightface's protocol; ${s.ijb[0]?.protocol ?? ''})` +
          (s.ijbTable
            ? `; every figure in [ijb.csv](../${s.ijbTable}).\n\n${markdownTable(ijb.columns, ijb.rows)}\n${ijbPlots.map(image).join(' ')}\n`
            : '.\n') +
          missing,
        plots: ijbPlots,
      });
    }
    return sections;
  },
  metrics: (s) =>
    Object.fromEntries([
      ...s.rows.map((r) => [`${r.benchmark} ${r.model}`, r.accuracy]),
      ...s.ijb.flatMap((r) => IJB_FARS.map((far) => [`${r.benchmark} ${r.model} TAR@${far}`, r.tarAtFar[far]])),
    ]),

  async run({ config, runDir, dir, session, reporter, signal }: StageContext): Promise<EvaluateSummary> {
    const e = config.evaluate;
    const { present, missing } = presentIjb(e.ijb);
    const result = await runJob(
      session,
      evaluateJob,
      {
        models: modelsOf(config, runDir),
        heldOut: e.split
          ? { name: HELD_OUT, manifest: outputsOf(runDir).prepare.manifest, splits: [e.split], pairs: e.pairs, seed: e.seed }
          : null,
        benchmarks: e.benchmarks.map((b) => ({ name: b.name, path: path.resolve(b.path) })),
        ijb: present.map((b) => ({ name: b.name, folder: path.resolve(b.folder), detectorScore: b.detectorScore, normScore: b.normScore })),
        workers: e.workers,
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
    const ijbFile = path.join(dir, 'ijb.csv');
    if (result.ijb.length) {
      const rows = result.ijb.map((r) => ({
        model: r.model,
        benchmark: r.benchmark,
        templates: r.templates,
        pairs: r.pairs,
        ...Object.fromEntries(IJB_FARS.map((far) => [`tar@${far}`, r.tarAtFar[far]])),
        auc: r.auc,
      }));
      writeFileAtomic(ijbFile, stringify(rows, { header: true }));
    }
    const relative = (p: string) => path.relative(runDir, p);
    return {
      ...result,
      ijbMissing: missing.map((b) => ({ name: b.name, folder: path.resolve(b.folder) })),
      ijbTable: result.ijb.length ? relative(ijbFile) : null,
      table: relative(table),
      paperTable: relative(paperFile),
      pairsFile: e.split ? relative(path.join(dir, 'pairs.csv')) : null,
    };
  },
};
