/**
 * `id3 verify`: the 10-fold face-verification protocol on pair embeddings (`--embeddings`), or on
 * a pair set embedded by a model (`--pairs` + `--model`); one row per run in a results CSV.
 */
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PythonSession } from '../bridge/session.ts';
import type { VerificationResult } from '../evaluation/verification.ts';
import { action } from './fail.ts';

export const RESULTS_COLUMNS = ['time', 'model', 'dataset', 'protocol', 'pairs', 'accuracy', 'std', 'threshold', 'tar@1e-3', 'tar@1e-4'] as const;

interface VerifyOptions {
  embeddings?: string;
  pairs?: string;
  model?: string;
  backbone?: string;
  manifest?: string;
  json?: boolean;
  results: string;
  name?: string;
}

/** A results file that already exists must have our columns, so rows never land under another header. */
function resultsFileHasHeader(file: string): boolean {
  if (!existsSync(file)) return false;
  const firstLine = readFileSync(file, 'utf8').split(/\r?\n/, 1)[0] ?? '';
  if (firstLine === '') return false;
  const expected = stringify([RESULTS_COLUMNS as unknown as string[]]).trimEnd();
  if (firstLine !== expected) throw new Error(`${file}: its header is "${firstLine}"; expected "${expected}" (choose another file with --results)`);
  return true;
}

/** The model a row is about: the --model path, or the embeddings file when there is no model. */
function modelLabel(opts: VerifyOptions): string {
  return path.resolve(opts.model ?? opts.embeddings!);
}

/** Exactly one way to get pair embeddings, every file in place: checked before Python starts. */
function checkInputs(opts: VerifyOptions): void {
  const byModel = opts.pairs !== undefined || opts.model !== undefined;
  if ((opts.embeddings !== undefined) === byModel) {
    throw new Error('give either --embeddings <file.npz>, or --pairs <.bin|pairs.csv> with --model <train-fr folder|checkpoint>');
  }
  if (byModel && (opts.pairs === undefined || opts.model === undefined)) throw new Error('--pairs and --model go together');
  if (opts.pairs?.endsWith('.csv') && opts.manifest === undefined) throw new Error(`${opts.pairs}: a pairs.csv names manifest rows: give --manifest`);
  for (const file of [opts.embeddings, opts.pairs, opts.model, opts.manifest]) {
    if (file !== undefined && !existsSync(file)) throw new Error(`${file}: no such file`);
  }
}

function resultsRow(result: VerificationResult, opts: VerifyOptions): Record<(typeof RESULTS_COLUMNS)[number], string | number> {
  const fraction = (x: number) => (Number.isFinite(x) ? x.toFixed(6) : 'NaN');
  return {
    time: new Date().toISOString(),
    model: opts.name ?? path.basename(modelLabel(opts), path.extname(modelLabel(opts))),
    dataset: (opts.pairs ?? opts.embeddings)!,
    protocol: result.protocol,
    pairs: result.pairs,
    accuracy: fraction(result.accuracy),
    std: fraction(result.std),
    threshold: result.threshold.toFixed(4),
    'tar@1e-3': fraction(result.tarAtFar['1e-3']),
    'tar@1e-4': fraction(result.tarAtFar['1e-4']),
  };
}

function printResult(result: VerificationResult, opts: VerifyOptions): void {
  const percent = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');
  const line = (label: string, value: string) => console.log(`${label.padEnd(11)}${value}`);
  line('pairs', `${result.pairs} (${opts.pairs ?? opts.embeddings})${opts.model ? ` embedded by ${opts.model}` : ''}`);
  line('accuracy', `${percent(result.accuracy)} ± ${percent(result.std)} (${result.protocol})`);
  line('threshold', `${result.threshold.toFixed(3)} (mean over the 10 folds)`);
  line('TAR@FAR', `1e-3: ${percent(result.tarAtFar['1e-3'])}, 1e-4: ${percent(result.tarAtFar['1e-4'])}`);
  line('results', `appended to ${opts.results}`);
}

export function makeVerifyCommand(): Command {
  return new Command('verify')
    .description('face verification on pair embeddings: 10-fold accuracy ± std, threshold, TAR@FAR; appends to a results CSV')
    .option('--embeddings <file>', '.npz with e1, e2 (N×D float pair embeddings, flip-summed) and same (N flags)')
    .option('--pairs <file>', 'a verification .bin (lfw, cfp_fp, agedb_30, ...) or a pairs.csv (fold,a,b,same) of --manifest rows')
    .option('--model <path>', 'a train-fr folder (encoder.json), or a backbone checkpoint (.pth, .safetensors) with --backbone')
    .option('--backbone <name>', 'architecture of a checkpoint file: iresnet18|34|50|100 (112 px input)')
    .option('--manifest <file>', 'the manifest whose rows a pairs.csv names')
    .option('--json', 'print the result as JSON')
    .option('--results <file>', 'results CSV to append one row to', 'verification.csv')
    .option('--name <label>', 'model name for the results row (default: the embeddings file name)')
    .action(
      action(async (opts: VerifyOptions) => {
        checkInputs(opts);
        const hasHeader = resultsFileHasHeader(opts.results);
        const session = await PythonSession.start();
        let result: VerificationResult;
        try {
          result = opts.embeddings
            ? await session.call<VerificationResult>('evaluation.verify_embeddings', { path: path.resolve(opts.embeddings) })
            : await session.call<VerificationResult>('evaluation.verify_model', {
                pairs: path.resolve(opts.pairs!),
                model: path.resolve(opts.model!),
                backbone: opts.backbone ?? null,
                manifest: opts.manifest ? path.resolve(opts.manifest) : null,
              });
        } finally {
          await session.close();
        }
        appendFileSync(opts.results, stringify([resultsRow(result, opts)], { header: !hasHeader, columns: [...RESULTS_COLUMNS] }));
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else printResult(result, opts);
      }),
    );
}
