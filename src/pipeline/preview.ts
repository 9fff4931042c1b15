/**
 * New identities from a finished run's model, for a look (scripts, notebooks): random anchors, the
 * per-image plan around them as generate makes it, sampled with the run's sampler, shown as one grid
 * PNG (identities as rows). Nothing of the run is changed.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeIdentityPlan } from '../anchors/plan.ts';
import { getSession } from '../bridge/index.ts';
import { runJob } from '../bridge/jobs.ts';
import type { PythonSession } from '../bridge/session.ts';
import { Tensor } from '../bridge/tensor.ts';
import { IdentityPlan } from '../config/anchors.ts';
import type { DiffusionSampler } from '../config/schema.ts';
import { samplerArgs } from '../diffusion/jobs.ts';
import type { RunHandle } from './open.ts';
import { generatePreviewJob } from '../jobs/generate.ts';
import { outputsOf } from './stages/outputs-of.ts';

export interface SampleIdentitiesOptions {
  /** New identities (rows of the grid). */
  identities?: number;
  /** Images of each (columns). */
  images?: number;
  /** Same seed, same anchors, conditions and images. */
  seed?: number;
  /** [lb, ub] of cos(y_ij, w_i); default the run's generate.bounds. */
  bounds?: [number, number];
  /** Overrides of the run's `diffusion.sampler` (e.g. guidanceScale). */
  sampler?: Partial<DiffusionSampler>;
  /** Where the grid (and its plan folder) go; default `<run>/preview/seed-<seed>/`. */
  outDir?: string;
  session?: PythonSession;
}

/** Sample `identities` × `images` new faces from the run's trained model; returns the grid's path. */
export async function sampleIdentities(run: RunHandle, options: SampleIdentitiesOptions = {}): Promise<{ grid: string; plan: string }> {
  const { identities = 4, images = 6, seed = 0 } = options;
  const config = run.config;
  if (!config.diffusion) throw new Error(`${run.name}: the run has no diffusion model to sample`);
  run.summary('train'); // the model must be finished
  const session = options.session ?? (await getSession());
  const outDir = options.outDir ?? run.path('preview', `seed-${seed}`);
  mkdirSync(outDir, { recursive: true });

  const outputs = outputsOf(run.dir);
  const dim = (JSON.parse(readFileSync(path.join(outputs.train.folder, 'model.json'), 'utf8')) as { embeddingSize: number }).embeddingSize;
  const anchors = path.join(outDir, 'anchors.npy');
  const W = await Tensor.randn(session, [identities, dim], { seed }).normalize(1);
  await W.saveNpy(anchors);
  await W.dispose();

  const plan = path.join(outDir, 'plan');
  await writeIdentityPlan(session, {
    anchors,
    // The run's generate settings where it has them, else the schema's defaults (validated like a config's).
    plan: IdentityPlan.parse({
      imagesPerIdentity: images,
      bounds: options.bounds ?? config.generate?.bounds,
      attributes: config.generate?.attributes,
      seed,
    }),
    manifest: outputs.prepare.manifest,
    outDir: plan,
  });
  const sampler = { ...config.diffusion.sampler, ...options.sampler };
  const grid = path.join(outDir, 'grid.png');
  await runJob(session, generatePreviewJob, {
    trainDir: outputs.train.folder,
    plan,
    sampler: { ...samplerArgs(sampler), guidanceTarget: sampler.guidanceTarget },
    batchSize: sampler.batchSize,
    out: grid,
    device: config.device,
  });
  return { grid, plan };
}
