/**
 * evaluate: verification accuracy of the trained encoder on held-out identities (the field's
 * 10-fold protocol), beside the raw-pixel baseline on the same pairs; written as a CSV table.
 */
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { runJob } from '../../bridge/jobs.ts';
import type { Id3Config } from '../../config/schema.ts';
import type { VerificationResult } from '../../evaluation/verification.ts';
import { writeFileAtomic } from '../../util/files.ts';
import type { Stage, StageContext } from '../stage.ts';

/** One model's verification result on the stage's pairs. */
export type VerificationRow = VerificationResult & { model: string };

export interface EvaluateSummary {
  rows: VerificationRow[];
  identities: number;
  images: number;
  /** Relative to the run folder. */
  table: string;
  pairsFile: string;
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

export const evaluateStage: Stage<EvaluateSummary> = {
  name: 'evaluate',
  version: 1,
  after: ['prepare', 'train-fr'],
  enabled: (config: Id3Config) => config.trainFr !== undefined,
  slice: (config) => {
    const { batchSize: _batchSize, ...evaluate } = config.evaluate;
    return evaluate;
  },
  describe: ({ evaluate: e }) => `${e.pairs} pairs of ${e.split} identities${e.pixelBaseline ? ', and the raw-pixel baseline' : ''}`,
  summarize: (s) => s.rows.map((r) => `${r.model} ${percent(r.accuracy)} ± ${percent(r.std)}`).join('; '),
  metrics: (s) => Object.fromEntries(s.rows.map((r) => [`accuracy ${r.model}`, r.accuracy])),

  async run({ config, runDir, dir, session, reporter, signal }: StageContext): Promise<EvaluateSummary> {
    const e = config.evaluate;
    const result = await runJob<{ rows: VerificationRow[]; identities: number; images: number; pairs: number }>(
      session,
      'evaluate.parametric',
      {
        manifest: path.join(runDir, 'prepare', 'manifest.csv'),
        splits: [e.split],
        encoderDir: path.join(runDir, 'train-fr'),
        encoderName: `${config.trainFr!.backbone} (train-fr)`,
        pairs: e.pairs,
        seed: e.seed,
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
        { header: true, columns: ['model', 'pairs', 'accuracy', 'std', 'threshold', 'tarAt1e3', 'tarAt1e4'] },
      ),
    );
    return { ...result, table: path.relative(runDir, table), pairsFile: path.relative(runDir, path.join(dir, 'pairs.csv')) };
  },
};
