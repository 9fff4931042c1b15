/**
 * Typed calls of the Python job that measures a trained ID³ model (python/id3_torch/diffusion/jobs.py)
 * and of the attribute regressor (python/id3_torch/encoders/attribute_regressor.py).
 */
import { runJob, type RunJobOptions } from '../bridge/jobs.ts';
import type { PythonSession } from '../bridge/session.ts';
import type { DiffusionSampler, Id3Config } from '../config/schema.ts';

/** The sampler fields Python reads (`SamplerOptions.from_args`); guidanceTarget and batchSize are the caller's. */
export type SamplerArgs = Omit<DiffusionSampler, 'guidanceTarget' | 'batchSize'>;

export function samplerArgs(sampler: DiffusionSampler): SamplerArgs {
  const { guidanceTarget: _target, batchSize: _batchSize, ...args } = sampler;
  return args;
}

export interface MeasureArgs {
  trainDir: string;
  manifest: string;
  /** Held-out identities to condition on (never trained on). */
  split: 'val' | 'test';
  /** Conditions per identity (each identity needs one image more, for genuineCosine). */
  perIdentity: number;
  sampler: SamplerArgs;
  /** Sample i has seed seed + i. */
  seed: number;
  batchSize: number;
  /** A folder written by `trainAttributeRegressor`; null: no attribute errors (real faces). */
  attributeRegressor: string | null;
  /** Independent encoders to judge with, by name (encoder specs, see `encoderSpec`); the model's own f is judge "f". */
  judges?: Record<string, object> | null;
  /** measure.json and samples.png (real images over samples) go here. */
  outDir?: string | null;
  device: Id3Config['device'];
}

type AttributeErrors = Record<'age' | 'yaw' | 'pitch' | 'roll', number>;

/** How one judge scores the samples (python/id3_torch/diffusion/measure.py). */
export interface IdentityScores {
  identityCosine: number;
  impostorCosine: number;
  rank1: number;
  genuineCosine: number;
}

export interface MeasureResult {
  split: string;
  identities: number;
  samples: number;
  identity: Record<string, IdentityScores>;
  attributeError: { samples: AttributeErrors; real: AttributeErrors } | null;
  sampler: SamplerArgs;
  samplingSeconds: number;
}

export const measureIdentityPreservation = (session: PythonSession, args: MeasureArgs, options?: RunJobOptions) =>
  runJob<MeasureResult>(session, 'diffusion.measure', args, options);

export interface AttributeRegressorArgs {
  manifest: string;
  outDir: string;
  splits?: string[];
  evalSplit: 'val' | 'test';
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  inputSize: number;
  widths: number[];
  device: Id3Config['device'];
}

export interface AttributeRegressorResult {
  evalSplit: string;
  evalImages: number;
  meanAbsoluteError: AttributeErrors;
}

export const trainAttributeRegressor = (session: PythonSession, args: AttributeRegressorArgs, options?: RunJobOptions) =>
  runJob<AttributeRegressorResult>(session, 'attributes.train', args, options);
