/**
 * The exclusion zone: every anchor at least α from every training identity centre c, so that no
 * synthetic identity copies a real person. An anchor w inside the cap of c (ρ = w·c > cos α) is
 * moved to the cap's edge along the great circle from c through w:
 *
 *   w ← cos α · c + sin α · (w − ρ c) / ‖w − ρ c‖          (then w·c = cos α exactly)
 *
 * During the Tammes descent each anchor is checked against its few nearest centres (found again
 * at every neighbour refresh); `enforce` checks against every centre and repeats until no anchor
 * is inside any cap, since leaving one cap can enter another.
 */
import { Tensor, tidy } from '../bridge/tensor.ts';
import { angleOf, nearestAmong, nearestNeighbours, radians } from './neighbours.ts';
import { RowSparseLayout } from './sparse.ts';

/** The percentile of the training identities' nearest-neighbour angles that `exclusionAngle: 'auto'` takes. */
export const AUTOMATIC_EXCLUSION_PERCENTILE = 5;

/**
 * `exclusionAngle: 'auto'`: the 5th percentile of the angles from each training identity centre to its nearest
 * other centre, in degrees. That is how close two distinct training people come in f: 95 % of them are further
 * apart than it, so an anchor kept that far from every centre is no nearer a training person than real people
 * are to one another.
 */
export async function automaticExclusionAngle(centres: Tensor, chunk: number): Promise<number> {
  if (centres.shape[0]! < 2) throw new Error("anchors.exclusionAngle: 'auto' needs at least two training identities");
  const { indices, cosines } = await nearestNeighbours(centres, 1, chunk);
  const nearest = Array.from(await cosines.toFloat32Array(), angleOf).sort((a, b) => a - b);
  await Tensor.disposeAll([indices, cosines]);
  return nearest[Math.floor((AUTOMATIC_EXCLUSION_PERCENTILE / 100) * (nearest.length - 1))]!;
}

/** Rounds of `enforce` before the zone is declared infeasible. */
const ENFORCE_ROUNDS = 100;
/** Slack on cos α for "inside": the projection lands on the edge only up to float rounding. */
const EDGE_TOLERANCE = 1e-6;

export class ExclusionZone {
  private readonly cosAlpha: number;
  private readonly sinAlpha: number;
  /** Each anchor's nearest centres, as an N × K sparse layout. */
  private candidates: RowSparseLayout | null = null;

  /**
   * @param centres (K, d) unit training identity centres
   * @param angle α in degrees, in (0, 90]
   * @param chunk anchors per block of the exact searches
   * @param tracked centres checked per anchor between refreshes
   */
  constructor(
    readonly centres: Tensor,
    readonly angle: number,
    private readonly chunk: number,
    private readonly tracked = 8,
  ) {
    this.cosAlpha = Math.cos(radians(angle));
    this.sinAlpha = Math.sin(radians(angle));
  }

  /** Find each anchor's nearest centres again (exact, blockwise). */
  async refresh(W: Tensor): Promise<void> {
    await this.dispose();
    const k = Math.min(this.tracked, this.centres.shape[0]!);
    this.candidates = await tidy(async () =>
      RowSparseLayout.build((await nearestAmong(W, this.centres, k, this.chunk)).indices, this.centres.shape[0]!),
    );
  }

  /** W with each anchor moved out of the cap of its nearest tracked centre, `passes` times. */
  async project(W: Tensor, passes = 2): Promise<Tensor> {
    if (!this.candidates) await this.refresh(W);
    const { indices, pattern } = this.candidates!;
    let current = W;
    for (let pass = 0; pass < passes; pass++) {
      const next = await tidy(async () => {
        const sampled = await pattern.sampledMatmul(current, this.centres.T());
        const cosines = await sampled.values().reshape(indices.shape); // (N, kc)
        const { values: rho, indices: which } = await cosines.max(1, true); // (N, 1) each
        const centreIds = await indices.gather(1, which).squeeze(1); // (N,)
        return this.moveOut(current, rho, centreIds);
      });
      if (current !== W) await current.dispose();
      current = next;
    }
    return current;
  }

  /**
   * W with no anchor inside any cap, checked against every centre, and how many moves that
   * took; throws when the caps leave no room.
   */
  async enforce(W: Tensor): Promise<{ anchors: Tensor; moved: number }> {
    let current = W;
    let moved = 0;
    for (let round = 0; round < ENFORCE_ROUNDS; round++) {
      const step = await tidy(async () => {
        const nearest = await nearestAmong(current, this.centres, 1, this.chunk);
        const inside = await nearest.cosines
          .gt(this.cosAlpha + EDGE_TOLERANCE)
          .cast('float32')
          .sum()
          .item();
        if (inside === 0) return null;
        return { inside, anchors: await this.moveOut(current, nearest.cosines, await nearest.indices.squeeze(1)) };
      });
      if (step === null) return { anchors: current, moved };
      moved += step.inside;
      if (current !== W) await current.dispose();
      current = step.anchors;
    }
    const closest = await closestApproach(current, this.centres, this.chunk);
    throw new Error(
      `anchors.exclusionAngle: cannot keep every anchor ${this.angle}° from the ${this.centres.shape[0]} training identity centres ` +
        `(after ${ENFORCE_ROUNDS} rounds the closest is at ${closest.toFixed(2)}°); expected a smaller angle, or fewer anchors`,
    );
  }

  async dispose(): Promise<void> {
    await this.candidates?.dispose();
    this.candidates = null;
  }

  /** W with the anchors whose ρ (N, 1) exceeds cos α moved to the edge of centre centreIds' (N,) cap. */
  private moveOut(W: Tensor, rho: Tensor, centreIds: Tensor): Promise<Tensor> {
    return tidy(async () => {
      const c = await this.centres.indexSelect(0, centreIds); // (N, d)
      const away = await W.sub(c.mul(rho)).normalize(1); // (w − ρc) / ‖w − ρc‖
      const edge = await c.mul(this.cosAlpha).add(away.mul(this.sinAlpha));
      return edge.where(rho.gt(this.cosAlpha), W); // the (N, 1) mask broadcasts over d
    });
  }
}

/** The smallest angle in degrees from any row of W to any centre (exact, blockwise). */
export function closestApproach(W: Tensor, centres: Tensor, chunk: number): Promise<number> {
  return tidy(async () => {
    const { cosines } = await nearestAmong(W, centres, 1, chunk);
    return angleOf(await cosines.amax().item());
  });
}
