/**
 * prepare: the training data, ready for every later stage. For the parametric face set:
 * render the faces (Python), assign identities to splits and write the manifest (here). For real
 * faces (folders, manifest, RecordIO): prepare-real.ts.
 */
import path from 'node:path';
import { runJob } from '../../bridge/jobs.ts';
import type { Id3Config, ParametricDataset } from '../../config/schema.ts';
import { ATTRIBUTE_NAMES, PARAMETRIC_COLUMNS, writeManifest, type ParametricManifestRow, type Split } from '../../dataset/manifest.ts';
import type { Stage, StageContext } from '../stage.ts';
import { describeReal, prepareReal, realSlice, summarizeReal, type RealPrepareSummary } from './prepare-real.ts';
import { prepareParametricJob } from '../../jobs/prepare.ts';

/** Paths are relative to the run folder, so that a run folder can be moved. */
export interface PrepareSummary {
  manifest: string;
  imagesDir: string;
  grid: string;
  images: number;
  identities: Record<Split, number>;
  rendered: number;
  reused: number;
}

/** The row Python reports for each image (python/id3_torch/stages/prepare.py). */
type RenderedRow = Omit<ParametricManifestRow, 'split'>;

interface RenderResult {
  rows: RenderedRow[];
  rendered: number;
  reused: number;
}

/** Identities [0, train) train, then val, then test: identities are i.i.d., so blocks are fair. */
export function splitOf(identity: number, d: Pick<ParametricDataset, 'identities' | 'valIdentities' | 'testIdentities'>): Split {
  const firstTest = d.identities - d.testIdentities;
  const firstVal = firstTest - d.valIdentities;
  return identity >= firstTest ? 'test' : identity >= firstVal ? 'val' : 'train';
}

/**
 * Render parametric faces into `<dir>/images/<identity>/<k>.png` with `<dir>/grid.png` (job
 * `prepare.parametric`): identities `first` … `first + identities − 1` of the set `faces` (its seed,
 * resolution and ranges), each with `imagesPerIdentity` images. Rows' paths are relative to `dir`.
 */
export async function renderParametric(
  { dir, session, reporter, signal }: StageContext,
  label: string,
  faces: ParametricDataset,
  { first, identities, imagesPerIdentity }: { first: number; identities: number; imagesPerIdentity: number },
): Promise<RenderResult> {
  const result = await runJob(
    session,
    prepareParametricJob,
    {
      outDir: path.join(dir, 'images'),
      gridPath: path.join(dir, 'grid.png'),
      firstIdentity: first,
      identities,
      imagesPerIdentity,
      resolution: faces.resolution,
      seed: faces.seed,
      ranges: faces.ranges,
      batchSize: faces.batchSize,
      gridIdentities: faces.gridIdentities,
      gridImages: faces.gridImages,
    },
    { onProgress: (p) => reporter.progress(label, p), signal, eventsPath: path.join(dir, 'events.jsonl') },
  );
  return { ...result, rows: result.rows.map((row) => ({ ...row, path: `images/${row.path}` })) };
}

async function prepareParametric(context: StageContext, d: ParametricDataset): Promise<PrepareSummary> {
  const { runDir, dir } = context;
  const imagesDir = path.join(dir, 'images');
  const grid = path.join(dir, 'grid.png');
  const result = await renderParametric(context, 'prepare', d, {
    first: 0,
    identities: d.identities,
    imagesPerIdentity: d.imagesPerIdentity,
  });
  const rows = result.rows.map((row) => ({ ...row, split: splitOf(row.identity, d) }));
  const manifest = path.join(dir, 'manifest.csv');
  writeManifest<ParametricManifestRow>(manifest, PARAMETRIC_COLUMNS, rows);
  const identities = { train: 0, val: 0, test: 0 };
  for (let i = 0; i < d.identities; i++) identities[splitOf(i, d)] += 1;
  const relative = (p: string) => path.relative(runDir, p);
  return {
    manifest: relative(manifest),
    imagesDir: relative(imagesDir),
    grid: relative(grid),
    images: rows.length,
    identities,
    rendered: result.rendered,
    reused: result.reused,
  };
}

export const prepareStage: Stage<PrepareSummary | RealPrepareSummary> = {
  name: 'prepare',
  version: 1,
  after: [],
  enabled: () => true,
  // The renderer gives an image the same bytes in any batch: batchSize changes speed, not outputs.
  slice: (config: Id3Config) => {
    if (config.dataset.kind !== 'parametric') return realSlice(config, config.dataset);
    const { batchSize: _batchSize, ...dataset } = config.dataset;
    return dataset;
  },
  describe: (config) => {
    const d = config.dataset;
    if (d.kind !== 'parametric') return describeReal(config, d);
    return `parametric faces: ${d.identities} identities × ${d.imagesPerIdentity} images at ${d.resolution} px (seed ${d.seed})`;
  },
  summarize: (s) =>
    'grid' in s
      ? `${s.images} images of ${s.identities.train}/${s.identities.val}/${s.identities.test} train/val/test identities ` +
        `(${s.rendered} rendered, ${s.reused} reused)`
      : summarizeReal(s),
  outputLines: (s, here) => [
    `  images:   ${here(s.imagesDir)}`,
    `  manifest: ${here(s.manifest)}`,
    ...('grid' in s
      ? [`  grid:     ${here(s.grid)}`]
      : [
          ...(s.embeddings ? [`  embeddings: ${here(s.embeddings)} (row i = manifest row i)`] : []),
          ...(s.missing ? [`  left out: ${here(s.notFound)} (${s.missing} inputs)`] : []),
        ]),
  ],
  report: (s, { runDir, reportDir }) => {
    const counts = `${s.identities.train} training, ${s.identities.val} validation and ${s.identities.test} test identities`;
    const grid =
      'grid' in s
        ? ` Rows are identities, columns their images:\n\n![sample grid](../${s.grid})`
        : ` Faces not found: [${s.missing}](../${s.notFound}).`;
    return [
      {
        markdown:
          `## Training data\n\n${s.images} images of ${counts} ([manifest](../${s.manifest})).${grid}\n\n` +
          `![attributes](prepare-attributes.png)\n`,
        plots: [
          {
            kind: 'histograms',
            path: path.join(reportDir, 'prepare-attributes.png'),
            title: 'attributes of the prepared images',
            manifest: path.join(runDir, s.manifest),
            columns: [...ATTRIBUTE_NAMES],
          },
        ],
      },
    ];
  },
  run: (context) => {
    const d = context.config.dataset;
    return d.kind === 'parametric' ? prepareParametric(context, d) : prepareReal(context, d);
  },
};
