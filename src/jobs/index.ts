/**
 * Every Python job, declared once: its kind, a zod schema for its arguments and one for its result
 * (src/bridge/jobs.ts `defineJob`). `runJob` and `runTorchrun` take these contracts; the arguments'
 * schemas are exported as JSON Schema to python/id3_torch/jobs/contracts.json (`npm run contracts`),
 * which Python checks every job's arguments against on entry.
 */
import { z } from 'zod';
import type { JobContract } from '../bridge/jobs.ts';
import { identityCentresJob } from './anchors.ts';
import { dataConvertJob } from './data.ts';
import { attributesTrainJob, measureJob, trainJob } from './diffusion.ts';
import { evaluateJob, verifyIjbJob } from './evaluate.ts';
import { generateJob, generatePreviewJob } from './generate.ts';
import { prepareParametricJob, prepareRealJob } from './prepare.ts';
import { plotsJob } from './report.ts';
import { trainFrJob } from './train-fr.ts';

export const JOBS: readonly JobContract[] = [
  prepareParametricJob,
  prepareRealJob,
  trainFrJob,
  evaluateJob,
  verifyIjbJob,
  plotsJob,
  dataConvertJob,
  identityCentresJob,
  generateJob,
  generatePreviewJob,
  trainJob,
  measureJob,
  attributesTrainJob,
];

/** Each job's arguments as JSON Schema (draft 2020-12), by kind: what Python validates on entry. */
export function argumentSchemas(): Record<string, object> {
  return Object.fromEntries(
    JOBS.map((job) => [
      job.kind,
      z.toJSONSchema(job.args, {
        io: 'output',
        unrepresentable: 'any',
        // float(), a z.custom, is any number, NaN included.
        override: (ctx) => {
          if (ctx.zodSchema._zod.def.type === 'custom') ctx.jsonSchema.type = 'number';
        },
      }),
    ]),
  );
}

/** The text of python/id3_torch/jobs/contracts.json. */
export function contractsFileText(): string {
  const schemas = argumentSchemas();
  const byKind = Object.fromEntries(
    Object.keys(schemas)
      .sort()
      .map((kind) => [kind, schemas[kind]]),
  );
  return (
    JSON.stringify({ $comment: 'Generated from src/jobs/ by `npm run contracts`: do not edit by hand.', jobs: byKind }, null, 1) + '\n'
  );
}
