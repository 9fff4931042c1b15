/**
 * `id3 data inspect|convert`: what a face dataset holds, and the same dataset between image folders and
 * insightface RecordIO (python/id3_torch/data/inspection.py, data/convert.py).
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runJob } from '../bridge/jobs.ts';
import { PythonSession } from '../bridge/session.ts';
import { createReporter } from '../ui/reporter.ts';
import { action } from './fail.ts';
import { dataConvertJob } from '../jobs/data.ts';
import type { JobResult } from '../bridge/jobs.ts';

/** python/id3_torch/data/inspection.py `inspect_dataset`. */
export interface DataInspection {
  path: string;
  format: 'folders' | 'manifest' | 'recordio' | 'verification-bin';
  /** RecordIO only: insightface's header-and-identity-records layout, or a plain image list. */
  layout?: 'insightface' | 'image list';
  images: number;
  /** Absent for a verification .bin (pairs, not identities). */
  identities?: number;
  imagesPerIdentity?: { min: number; median: number; max: number; mean: number };
  pairs?: number;
  samePairs?: number;
  imageSizes: { width: number; height: number; count: number }[];
  encodings: Record<string, number>;
  /** Images decoded for sizes and encodings, spread evenly over the set. */
  checked: number;
  /** Manifests only. */
  columns?: { numeric: string[]; text: string[] };
  splits?: Record<string, number>;
  arrays?: { file: string; shape: number[] | null; dtype: string | null; aligned: boolean }[];
  /** What a reader would survive but a person should know: empty identity folders, corrupt sampled images. */
  problems: string[];
}

/** python/id3_torch/jobs/data.py `convert_dataset`. */
export type DataConversion = JobResult<typeof dataConvertJob>;

const count = (n: number) => n.toLocaleString('en-US');

function printInspection(r: DataInspection): void {
  const line = (label: string, value: string) => console.log(`${label.padEnd(17)}${value}`);
  line('path', r.path);
  line('format', r.layout ? `${r.format} (${r.layout} layout)` : r.format);
  line('images', count(r.images));
  if (r.pairs !== undefined) line('pairs', `${count(r.pairs)} (${count(r.samePairs ?? 0)} same identity)`);
  if (r.identities !== undefined) line('identities', count(r.identities));
  const per = r.imagesPerIdentity;
  if (per) line('images/identity', `min ${per.min} · median ${per.median} · max ${per.max} · mean ${per.mean.toFixed(1)}`);
  const sizes = r.imageSizes.map((s) => `${s.width}×${s.height}${r.imageSizes.length > 1 ? ` (${s.count})` : ''}`).join(', ');
  line('image size', `${sizes || 'none decoded'} (${count(r.checked)} of ${count(r.images)} images checked)`);
  line(
    'encodings',
    Object.entries(r.encodings)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  );
  if (r.splits)
    line(
      'splits',
      Object.entries(r.splits)
        .map(([k, v]) => `${k} ${count(v)}`)
        .join(', '),
    );
  if (r.columns) line('columns', `numeric: ${r.columns.numeric.join(', ') || '-'}; text: ${r.columns.text.join(', ') || '-'}`);
  for (const a of r.arrays ?? []) {
    line(
      'array',
      `${a.file} ${a.shape ? `${a.shape.join('×')} ${a.dtype}` : 'unreadable'}${a.aligned ? ' (one row per manifest row)' : ' (NOT aligned with the manifest)'}`,
    );
  }
  if (r.problems.length === 0) line('problems', 'none found');
  else for (const problem of r.problems) line('problem', problem);
}

