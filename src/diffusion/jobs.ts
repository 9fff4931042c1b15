/**
 * Typed calls of the Python job that measures a trained ID³ model and of the attribute
 * regressor (python/id3_torch/jobs/diffusion.py); their contracts are src/jobs/diffusion.ts.
 */
import { runJob, type JobArgs, type JobResult, type RunJobOptions } from '../bridge/jobs.ts';
import type { PythonSession } from '../bridge/session.ts';
import type { DiffusionSampler } from '../config/schema.ts';
import { attributesTrainJob, measureJob, type SamplerArgs } from '../jobs/diffusion.ts';

export type { SamplerArgs };

export function samplerArgs(sampler: DiffusionSampler): SamplerArgs {
  const { guidanceTarget: _target, batchSize: _batchSize, ...args } = sampler;
  return args;
}

export type MeasureArgs = JobArgs<typeof measureJob>;
export type MeasureResult = JobResult<typeof measureJob>;

export const measureIdentityPreservation = (session: PythonSession, args: MeasureArgs, options?: RunJobOptions) =>
  runJob(session, measureJob, args, options);

export const trainAttributeRegressor = (session: PythonSession, args: JobArgs<typeof attributesTrainJob>, options?: RunJobOptions) =>
  runJob(session, attributesTrainJob, args, options);
