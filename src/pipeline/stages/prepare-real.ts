/**
 * prepare for datasets of real faces (identity folders, manifest folders, RecordIO): align if asked,
 * embed with the configured encoder, predict attributes, write the manifest and embeddings.npy
 * (job `prepare.real`, python/id3_torch/jobs/prepare.py).
 *
 * The cache key covers the dataset's listing (file names and sizes; the manifest's or the .idx's
 * bytes), the face-api version whose networks detect and predict, and the encoder (its weights'
 * bytes). Images edited in place at the same size are not noticed: rerun with --force prepare.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { runJob } from '../../bridge/jobs.ts';
import type { Id3Config, RealDataset } from '../../config/schema.ts';
import type { Split } from '../../dataset/manifest.ts';
import type { StageContext } from '../stage.ts';
import { encoderKey, encoderSpec, faceApiModels, fileDigest } from './encoder.ts';
import { prepareRealJob, type RealSource } from '../../jobs/prepare.ts';

/** Paths relative to the run folder. */
export interface RealPrepareSummary {
  manifest: string;
  imagesDir: string;
  /** Inputs left out, with the reason (no face found, unreadable, not an aligned crop). */
  notFound: string;
  /** Row i ↔ manifest row i; null without an encoder made outside the run. */
  embeddings: string | null;
  inputs: number;
  images: number;
  missing: number;
  identities: Record<Split, number>;
}

/** The JSON python/id3_torch/stages/real_sources.py opens (paths absolute). */
function sourceSpec(d: RealDataset): RealSource {
  switch (d.kind) {
    case 'folders':
      return { kind: 'folders', path: path.resolve(d.path) };
    case 'manifest':
      return { kind: 'manifest', path: path.resolve(d.path), manifest: d.manifest };
    case 'recordio':
      return { kind: 'recordio', rec: path.resolve(d.rec), ...(d.idx ? { idx: path.resolve(d.idx) } : {}) };
  }
}

/** Identity folders: every visible file's name and size, sorted. */
function listingDigest(root: string): string {
  const hash = createHash('sha256');
  const visible = (folder: string) =>
    readdirSync(folder, { withFileTypes: true })
      .filter((e) => !e.name.startsWith('.'))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  let entries;
  try {
    entries = visible(root);
  } catch {
    throw new Error(`dataset.path: cannot read the folder ${root}`);
  }
  for (const identity of entries.filter((e) => e.isDirectory())) {
    for (const file of visible(path.join(root, identity.name)).filter((e) => e.isFile())) {
      hash.update(`${identity.name}/${file.name}\t${statSync(path.join(root, identity.name, file.name)).size}\n`);
    }
  }
  return hash.digest('hex');
}

function contentKey(d: RealDataset): string {
  switch (d.kind) {
    case 'folders':
      return listingDigest(path.resolve(d.path));
    case 'manifest':
      return fileDigest(path.resolve(d.path, d.manifest), 'dataset.manifest');
    case 'recordio': {
      const rec = path.resolve(d.rec);
      const idx = d.idx ? path.resolve(d.idx) : rec.replace(/\.rec$/, '') + '.idx';
      let size: number;
      try {
        size = statSync(rec).size;
      } catch {
        throw new Error(`dataset.rec: cannot read ${rec}`);
      }
      return `${fileDigest(idx, 'dataset.idx')}:${size}`;
    }
  }
}

/** Prepare embeds with the configured encoder unless it is trained later in this run. */
const embeddingEncoder = (config: Id3Config) => (config.encoder && config.encoder.kind !== 'train' ? config.encoder : undefined);

export function realSlice(config: Id3Config, d: RealDataset): unknown {
  const { batchSize: _batchSize, ...dataset } = d; // speed, not outputs
  return {
    dataset: sourceSpec(d),
    options: { ...dataset, ...sourceSpec(d) },
    content: contentKey(d),
    faceApi: faceApiModels().version,
    encoder: embeddingEncoder(config) ? encoderKey(config) : null,
  };
}

export function describeReal(config: Id3Config, d: RealDataset): string {
  const where = d.kind === 'recordio' ? d.rec : d.path;
  const encoder = embeddingEncoder(config);
  return (
    `${d.kind} ${where}: ${d.align ? `detect, align to ${d.framing} at ${d.resolution} px, ` : ''}` +
    `predict age and pose${encoder ? `, embed with ${encoder.kind}` : ''}`
  );
}

export const summarizeReal = (s: RealPrepareSummary) =>
  `${s.images} faces of ${s.identities.train}/${s.identities.val}/${s.identities.test} train/val/test identities ` +
  `from ${s.inputs} inputs${s.missing ? ` (${s.missing} left out: see ${s.notFound})` : ''}`;

export async function prepareReal(context: StageContext, d: RealDataset): Promise<RealPrepareSummary> {
  const { config, runDir, dir, session, reporter, signal } = context;
  const encoder = embeddingEncoder(config);
  const result = await runJob(
    session,
    prepareRealJob,
    {
      dataset: sourceSpec(d),
      outDir: dir,
      align: d.align,
      framing: d.framing,
      resolution: d.resolution,
      minConfidence: d.minConfidence,
      valIdentities: d.valIdentities,
      testIdentities: d.testIdentities,
      batchSize: d.batchSize,
      encoder: encoder ? encoderSpec(config, runDir) : null,
      device: config.device,
    },
    { onProgress: (p) => reporter.progress('prepare', p), signal, eventsPath: path.join(dir, 'events.jsonl') },
  );
  const relative = (p: string) => path.relative(runDir, path.join(dir, p));
  if (result.missing > 0)
    reporter.info(
      `prepare: ${result.missing} of ${result.inputs} inputs left out (no face found, unreadable or not aligned): ${relative(result.notFound)}`,
    );
  return {
    ...result,
    manifest: relative(result.manifest),
    imagesDir: relative('images'),
    notFound: relative(result.notFound),
    embeddings: result.embeddings ? relative(result.embeddings) : null,
  };
}
