/**
 * Nearest neighbours on the unit sphere by cosine, exactly: X @ Xᵀ one block of rows at a time,
 * so that memory grows as rows × N, never N × N (at N = 100,000 a block of 1,024 rows is 0.4 GB).
 *
 * (Using the symmetry of X @ Xᵀ, each pair of row blocks multiplied once for the rows of both,
 * halves the multiply-adds but not the time on a CPU: the two top-k passes per block pair cost
 * what the saved product did, measured at N = 10,000, d = 512.)
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

/** The k nearest rows of `points` (M, d) for each row of `queries` (B, d), rows being unit vectors. */
function nearestInBlock(queries: Tensor, points: Tensor, k: number): Promise<Neighbours> {
  return tidy(async () => {
    const { values, indices } = await queries.matmul(points.T()).topk(k, 1);
    return { indices, cosines: values };
  });
}

/** For every row of `queries`, its k nearest rows of `points` (exact), `chunk` query rows at a time. */
export function nearestAmong(queries: Tensor, points: Tensor, k: number, chunk: number): Promise<Neighbours> {
  checkK(k, points.shape[0]!);
  return tidy(async () => {
    const blocks: Neighbours[] = [];
    for (let start = 0; start < queries.shape[0]!; start += chunk) {
      blocks.push(await nearestInBlock(await queries.slice(0, start, start + chunk), points, k));
    }
    return joined(blocks);
  });
}

/** Row blocks' neighbours, stacked (inside a tidy: the blocks are then freed). */
async function joined(blocks: Neighbours[]): Promise<Neighbours> {
  if (blocks.length === 1) return blocks[0]!;
  return { indices: await Tensor.cat(blocks.map((b) => b.indices)), cosines: await Tensor.cat(blocks.map((b) => b.cosines)) };
}

function checkK(k: number, candidates: number): void {
  if (!Number.isInteger(k) || k < 1 || k > candidates)
    throw new Error(`nearest neighbours: k = ${k}, but there are ${candidates} candidates`);
}

/**
 * The k nearest other rows of X for each row of its block `queries` (B, d), which starts at row
 * `offset` of X: the k + 1 largest cosines hold the row itself (cosine 1) unless k + 1 others tie
 * with it; moving it last (a stable sort on "is self") and keeping k leaves the k nearest others,
 * without masking the whole (B, N) block.
 */
function nearestOthersInBlock(queries: Tensor, X: Tensor, k: number, offset: number): Promise<Neighbours> {
  return tidy(async () => {
    const { values, indices } = await queries.matmul(X.T()).topk(k + 1, 1); // (B, k + 1)
    const self = await Tensor.arange(X.session, offset, offset + queries.shape[0]!, { device: X.device }).unsqueeze(1);
    const order = await indices.eq(self).cast('int64').argsort(1).slice(1, 0, k);
    return { indices: await indices.gather(1, order), cosines: await values.gather(1, order) };
  });
}

/** For every point, its k nearest other points (exact), `chunk` rows at a time. */
export function nearestNeighbours(X: Tensor, k: number, chunk: number): Promise<Neighbours> {
  checkK(k, X.shape[0]! - 1);
  return tidy(async () => {
    const blocks: Neighbours[] = [];
    for (let start = 0; start < X.shape[0]!; start += chunk) {
      blocks.push(await nearestOthersInBlock(await X.slice(0, start, start + chunk), X, k, start));
    }
    return joined(blocks);
  });
}

/** The separation figures of unit rows X from each point's nearest cosine `nearest` (N,). */
export function separationOf(X: Tensor, nearest: Tensor): Promise<Separation> {
  return tidy(async () => {
    const n = X.shape[0]!;
    const clamped = await nearest.clamp({ min: -1, max: 1 });
    const maxCosine = await clamped.amax().item();
    const meanNearestCosine = await clamped.mean().item();
    const meanNearestAngle = degrees(await clamped.acos().mean().item());
    const sum = await X.sum(0);
    const squaredNorm = await sum.mul(sum).sum().item();
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
