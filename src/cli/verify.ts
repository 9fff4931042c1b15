/** `id3 verify`: the 10-fold face-verification protocol on pair embeddings, one row per run in a results CSV. */
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PythonSession } from '../bridge/session.ts';
import { action } from './fail.ts';

/** What `evaluation.verify_embeddings` (python/id3_torch/evaluation/ops.py) returns. */
export interface VerificationResult {
  pairs: number;
  /** Mean of the 10 held-out fold accuracies, a fraction. */
  accuracy: number;
  /** Population standard deviation of the fold accuracies. */
  std: number;
  /** Mean of the 10 chosen thresholds (squared L2). */
  threshold: number;
  /** TAR at the most permissive threshold whose FAR over all different pairs is at most the key; NaN without both kinds of pair. */
  tarAtFar: { '1e-3': number; '1e-4': number };
  folds: { pairs: number; accuracy: number; threshold: number }[];
  protocol: string;
}

export const RESULTS_COLUMNS = ['time', 'model', 'dataset', 'protocol', 'pairs', 'accuracy', 'std', 'threshold', 'tar@1e-3', 'tar@1e-4'] as const;

interface VerifyOptions {
  embeddings: string;
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

function resultsRow(result: VerificationResult, opts: VerifyOptions): Record<(typeof RESULTS_COLUMNS)[number], string | number> {
  const fraction = (x: number) => (Number.isFinite(x) ? x.toFixed(6) : 'NaN');
  return {
    time: new Date().toISOString(),
    model: opts.name ?? path.basename(opts.embeddings, path.extname(opts.embeddings)),
    dataset: opts.embeddings,
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
  line('pairs', `${result.pairs} (${opts.embeddings})`);
  line('accuracy', `${percent(result.accuracy)} ± ${percent(result.std)} (${result.protocol})`);
  line('threshold', `${result.threshold.toFixed(3)} (mean over the 10 folds)`);
  line('TAR@FAR', `1e-3: ${percent(result.tarAtFar['1e-3'])}, 1e-4: ${percent(result.tarAtFar['1e-4'])}`);
  line('results', `appended to ${opts.results}`);
}

export function makeVerifyCommand(): Command {
  return new Command('verify')
    .description('face verification on pair embeddings: 10-fold accuracy ± std, threshold, TAR@FAR; appends to a results CSV')
    .requiredOption('--embeddings <file>', '.npz with e1, e2 (N×D float pair embeddings, flip-summed) and same (N flags)')
    .option('--json', 'print the result as JSON')
    .option('--results <file>', 'results CSV to append one row to', 'verification.csv')
    .option('--name <label>', 'model name for the results row (default: the embeddings file name)')
    .action(
      action(async (opts: VerifyOptions) => {
        if (!existsSync(opts.embeddings)) throw new Error(`${opts.embeddings}: no such file`);
        const hasHeader = resultsFileHasHeader(opts.results);
        const session = await PythonSession.start();
        let result: VerificationResult;
        try {
          result = await session.call<VerificationResult>('evaluation.verify_embeddings', { path: path.resolve(opts.embeddings) });
        } finally {
          await session.close();
        }
        appendFileSync(opts.results, stringify([resultsRow(result, opts)], { header: !hasHeader, columns: [...RESULTS_COLUMNS] }));
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else printResult(result, opts);
      }),
    );
}
