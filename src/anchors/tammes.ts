/**
 * Identity anchors by the Tammes problem (docs/method.md, "Synthetic dataset
 * generation"): N points w_i on S^{d-1} whose smallest pairwise angle is as large as possible.
 * Projected gradient descent from random normalised Gaussians on
 *
 *   E(W) = Σ_i τ · log Σ_{j ∈ N(i)} exp(w_i·w_j / τ)          (a smooth max of i's nearest cosines)
 *
 * N(i): the k nearest anchors of i, found exactly every `refreshEvery` steps (their cosines are
 * recomputed at every step). The gradient, analytic since no autograd crosses the bridge, with
 * p_ij = softmax_{j ∈ N(i)}(w_i·w_j / τ) and P the sparse N × N matrix of the p_ij:
 *
 *   ∂E/∂w_i = Σ_{j ∈ N(i)} p_ij w_j + Σ_{l : i ∈ N(l)} p_li w_l,    i.e.  G = (P + Pᵀ) W
 *
 * Each step projects G onto the tangent spaces, descends and renormalises (the "projected" of
 * projected gradient descent; the exclusion zone, when there is one, is a further projection):
 *
 *   g_i ← g_i − (g_i·w_i) w_i,     w_i ← (w_i − η_t g_i) / ‖w_i − η_t g_i‖,
 *   η_t = η · ½ (1 + cos(π t / T))
 *
 * Memory is O(N·k + N·d) per step; the refresh works in blocks of `chunk` rows (chunk × N).
 */
import { CancelledError } from '../bridge/errors.ts';
import type { JobProgress } from '../bridge/jobs.ts';
import { Tensor, tidy } from '../bridge/tensor.ts';
import type { ExclusionZone } from './exclusion.ts';
import { angleOf, nearestNeighbours, separationOf, type Separation } from './neighbours.ts';
import { RowSparseLayout } from './sparse.ts';

/** The descent's state before step `step` (a refresh step, so that resuming from it gives the
 *  same anchors as not stopping), and the start's separation. */
export interface TammesState {
  step: number;
  anchors: Tensor;
  start: Separation;
}

/** Where a descent saves its state now and then, and finds it again after a kill. */
export interface TammesCheckpoints {
  /** The state saved last, if any. */
  load(): Promise<TammesState | null>;
  save(state: TammesState): Promise<void>;
  /** Seconds between two saves (a save happens at the first refresh step after that). */
  everySeconds: number;
}

export interface TammesOptions {
  /** T: descent steps. */
  steps: number;
  /** τ of the smooth maximum (in cosine units). */
  temperature: number;
  /** η: the first step size (it decays to 0 over the steps, as a half cosine). */
  stepSize: number;
  /** k: nearest anchors each anchor is pushed from. */
  neighbours: number;
  /** Steps between two exact nearest-neighbour searches. */
  refreshEvery: number;
  /** Rows per block of the exact searches. */
  chunk: number;
  /** Keeps anchors out of the training identities' caps (projected after every step). */
  exclusion?: ExclusionZone;
  onProgress?: (progress: JobProgress) => void;
  signal?: AbortSignal;
  checkpoints?: TammesCheckpoints;
}

export interface TammesResult {
  /** (N, d) unit anchors. */
  anchors: Tensor;
  /** The random start's separation (exact), for comparison. */
  start: Separation;
}

/** Each anchor's k nearest (exact) as a sparse layout, and each anchor's nearest cosine (N,). */
async function neighbourSets(W: Tensor, k: number, chunk: number): Promise<{ sets: RowSparseLayout; nearest: Tensor }> {
  return tidy(async () => {
    const { indices, cosines } = await nearestNeighbours(W, k, chunk);
    const sets = await RowSparseLayout.build(indices, W.shape[0]!, { transpose: true });
    return { sets, nearest: await cosines.slice(1, 0, 1).squeeze(1) };
  });
}

/** What a step measures, for progress: the largest tracked cosine and mean_i τ·log Σ_j exp(w_i·w_j/τ). */
interface StepMetrics {
  largest: Tensor;
  smoothMax: Tensor;
}

/** Cosines w_i·w_j of the layout's pairs, (N, k) in its row order. */
async function trackedCosines(W: Tensor, sets: RowSparseLayout): Promise<Tensor> {
  return sets.pattern.sampledMatmul(W, W.T()).values().reshape(sets.indices.shape);
}

/** ∂E/∂W = (P + Pᵀ) W for the pairs of `sets`, from their cosines (N, k); see the top of this file. */
async function gradientFrom(W: Tensor, sets: RowSparseLayout, scaled: Tensor): Promise<Tensor> {
  const p = await scaled.softmax(1).reshape([-1]); // p_ij = softmax_j(w_i·w_j / τ), row by row
  return sets.times(p, W).add(sets.transposedTimes(p, W));
}

