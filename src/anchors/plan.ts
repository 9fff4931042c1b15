/**
 * The per-image plan (docs/method.md, "Synthetic dataset generation"): for identity i
 * (anchor w_i) and image j,
 *
 *   v_ij ~ U[lb, ub],   u_ij = unit vector ⟂ w_i (a Gaussian with its w_i part removed),
 *   y_ij = v_ij · w_i + sqrt(1 − v_ij²) · u_ij          so that cos(y_ij, w_i) = v_ij exactly,
 *
 * attributes s_ij = (age, yaw, pitch, roll), and a seed of its own for the image's noise. Written
 * before any image is sampled, so that generation is reproducible and resumes image by image:
 *
 *   plan.csv         row, identity, image, cosine, age, yaw, pitch, roll, seed   (one row per image)
 *   embeddings.npy   (N·m, d) float32, row r = y of plan row r
 *   attributes.npy   (N·m, 4) float32, row r = (age, yaw, pitch, roll) of plan row r (years, degrees)
 *   anchors.npy      (N, d) float32, row i = w_i
 *   plan.json        what it was made from and the check of its cosines; written last: a folder
 *                    without it holds no finished plan
 *
 * Randomness comes in blocks of PLAN_BLOCK identities, each from generators seeded by
 * (seed, block, stream), so memory stays at one block whatever N is.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { CancelledError } from '../bridge/errors.ts';
import type { JobProgress } from '../bridge/jobs.ts';
import { NpyRowWriter } from '../bridge/npy.ts';
import type { PythonSession } from '../bridge/session.ts';
import { Tensor, TensorChain, tidy } from '../bridge/tensor.ts';
import { IdentityPlan, type AttributeSource, type IdentityPlanInput } from '../config/anchors.ts';
import { ConfigError, formatIssues } from '../config/errors.ts';
import { createAtomicWriter, writeJsonAtomic } from '../util/files.ts';
import { canonicalJson, sha256 } from '../util/hash.ts';
import { ksCriticalValue, ksUniform } from '../util/kolmogorov-smirnov.ts';
import { derivedSeed } from './seeds.ts';
import { ATTRIBUTE_NAMES } from '../dataset/manifest.ts';

/** Identities per block of random draws (part of what a seed means: changing it changes plans). */
export const PLAN_BLOCK = 256;
export const PLAN_COLUMNS = ['row', 'identity', 'image', 'cosine', ...ATTRIBUTE_NAMES, 'seed'] as const;
/** Level of the Kolmogorov–Smirnov check of the cosines against U[lb, ub]. */
const KS_ALPHA = 0.01;

/** Streams of a block's random draws. */
const enum Stream {
  Cosine = 1,
  Direction = 2,
  ImageAttributes = 3,
  IdentityAttributes = 4,
}
/** First component of per-image seed paths, apart from the blocks' streams. */
const IMAGE_SEEDS = 0;

export interface PlanOptions {
  /** The anchors: an (N, d) float `.npy` (the anchors stage's anchors.npy, or `id3 anchors`). */
  anchors: string;
  plan: IdentityPlanInput;
  /** The manifest whose rows empirical attributes resample (prepare/manifest.csv). */
  manifest?: string;
  /** Where the plan's files go (created if needed). */
  outDir: string;
  device?: string;
  onProgress?: (progress: JobProgress) => void;
  signal?: AbortSignal;
}

export interface PlanSummary {
  identities: number;
  imagesPerIdentity: number;
  images: number;
  dim: number;
  bounds: [number, number];
  attributes: { source: AttributeSource['source']; vary: AttributeSource['vary'] };
  seed: number;
  /** File names in the plan folder. */
  files: { manifest: 'plan.csv'; embeddings: 'embeddings.npy'; attributes: 'attributes.npy'; anchors: 'anchors.npy' };
  /** The cosines v_ij: measured cos(y_ij, w_i) against v_ij, and the KS test of v against U[lb, ub]. */
  cosines: {
    min: number;
    max: number;
    mean: number;
    maxError: number;
    ks: { statistic: number; pValue: number; critical: number; alpha: number };
  };
  /** sha256 of the inputs (plan, anchors bytes, manifest bytes): a finished plan with the same digest is reused. */
  digest: string;
}

function fileDigest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Per column of (age, yaw, pitch, roll), 1 where the images of an identity differ, 0 where they share its value. */
function varyingColumns(vary: AttributeSource['vary']): number[] {
  return { all: [1, 1, 1, 1], pose: [0, 1, 1, 1], age: [1, 0, 0, 0] }[vary];
}

/** Draws of attribute rows: (count, 4) from the source, for one stream of one block. */
type AttributeDraw = (count: number, seed: number) => Promise<Tensor>;

