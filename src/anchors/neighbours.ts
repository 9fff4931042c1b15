/**
 * Nearest neighbours on the unit sphere by cosine, exactly: X @ Xᵀ one block of rows at a time,
 * so that memory grows as rows × N, never N × N (at N = 100,000 a block of 1,024 rows is 0.4 GB).
 */
import { Tensor, tidy } from '../bridge/tensor.ts';

export interface Neighbours {
  /** (N, k) int64: each row's k nearest candidates, nearest first. */
  indices: Tensor;
  /** (N, k) float32: their cosines, largest first. */
  cosines: Tensor;
}

/** How a point set is spread: the figures the anchor report and the dataset card give. */
export interface Separation {
  /** Smallest angle between two points, in degrees: acos of the largest cosine. */
  minAngle: number;
  /** Mean over points of the angle to the nearest other point, in degrees. */
  meanNearestAngle: number;
  /** Largest cosine between two points. */
  maxCosine: number;
  /** Mean over points of the cosine to the nearest other point. */
  meanNearestCosine: number;
  /** Mean cosine over all pairs i ≠ j: (‖Σ x_i‖² − N) / (N (N − 1)). */
  meanCosine: number;
}

export const degrees = (rad: number) => (rad * 180) / Math.PI;
export const radians = (deg: number) => (deg * Math.PI) / 180;
/** acos in degrees, for cosines that rounding may have put just outside [-1, 1]. */
export const angleOf = (cosine: number) => degrees(Math.acos(Math.min(1, Math.max(-1, cosine))));

/**
 * The k nearest rows of `points` (N, d) for each row of `queries` (B, d), rows being unit
 * vectors. With `selfOffset`, query q is point selfOffset + q, which is left out.
 */
function nearestInBlock(queries: Tensor, points: Tensor, k: number, selfOffset?: number): Promise<Neighbours> {
  return tidy(async () => {
    let cosines = await queries.matmul(points.T()); // (B, N)
    if (selfOffset !== undefined) {
      const { session, device } = queries;
      const rows = await Tensor.arange(session, selfOffset, selfOffset + queries.shape[0]!, { device });
      const columns = await Tensor.arange(session, points.shape[0]!, undefined, { device });
      const self = await (await rows.unsqueeze(1)).eq(columns); // (B, N)
      // A point's own cosine (1) becomes -3, below every other.
      cosines = await (await Tensor.full(session, [], -3, { device })).where(self, cosines);
    }
    const { values, indices } = await cosines.topk(k, 1);
    return { indices, cosines: values };
  });
}

/** For every point, its k nearest other points (exact), `chunk` rows at a time. */
export function nearestNeighbours(X: Tensor, k: number, chunk: number): Promise<Neighbours> {
  return nearestAmong(X, X, k, chunk, true);
}

/** For every row of `queries`, its k nearest rows of `points` (exact), `chunk` rows at a time. */
export function nearestAmong(queries: Tensor, points: Tensor, k: number, chunk: number, selfExcluded = false): Promise<Neighbours> {
  const available = points.shape[0]! - (selfExcluded ? 1 : 0);
  if (!Number.isInteger(k) || k < 1 || k > available) throw new Error(`nearest neighbours: k = ${k}, but there are ${available} candidates`);
  return tidy(async () => {
    const blocks: Neighbours[] = [];
    for (let start = 0; start < queries.shape[0]!; start += chunk) {
      const block = await queries.slice(0, start, start + chunk);
      blocks.push(await nearestInBlock(block, points, k, selfExcluded ? start : undefined));
    }
    if (blocks.length === 1) return blocks[0]!;
    return { indices: await Tensor.cat(blocks.map((b) => b.indices)), cosines: await Tensor.cat(blocks.map((b) => b.cosines)) };
  });
}

/** The separation figures of unit rows X from each point's nearest cosine `nearest` (N,). */
export function separationOf(X: Tensor, nearest: Tensor): Promise<Separation> {
  return tidy(async () => {
    const n = X.shape[0]!;
    const clamped = await nearest.clamp({ min: -1, max: 1 });
    const maxCosine = await (await clamped.amax()).item();
    const meanNearestCosine = await (await clamped.mean()).item();
    const meanNearestAngle = degrees(await (await (await clamped.acos()).mean()).item());
    const sum = await X.sum(0);
    const squaredNorm = await (await (await sum.mul(sum)).sum()).item();
    return {
      minAngle: angleOf(maxCosine),
      meanNearestAngle,
      maxCosine,
      meanNearestCosine,
      meanCosine: n > 1 ? (squaredNorm - n) / (n * (n - 1)) : 0,
    };
  });
}

/** The exact separation of unit rows X (one blockwise pass of X @ Xᵀ). */
export function separation(X: Tensor, chunk: number): Promise<Separation> {
  return tidy(async () => {
    const { cosines } = await nearestNeighbours(X, 1, chunk);
    return separationOf(X, await cosines.squeeze(1));
  });
}
