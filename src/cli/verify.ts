/**
 * `id3 verify`: the 10-fold face-verification protocol on pair embeddings (`--embeddings`), or on
 * a pair set embedded by a model (`--pairs` + `--model`); or IJB-B/C 1:1 template verification of a
 * model (`--ijb` + `--model`, TAR at FAR 1e-6 … 1e-1). One row per run in a results CSV.
 */
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runJob } from '../bridge/jobs.ts';
import { PythonSession } from '../bridge/session.ts';
import { IJB_FARS, type IjbResult } from '../evaluation/ijb.ts';
import type { VerificationResult } from '../evaluation/verification.ts';
import { createReporter } from '../ui/reporter.ts';
import { action } from './fail.ts';
import { verifyIjbJob } from '../jobs/evaluate.ts';

export const RESULTS_COLUMNS = [
  'time',
  'model',
  'dataset',
  'protocol',
  'pairs',
  'accuracy',
  'std',
  'threshold',
  'tar@1e-3',
  'tar@1e-4',
] as const;
export const IJB_RESULTS_COLUMNS = [
  'time',
  'model',
  'dataset',
  'protocol',
  'templates',
  'pairs',
  ...IJB_FARS.map((far) => `tar@${far}`),
  'auc',
];

interface VerifyOptions {
  embeddings?: string;
  pairs?: string;
  ijb?: string;
  detectorScore: boolean;
  normScore: boolean;
  workers: string;
  model?: string;
  backbone?: string;
  manifest?: string;
  json?: boolean;
  results?: string;
  name?: string;
}

/** A results file that already exists must have our columns, so rows never land under another header. */
function resultsFileHasHeader(file: string, columns: readonly string[]): boolean {
  if (!existsSync(file)) return false;
  const firstLine = readFileSync(file, 'utf8').split(/\r?\n/, 1)[0] ?? '';
  if (firstLine === '') return false;
  const expected = stringify([[...columns]]).trimEnd();
  if (firstLine !== expected)
    throw new Error(`${file}: its header is "${firstLine}"; expected "${expected}" (choose another file with --results)`);
  return true;
}

/** The model a row is about: the --model path, or the embeddings file when there is no model. */
function modelLabel(opts: VerifyOptions): string {
  return path.resolve(opts.model ?? opts.embeddings!);
}

/** Exactly one way to get pairs, every file in place: checked before Python starts. */
function checkInputs(opts: VerifyOptions): void {
  const sources = [opts.embeddings, opts.pairs, opts.ijb].filter((x) => x !== undefined);
  if (sources.length !== 1) {
    throw new Error(
      'give one of --embeddings <file.npz>, --pairs <.bin|pairs.csv> with --model <train-fr folder|checkpoint>, or --ijb <IJB-B/C folder> with --model',
    );
  }
  if (opts.embeddings === undefined && opts.model === undefined)
    throw new Error(`${opts.pairs ? '--pairs' : '--ijb'} and --model go together`);
  if (opts.embeddings !== undefined && opts.model !== undefined)
    throw new Error('--embeddings are already embedded: --model goes with --pairs or --ijb');
  if (opts.pairs?.endsWith('.csv') && opts.manifest === undefined)
    throw new Error(`${opts.pairs}: a pairs.csv names manifest rows: give --manifest`);
  if (!/^\d+$/.test(opts.workers)) throw new Error(`--workers: expected a whole number of processes, got "${opts.workers}"`);
  for (const file of [opts.embeddings, opts.pairs, opts.ijb, opts.model, opts.manifest]) {
    if (file !== undefined && !existsSync(file)) throw new Error(`${file}: no such file`);
  }
}

/** The results file: --results, or one per protocol (their columns differ). */
const resultsFile = (opts: VerifyOptions) => opts.results ?? (opts.ijb ? 'verification-ijb.csv' : 'verification.csv');

const fraction = (x: number) => (Number.isFinite(x) ? x.toFixed(6) : 'NaN');
const percent = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');
const rowName = (opts: VerifyOptions) => opts.name ?? path.basename(modelLabel(opts), path.extname(modelLabel(opts)));

