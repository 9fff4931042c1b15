/**
 * Anchor design: N identity anchors on S^{d-1} by a method (the Tammes descent, or random for
 * the ablation), kept out of the training identities' caps when asked, and the report of how
 * far apart they ended up and how close they come to the training identities.
 */
import type { JobProgress } from '../bridge/jobs.ts';
import type { PythonSession } from '../bridge/session.ts';
import { Tensor } from '../bridge/tensor.ts';
import type { AnchorsConfig } from '../config/anchors.ts';
import { automaticExclusionAngle, closestApproach, ExclusionZone } from './exclusion.ts';
import { separation, type Separation } from './neighbours.ts';
import { solveTammes, type TammesCheckpoints } from './tammes.ts';

/** What the design needs: the config section, with d settled. */
export type AnchorDesign = Omit<AnchorsConfig, 'dim'> & { dim: number };

export interface DesignOptions {
  /** 'cpu' (default), 'cuda', 'cuda:N'. */
  device?: string;
  /** (K, d) unit training identity centres: the report gives the closest approach to them, and
   *  with `exclusionAngle` the anchors keep out of their caps. */
  centres?: Tensor;
  onProgress?: (progress: JobProgress) => void;
  signal?: AbortSignal;
  /** Where a Tammes descent saves its state, to resume after a kill. */
  checkpoints?: TammesCheckpoints;
}

/** How the anchors came out; angles in degrees. */
export interface AnchorReport extends Separation {
  method: AnchorsConfig['method'];
  count: number;
  dim: number;
  seed: number;
  /** Descent steps taken (0 for random). */
  steps: number;
  /** The random start (normalised Gaussians of the seed), for comparison. */
  start: Separation;
  /** Against the training identity centres, when they were given. */
  training: {
    identities: number;
    /** The smallest angle from any anchor to any centre. */
    closestAngle: number;
    /** The zone's angle (degrees), as configured or as 'auto' measured it; null without a zone. */
    exclusionAngle: number | null;
    /** Whether the angle was measured ('auto': automaticExclusionAngle) rather than configured. */
    exclusionAutomatic: boolean;
    /** Anchors moved out of a cap by the final exact check (0 when the descent kept them out). */
    moved: number;
  } | null;
  seconds: number;
  device: string;
}

/** The anchors (N, d) of `design`, and their report. Deterministic for a seed (on one device). */
export async function designAnchors(
  session: PythonSession,
  design: AnchorDesign,
  options: DesignOptions = {},
): Promise<{ anchors: Tensor; report: AnchorReport }> {
  const { device = 'cpu', centres, onProgress, signal, checkpoints } = options;
  if (design.exclusionAngle !== undefined && !centres)
    throw new Error('anchors.exclusionAngle: needs the training identity centres (an encoder section)');
  if (centres && centres.shape[1] !== design.dim) {
    throw new Error(`anchors.dim: the anchors have d = ${design.dim}, but the training identity centres have ${centres.shape[1]}`);
  }
  const began = performance.now();
  const exclusionAngle = design.exclusionAngle === 'auto' ? await automaticExclusionAngle(centres!, design.chunk) : design.exclusionAngle;
  const zone = exclusionAngle !== undefined ? new ExclusionZone(centres!, exclusionAngle, design.chunk) : undefined;
  const start = await Tensor.randn(session, [design.count, design.dim], { seed: design.seed, device }).normalize(1);
  let anchors = start;
  try {
    let startSeparation: Separation;
    if (design.method === 'tammes') {
      const solved = await solveTammes(start, { ...design, exclusion: zone, onProgress, signal, checkpoints });
      anchors = solved.anchors;
      startSeparation = solved.start;
    } else {
      startSeparation = await separation(start, design.chunk);
    }
    let moved = 0;
    if (zone) {
      const enforced = await zone.enforce(anchors);
      if (enforced.anchors !== anchors && anchors !== start) await anchors.dispose();
      anchors = enforced.anchors;
      moved = enforced.moved;
    }
    const final = await separation(anchors, design.chunk);
    const training = centres
      ? {
          identities: centres.shape[0]!,
          closestAngle: await closestApproach(anchors, centres, design.chunk),
          exclusionAngle: exclusionAngle ?? null,
          exclusionAutomatic: design.exclusionAngle === 'auto',
          moved,
        }
      : null;
    const report: AnchorReport = {
      method: design.method,
      count: design.count,
      dim: design.dim,
      seed: design.seed,
      steps: design.method === 'tammes' ? design.steps : 0,
      ...final,
      start: startSeparation,
      training,
      seconds: (performance.now() - began) / 1000,
      device: anchors.device,
    };
    return { anchors, report };
  } catch (err) {
    if (anchors !== start) await anchors.dispose();
    throw err;
  } finally {
    await zone?.dispose();
    if (anchors !== start) await start.dispose();
  }
}