/** The attribute source as a draw, and the tensors the draw holds (to free afterwards). */
async function attributeDraw(
  session: PythonSession,
  source: AttributeSource,
  manifest: string | undefined,
  device: string,
): Promise<{ draw: AttributeDraw; held: Tensor[] }> {
  if (source.source === 'ranges') {
    const low = await Tensor.fromArray(
      session,
      ATTRIBUTE_NAMES.map((a) => source[a][0]),
      { device },
    );
    const width = await Tensor.fromArray(
      session,
      ATTRIBUTE_NAMES.map((a) => source[a][1] - source[a][0]),
      { device },
    );
    const draw: AttributeDraw = async (count, seed) => Tensor.rand(session, [count, 4], { seed, device }).mul(width).add(low); // each U[lo, hi], independent
    return { draw, held: [low, width] };
  }
  if (!manifest) throw new Error('plan.attributes: empirical attributes resample a manifest; give its path (manifest)');
  if (!existsSync(manifest)) throw new Error(`plan.attributes: no manifest at ${manifest}`);
  const pool = await Tensor.fromOp(session, 'anchors.training_attributes', {
    manifest,
    split: source.split,
    columns: [...ATTRIBUTE_NAMES],
    device,
  }); // (R, 4)
  const rows = pool.shape[0]!;
  const draw: AttributeDraw = async (count, seed) => pool.indexSelect(0, Tensor.randint(session, 0, rows, [count], { seed, device })); // whole rows: attributes stay jointly distributed
  return { draw, held: [pool] };
}

interface Block {
  y: Tensor; // (b·m, d)
  attributes: Tensor; // (b·m, 4)
  v: Float32Array; // b·m
  attributeValues: Float32Array; // b·m·4
  maxError: number;
}

/** Identities [first, first + b) of the plan. */
function planBlock(
  W: Tensor,
  first: number,
  b: number,
  m: number,
  [lb, ub]: [number, number],
  seed: number,
  block: number,
  drawAttributes: AttributeDraw,
  mask: Tensor,
): Promise<Block> {
  const { session, device } = W;
  const d = W.shape[1]!;
  const streamSeed = (stream: Stream) => derivedSeed(seed, block + 1, stream);
  return tidy(async () => {
    const w = await W.slice(0, first, first + b).unsqueeze(1); // (b, 1, d)
    const v = await Tensor.rand(session, [b, m, 1], { seed: streamSeed(Stream.Cosine), device })
      .mul(ub - lb)
      .add(lb); // v_ij ~ U[lb, ub]
    const g = await Tensor.randn(session, [b, m, d], { seed: streamSeed(Stream.Direction), device });
    const u = await g.sub(w.mul(g.mul(w).then((gw) => gw.sum(2, true)))).normalize(2); // u_ij ⟂ w_i, unit
    const sine = await v.mul(v).neg().add(1).sqrt(); // sqrt(1 − v²)
    const y = await w.mul(v).add(u.mul(sine)); // (b, m, d): y_ij = v w_i + sqrt(1 − v²) u_ij
    // The check the construction promises: cos(y_ij, w_i) = v_ij (y is unit: v² + (1 − v²) = 1).
    const measured = await y.normalize(2).mul(w).sum(2, true);
    const maxError = await measured.sub(v).abs().amax().item();
    // s_ij = s_i + mask ⊙ (s'_ij − s_i): shared per identity where the mask is 0.
    const perImage = await new TensorChain(drawAttributes(b * m, streamSeed(Stream.ImageAttributes))).reshape([b, m, 4]);
    const perIdentity = await new TensorChain(drawAttributes(b, streamSeed(Stream.IdentityAttributes))).reshape([b, 1, 4]);
    const attributes = await perIdentity.add(perImage.sub(perIdentity).mul(mask)).reshape([b * m, 4]);
    const flatV = await v.reshape([-1]);
    return {
      y: await y.reshape([b * m, d]),
      attributes,
      v: await flatV.toFloat32Array(),
      attributeValues: await attributes.toFloat32Array(),
      maxError,
    };
  });
}

/**
 * Write the plan into `outDir`; a finished plan there made from the same inputs is reused as it
 * is (the same digest in plan.json). Deterministic: same inputs, same bytes.
 */
