/**
 * Identity anchors by the Tammes problem (docs/method.md, "Synthetic dataset
 * generation"): N points w_i on S^{d-1} whose smallest pairwise angle is as large as possible.
 * Projected gradient descent from random normalised Gaussians on E, minus a smooth minimum of each
 * anchor's nearest angles θ_ij = arccos(w_i·w_j) (so descending E raises them), at a temperature τ_t that is annealed:
 *
 *   E(W) = Σ_i τ_t · log Σ_{j ∈ N(i)} exp(−θ_ij / τ_t),     τ_t = τ_0 · (τ_1 / τ_0)^{t / (T − 1)}
 *
 * Why angles and not cosines [ours]: the cosine's gradient along the sphere, sin θ_ij, vanishes for
 * two anchors that start almost together, so a smooth maximum of cosines leaves such pairs stuck
 * (12 anchors in 3-d ended at 0.00° from one seed). The angle pushes every pair apart at unit speed.
 * Why annealed: a warm τ_0 spreads the anchors globally, a cold τ_1 then sharpens E towards the
 * true smallest angle (with a fixed τ, 12 anchors in 3-d stopped at 55.8° from some seeds; annealed, every
 * seed reaches the icosahedron's 63.43°).
 *
 * N(i): the k nearest anchors of i, found exactly every `refreshEvery` steps (their angles are
 * recomputed at every step). The gradient, analytic since no autograd crosses the bridge, with
 * p_ij = softmax_{j ∈ N(i)}(−θ_ij / τ_t), ∂θ_ij/∂w_i = −w_j / sin θ_ij, and Q the sparse N × N
 * matrix of q_ij = p_ij / sin θ_ij:
 *
 *   ∂E/∂w_i = Σ_{j ∈ N(i)} q_ij w_j + Σ_{l : i ∈ N(l)} q_li w_l,    i.e.  G = (Q + Qᵀ) W
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
import { nearestNeighbours, separationOf, type Separation } from './neighbours.ts';
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
  /** τ_0 and τ_1 of the smooth minimum (radians): the first step's and the last step's. */
  temperature: readonly [number, number];
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

/** What a step measures, for progress: the smallest tracked angle (radians) and the smooth minimum −τ log Σ_j exp(−θ_ij/τ), averaged over i. */
interface StepMetrics {
  smallest: Tensor;
  smoothMin: Tensor;
}

/** Below this sin θ a pair counts as coincident: its push is capped at 1/SIN_FLOOR instead of growing without bound. */
const SIN_FLOOR = 1e-3;

/** Cosines w_i·w_j of the layout's pairs, (N, k) in its row order. */
async function trackedCosines(W: Tensor, sets: RowSparseLayout): Promise<Tensor> {
  return sets.pattern.sampledMatmul(W, W.T()).values().reshape(sets.indices.shape);
}

/** ∂E/∂W = (Q + Qᵀ) W for the pairs of `sets`, from their cosines (N, k); see the top of this file. */
async function gradientFrom(W: Tensor, sets: RowSparseLayout, cosines: Tensor, angles: Tensor, tau: number): Promise<Tensor> {
  const sines = cosines
    .mul(cosines)
    .neg()
    .add(1)
    .clamp({ min: SIN_FLOOR * SIN_FLOOR })
    .sqrt(); // sin θ_ij
  const q = await angles.div(-tau).softmax(1).div(sines).reshape([-1]); // q_ij = softmax_j(−θ_ij/τ) / sin θ_ij
  return sets.times(q, W).add(sets.transposedTimes(q, W));
}

/** Angles θ_ij (N, k) of the tracked pairs, from their cosines. */
const anglesOf = (cosines: Tensor) => cosines.clamp({ min: -1, max: 1 }).acos();

/** ∂E/∂W (N, d) of E(W) = Σ_i τ log Σ_{j ∈ N(i)} exp(−θ_ij / τ), N(i) the rows of `sets` (built with transpose). */
export function smoothMinGradient(W: Tensor, sets: RowSparseLayout, tau: number): Promise<Tensor> {
  return tidy(async () => {
    const cosines = await trackedCosines(W, sets);
    return gradientFrom(W, sets, cosines, await anglesOf(cosines), tau);
  });
}

/** τ_t = τ_0 (τ_1/τ_0)^{t/(T−1)}: geometric from the first step's to the last step's. */
export function annealedTemperature([first, last]: readonly [number, number], t: number, steps: number): number {
  return steps <= 1 ? last : first * (last / first) ** (t / (steps - 1));
}

/**
 * One descent step: the angles of the tracked pairs, the gradient, the tangent step; with
 * `measure`, also the step's metrics (a few more bridge calls, so not at every step).
 */
function descend(
  W: Tensor,
  sets: RowSparseLayout,
  tau: number,
  eta: number,
  measure: boolean,
): Promise<{ anchors: Tensor; metrics: StepMetrics | null }> {
  return tidy(async () => {
    const cosines = await trackedCosines(W, sets); // (N, k): w_i·w_j
    const angles = await anglesOf(cosines); // θ_ij
    const G = await gradientFrom(W, sets, cosines, angles, tau); // (Q + Qᵀ) W
    const radial = await G.mul(W).sum(1, true); // g_i·w_i
    const tangent = await G.sub(W.mul(radial));
    const anchors = await W.sub(tangent.mul(eta)).normalize(1);
    if (!measure) return { anchors, metrics: null };
    return { anchors, metrics: { smallest: await angles.amin(), smoothMin: await angles.div(-tau).logsumexp(1).mean().mul(-tau) } };
  });
}

const radiansToDegrees = (radians: number) => (radians * 180) / Math.PI;

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
      const step = await descend(W, sets, annealedTemperature(temperature, t, steps), eta, measure);
      const projected = exclusion ? await exclusion.project(step.anchors) : step.anchors;
      if (projected !== step.anchors) await step.anchors.dispose();
      if (W !== start) await W.dispose();
      W = projected;
      if (step.metrics) {
        lastMeasured = now;
        const { smallest, smoothMin } = step.metrics;
        report(t + 1, {
          trackedMinAngle: radiansToDegrees(await smallest.item()),
          smoothMinAngle: radiansToDegrees(await smoothMin.item()),
        });
        await Tensor.disposeAll([smallest, smoothMin]);
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