/** ∂E/∂W (N, d) of E(W) = Σ_i τ log Σ_{j ∈ N(i)} exp(w_i·w_j / τ), N(i) the rows of `sets` (built with transpose). */
export function smoothMaxGradient(W: Tensor, sets: RowSparseLayout, tau: number): Promise<Tensor> {
  return tidy(async () => gradientFrom(W, sets, await (await trackedCosines(W, sets)).div(tau)));
}

/**
 * One descent step: the cosines of the tracked pairs, the gradient, the tangent step; with
 * `measure`, also the step's metrics (a few more bridge calls, so not at every step).
 */
function descend(W: Tensor, sets: RowSparseLayout, tau: number, eta: number, measure: boolean): Promise<{ anchors: Tensor; metrics: StepMetrics | null }> {
  return tidy(async () => {
    const cosines = await trackedCosines(W, sets); // (N, k): w_i·w_j
    const scaled = await cosines.div(tau);
    const G = await gradientFrom(W, sets, scaled); // (P + Pᵀ) W
    const radial = await G.mul(W).sum(1, true); // g_i·w_i
    const tangent = await G.sub(W.mul(radial));
    const anchors = await W.sub(tangent.mul(eta)).normalize(1);
    if (!measure) return { anchors, metrics: null };
    return { anchors, metrics: { largest: await cosines.amax(), smoothMax: await scaled.logsumexp(1).mean().mul(tau) } };
  });
}

/** Seconds between two measured steps (as python/id3_torch/bridge/jobs.py's event interval). */
const MEASURE_INTERVAL = 0.5;

/**
 * Solve from the unit rows `start` (N, d), or from the last checkpoint when there is one;
 * `start` is left as it is.
 */
export async function solveTammes(start: Tensor, options: TammesOptions): Promise<TammesResult> {
  const { steps, temperature, stepSize, refreshEvery, chunk, exclusion, onProgress, signal, checkpoints } = options;
  const n = start.shape[0]!;
  if (n < 2) throw new Error(`anchors.count: expected at least 2 anchors for the Tammes problem, got ${n}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`anchors.steps: expected a positive integer, got ${steps}`);
  const k = Math.min(options.neighbours, n - 1);

  const resumed = await checkpoints?.load();
  if (resumed && (resumed.step % refreshEvery !== 0 || resumed.step > steps || resumed.anchors.shape.join() !== start.shape.join())) {
    throw new Error(`anchors: the checkpoint (step ${resumed.step}, shape [${resumed.anchors.shape}]) does not belong to this descent`);
  }
  const first = resumed?.step ?? 0;
  const began = performance.now();
  const report = (step: number, metrics: Record<string, number>) => {
    if (!onProgress) return;
    const elapsed = (performance.now() - began) / 1000;
    const rate = (step - first) / elapsed;
    onProgress({ step, total: steps, label: 'tammes', unit: 'step', rate, eta: (steps - step) / rate, elapsed, metrics });
  };

  // Fresh, the first neighbour sets are the random start's: they also give its separation.
  const found = await neighbourSets(resumed?.anchors ?? start, k, chunk);
  let sets = found.sets;
  const startSeparation = resumed?.start ?? (await separationOf(start, found.nearest));
  await found.nearest.dispose();
  let W = resumed?.anchors ?? start;
  let lastMeasured = -Infinity;
  let lastSaved = performance.now();
  try {
    if (exclusion && !resumed) W = await exclusion.project(start);
    if (exclusion && resumed) await exclusion.refresh(W);
    for (let t = first; t < steps; t++) {
      if (signal?.aborted) throw new CancelledError('anchors (tammes)');
      if (t > first && t % refreshEvery === 0) {
        if (checkpoints && performance.now() - lastSaved >= checkpoints.everySeconds * 1000) {
          await checkpoints.save({ step: t, anchors: W, start: startSeparation });
          lastSaved = performance.now();
        }
        await sets.dispose();
        const refreshed = await neighbourSets(W, k, chunk);
        await refreshed.nearest.dispose();
        sets = refreshed.sets;
        await exclusion?.refresh(W);
      }
      const eta = stepSize * 0.5 * (1 + Math.cos((Math.PI * t) / steps));
      const now = performance.now();
      const measure = onProgress !== undefined && (t === steps - 1 || now - lastMeasured >= MEASURE_INTERVAL * 1000);
      const step = await descend(W, sets, temperature, eta, measure);
      const projected = exclusion ? await exclusion.project(step.anchors) : step.anchors;
      if (projected !== step.anchors) await step.anchors.dispose();
      if (W !== start) await W.dispose();
      W = projected;
      if (step.metrics) {
        lastMeasured = now;
        const { largest, smoothMax } = step.metrics;
        report(t + 1, { trackedMinAngle: angleOf(await largest.item()), smoothMax: await smoothMax.item() });
        await Tensor.disposeAll([largest, smoothMax]);
      }
    }
  } catch (err) {
    if (W !== start) await W.dispose();
    throw err;
  } finally {
    await sets.dispose();
  }
  return { anchors: W, start: startSeparation };
}