function resultsRow(result: VerificationResult, opts: VerifyOptions): Record<(typeof RESULTS_COLUMNS)[number], string | number> {
  return {
    time: new Date().toISOString(),
    model: rowName(opts),
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

function ijbResultsRow(result: IjbResult, opts: VerifyOptions): Record<string, string | number> {
  return {
    time: new Date().toISOString(),
    model: rowName(opts),
    dataset: opts.ijb!,
    protocol: result.protocol,
    templates: result.templates,
    pairs: result.pairs,
    ...Object.fromEntries(IJB_FARS.map((far) => [`tar@${far}`, fraction(result.tarAtFar[far])])),
    auc: fraction(result.auc),
  };
}

const line = (label: string, value: string) => console.log(`${label.padEnd(11)}${value}`);

function printIjbResult(result: IjbResult, opts: VerifyOptions): void {
  line('templates', `${result.templates} in ${result.pairs} pairs (${opts.ijb}) embedded by ${opts.model}`);
  line('protocol', result.protocol);
  line('TAR@FAR', IJB_FARS.map((far) => `${far}: ${percent(result.tarAtFar[far])}`).join(', '));
  line('AUC', percent(result.auc));
  line('results', `appended to ${resultsFile(opts)}`);
}

function printResult(result: VerificationResult, opts: VerifyOptions): void {
  line('pairs', `${result.pairs} (${opts.pairs ?? opts.embeddings})${opts.model ? ` embedded by ${opts.model}` : ''}`);
  line('accuracy', `${percent(result.accuracy)} ± ${percent(result.std)} (${result.protocol})`);
  line('threshold', `${result.threshold.toFixed(3)} (mean over the 10 folds)`);
  line('TAR@FAR', `1e-3: ${percent(result.tarAtFar['1e-3'])}, 1e-4: ${percent(result.tarAtFar['1e-4'])}`);
  line('results', `appended to ${resultsFile(opts)}`);
}

export function makeVerifyCommand(): Command {
  return new Command('verify')
    .description(
      'face verification: 10-fold accuracy ± std, threshold, TAR@FAR on pairs; or IJB-B/C TAR@FAR on templates; appends to a results CSV',
    )
    .option('--embeddings <file>', '.npz with e1, e2 (N×D float pair embeddings, flip-summed) and same (N flags)')
    .option('--pairs <file>', 'a verification .bin (lfw, cfp_fp, agedb_30, ...) or a pairs.csv (fold,a,b,same) of --manifest rows')
    .option('--ijb <folder>', 'an IJB-B or IJB-C release folder (loose_crop/, meta/) for 1:1 template verification with --model')
    .option('--no-detector-score', 'IJB: do not weight images by their detector score')
    .option('--no-norm-score', 'IJB: normalise image features before pooling (insightface keeps their norm)')
    .option('--workers <n>', 'IJB: processes reading and aligning photos', '0')
    .option('--model <path>', 'a train-fr folder (encoder.json), or a backbone checkpoint (.pth, .safetensors) with --backbone')
    .option('--backbone <name>', 'architecture of a checkpoint file: iresnet18|34|50|100 (112 px input)')
    .option('--manifest <file>', 'the manifest whose rows a pairs.csv names')
    .option('--json', 'print the result as JSON')
    .option('--results <file>', 'results CSV to append one row to (default: verification.csv; with --ijb, verification-ijb.csv)')
    .option('--name <label>', 'model name for the results row (default: the embeddings file name)')
    .action(
      action(async (opts: VerifyOptions) => {
        checkInputs(opts);
        if (opts.ijb) return verifyIjb(opts);
        const hasHeader = resultsFileHasHeader(resultsFile(opts), RESULTS_COLUMNS);
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
        appendFileSync(resultsFile(opts), stringify([resultsRow(result, opts)], { header: !hasHeader, columns: [...RESULTS_COLUMNS] }));
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else printResult(result, opts);
      }),
    );
}

async function verifyIjb(opts: VerifyOptions): Promise<void> {
  const hasHeader = resultsFileHasHeader(resultsFile(opts), IJB_RESULTS_COLUMNS);
  const reporter = createReporter(opts.json ? 'quiet' : 'bars');
  const session = await PythonSession.start();
  let result: IjbResult;
  try {
    const args = {
      folder: path.resolve(opts.ijb!),
      model: path.resolve(opts.model!),
      backbone: opts.backbone ?? null,
      workers: Number(opts.workers),
      detectorScore: opts.detectorScore,
      normScore: opts.normScore,
    };
    result = await runJob(session, verifyIjbJob, args, { onProgress: (p) => reporter.progress('verify', p) });
  } finally {
    reporter.close();
    await session.close();
  }
  appendFileSync(resultsFile(opts), stringify([ijbResultsRow(result, opts)], { header: !hasHeader, columns: IJB_RESULTS_COLUMNS }));
  if (opts.json) console.log(JSON.stringify(result, null, 2));
  else printIjbResult(result, opts);
}