export async function writeIdentityPlan(session: PythonSession, options: PlanOptions): Promise<PlanSummary> {
  const parsed = IdentityPlan.safeParse(options.plan, { reportInput: true });
  if (!parsed.success) throw new ConfigError('plan', formatIssues(parsed.error.issues, options.plan));
  const plan = parsed.data;
  const { outDir, device = 'cpu', onProgress, signal } = options;
  const [lb, ub] = plan.bounds;
  if (!existsSync(options.anchors)) throw new Error(`plan: no anchors file at ${options.anchors}`);
  const empirical = plan.attributes.source === 'empirical';
  const digest = sha256(
    canonicalJson({
      plan,
      block: PLAN_BLOCK,
      anchors: fileDigest(options.anchors),
      manifest: empirical && options.manifest && existsSync(options.manifest) ? fileDigest(options.manifest) : null,
    }),
  );
  const summaryFile = path.join(outDir, 'plan.json');
  if (existsSync(summaryFile)) {
    const previous = JSON.parse(readFileSync(summaryFile, 'utf8')) as PlanSummary;
    if (previous.digest === digest) return previous;
  }
  rmSync(summaryFile, { force: true }); // from here on the folder holds no finished plan
  mkdirSync(outDir, { recursive: true });

  const W = await tidy(async () => {
    const loaded = await Tensor.loadNpy(session, options.anchors, { device });
    if (loaded.shape.length !== 2) throw new Error(`plan: ${options.anchors} holds shape [${loaded.shape}], expected anchors (N, d)`);
    return loaded.cast('float32').normalize(1); // unit w_i, whatever file it came from
  });
  const [n, d] = W.shape as [number, number];
  const m = plan.imagesPerIdentity;
  const { draw, held } = await attributeDraw(session, plan.attributes, options.manifest, device);
  const mask = await Tensor.fromArray(session, varyingColumns(plan.attributes.vary), { device });
  const embeddings = await NpyRowWriter.create(session, path.join(outDir, 'embeddings.npy'), [n * m, d]);
  const attributes = await NpyRowWriter.create(session, path.join(outDir, 'attributes.npy'), [n * m, 4]);
  const csv = createAtomicWriter(path.join(outDir, 'plan.csv'));
  const cosines = new Float32Array(n * m);
  let maxError = 0;
  const began = performance.now();
  try {
    csv.write(stringify([[...PLAN_COLUMNS]]));
    const blocks = Math.ceil(n / PLAN_BLOCK);
    for (let block = 0; block < blocks; block++) {
      if (signal?.aborted) throw new CancelledError('plan');
      const first = block * PLAN_BLOCK;
      const b = Math.min(PLAN_BLOCK, n - first);
      const rows = await planBlock(W, first, b, m, plan.bounds, plan.seed, block, draw, mask);
      await embeddings.write(first * m, rows.y);
      await attributes.write(first * m, rows.attributes);
      await Tensor.disposeAll([rows.y, rows.attributes]);
      maxError = Math.max(maxError, rows.maxError);
      cosines.set(rows.v, first * m);
      const records: (string | number)[][] = [];
      for (let r = 0; r < b * m; r++) {
        const identity = first + Math.floor(r / m);
        const image = r % m;
        const s = rows.attributeValues.subarray(4 * r, 4 * r + 4);
        records.push([
          first * m + r,
          identity,
          image,
          rows.v[r]!.toFixed(6),
          ...Array.from(s, (x) => x.toFixed(4)),
          derivedSeed(plan.seed, IMAGE_SEEDS, identity, image),
        ]);
      }
      csv.write(stringify(records));
      const elapsed = (performance.now() - began) / 1000;
      const rate = (block + 1) / elapsed;
      onProgress?.({
        step: block + 1,
        total: blocks,
        label: 'plan',
        unit: 'block',
        rate,
        eta: (blocks - block - 1) / rate,
        elapsed,
        metrics: {},
      });
    }
    await W.saveNpy(path.join(outDir, 'anchors.npy'));
    await embeddings.commit();
    await attributes.commit();
    csv.commit();
  } catch (err) {
    await embeddings.abort();
    await attributes.abort();
    csv.abort();
    throw err;
  } finally {
    await Tensor.disposeAll([W, mask, ...held]);
  }

  const ks = ksUniform(cosines, lb, ub);
  let [min, max, sum] = [Infinity, -Infinity, 0];
  for (const v of cosines) [min, max, sum] = [Math.min(min, v), Math.max(max, v), sum + v];
  const summary: PlanSummary = {
    identities: n,
    imagesPerIdentity: m,
    images: n * m,
    dim: d,
    bounds: plan.bounds,
    attributes: { source: plan.attributes.source, vary: plan.attributes.vary },
    seed: plan.seed,
    files: { manifest: 'plan.csv', embeddings: 'embeddings.npy', attributes: 'attributes.npy', anchors: 'anchors.npy' },
    cosines: {
      min,
      max,
      mean: sum / cosines.length,
      maxError,
      ks: { statistic: ks.statistic, pValue: ks.pValue, critical: ksCriticalValue(ks.n, KS_ALPHA), alpha: KS_ALPHA },
    },
    digest,
  };
  writeJsonAtomic(summaryFile, summary);
  return summary;
}