export function makeDataInspectCommand(): Command {
  return new Command('inspect')
    .description('counts of images and identities, images per identity, image size and format of a dataset; exit 1 when it finds damage')
    .argument('<path>', 'identity folders, a folder with manifest.csv or train.rec, a .rec, a manifest .csv, or a verification .bin')
    .option('--sample <n>', 'images decoded for sizes and encodings (0: all)', (v) => Number.parseInt(v, 10), 256)
    .option('--json', 'print the report as JSON')
    .action(
      action(async (target: string, opts: { sample: number; json?: boolean }) => {
        if (!existsSync(target)) throw new Error(`${target}: no such file or folder`);
        if (!Number.isInteger(opts.sample) || opts.sample < 0) throw new Error('--sample: expected an integer ≥ 0');
        const session = await PythonSession.start();
        let report: DataInspection;
        try {
          report = await session.call<DataInspection>('data.inspect', { path: path.resolve(target), sample: opts.sample });
        } finally {
          await session.close();
        }
        if (opts.json) console.log(JSON.stringify(report, null, 2));
        else printInspection(report);
        // Found damage is a failure a script must see: exit 1 (the report, JSON or not, lists it).
        if (report.problems.length > 0) process.exitCode = 1;
      }),
    );
}

export function makeDataConvertCommand(): Command {
  return new Command('convert')
    .description('copy a dataset between image folders and insightface RecordIO (dst ending in .rec); never over an existing dst')
    .argument('<src>', 'identity folders, a folder with manifest.csv or train.rec, a .rec, or a manifest .csv')
    .argument('<dst>', 'a new path: <name>.rec (+ <name>.idx beside it), or a folder of identity folders')
    .option('--splits <names...>', 'only these splits of a manifest with a split column')
    .addOption(
      new Option('--on-corrupt <what>', 'an image that does not decode stops the convert, or is left out and listed')
        .choices(['raise', 'skip'])
        .default('raise'),
    )
    .addOption(new Option('--image-format <format>', 're-encode every image (default: bytes as stored)').choices(['jpeg', 'png']))
    .option('--quality <q>', 'JPEG quality when re-encoding', (v) => Number.parseInt(v, 10), 95)
    .option('--workers <n>', 'processes that decode and check images', (v) => Number.parseInt(v, 10), 2)
    .option('--json', 'print the result as JSON (no progress bar)')
    .action(
      action(
        async (
          src: string,
          dst: string,
          opts: {
            splits?: string[];
            onCorrupt: 'raise' | 'skip';
            imageFormat?: 'jpeg' | 'png';
            quality: number;
            workers: number;
            json?: boolean;
          },
        ) => {
          if (!existsSync(src)) throw new Error(`${src}: no such file or folder`);
          if (!Number.isInteger(opts.quality) || opts.quality < 1 || opts.quality > 95)
            throw new Error('--quality: expected an integer from 1 to 95');
          if (!Number.isInteger(opts.workers) || opts.workers < 0) throw new Error('--workers: expected an integer ≥ 0');
          const reporter = createReporter(opts.json ? 'quiet' : 'bars');
          const session = await PythonSession.start();
          let result: DataConversion;
          try {
            result = await runJob(
              session,
              dataConvertJob,
              {
                src: path.resolve(src),
                dst: path.resolve(dst),
                splits: opts.splits ?? null,
                onCorrupt: opts.onCorrupt,
                imageFormat: opts.imageFormat ?? null,
                quality: opts.quality,
                workers: opts.workers,
              },
              { onProgress: (p) => p.total > 0 && reporter.progress('convert', p) },
            );
            reporter.stageFinished('convert', 'done', `${count(result.images)} images of ${count(result.identities)} identities -> ${dst}`);
          } finally {
            reporter.close();
            await session.close();
          }
          if (opts.json) console.log(JSON.stringify(result, null, 2));
          else for (const s of result.skipped) console.log(`skipped ${s.where}: ${s.problem}`);
          if (!opts.json && result.skippedImages > result.skipped.length)
            console.log(`... ${result.skippedImages - result.skipped.length} more skipped`);
        },
      ),
    );
}

export function makeDataCommand(): Command {
  return new Command('data')
    .description('face datasets: inspect one, or convert between image folders and RecordIO')
    .addCommand(makeDataInspectCommand())
    .addCommand(makeDataConvertCommand());
}
