/** Verification: the field's 10-fold protocol on pair sets, for every face-recognition model of a run. */
import { z } from 'zod';
import { nonNegativeInt, positiveInt } from './fields.ts';

/** A verification benchmark as insightface distributes them (lfw.bin, cfp_fp.bin, agedb_30.bin, ...). */
export const Benchmark = z.strictObject({
  name: z
    .string({ error: 'expected a name' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a name of letters, digits, ".", "_", "-"' })
    .describe('its column in the tables, e.g. "lfw"'),
  path: z
    .string({ error: 'expected a path' })
    .min(1, { error: 'expected a path' })
    .describe('the .bin file, relative to the working directory'),
});
export type Benchmark = z.infer<typeof Benchmark>;

/** An IJB-B or IJB-C release folder as insightface distributes it (IJB_release/IJBB, IJB_release/IJBC). */
export const IjbBenchmark = z.strictObject({
  name: Benchmark.shape.name.describe('its rows in the tables, e.g. "IJB-C"'),
  folder: z
    .string({ error: 'expected a path' })
    .min(1, { error: 'expected a path' })
    .describe('the folder holding loose_crop/ and meta/ (ijbb_* or ijbc_* files), relative to the working directory'),
  detectorScore: z.boolean().default(true).describe("weight each image by its detector score (insightface's default, D1)"),
  normScore: z
    .boolean()
    .default(true)
    .describe("keep each image feature's norm when pooling (insightface's default, N1); false: normalise first"),
  whenMissing: z
    .enum(['error', 'skip'])
    .default('error')
    .describe('a folder that is not there: stop before the run starts (error), or leave the benchmark out and say so (skip)'),
});
export type IjbBenchmark = z.infer<typeof IjbBenchmark>;

export const Evaluate = z
  .strictObject({
    split: z
      .enum(['val', 'test'])
      .nullable()
      .default('test')
      .describe('held-out identities of the prepared set the pairs are drawn from; null: none (benchmarks only)'),
    pairs: positiveInt()
      .refine((n) => n % 20 === 0, { error: 'expected a multiple of 20 (10 folds of same + different pairs)' })
      .default(6000)
      .describe('pairs drawn from the held-out split'),
    seed: nonNegativeInt().default(0),
    benchmarks: z
      .array(Benchmark)
      .refine((list) => new Set(list.map((b) => b.name)).size === list.length, { error: 'expected benchmarks of distinct names' })
      .default([])
      .describe('verification .bin pair sets scored with every model'),
    ijb: z
      .array(IjbBenchmark)
      .refine((list) => new Set(list.map((b) => b.name)).size === list.length, { error: 'expected IJB folders of distinct names' })
      .default([])
      .describe('IJB-B/C 1:1 template verification (TAR at FAR 1e-6 … 1e-1) with every model'),
    workers: nonNegativeInt().default(0).describe('processes reading and aligning IJB photos while the network runs'),
    pixelBaseline: z.boolean().default(true).describe('also score raw-pixel cosine on the same pairs'),
    batchSize: positiveInt().default(256),
  })
  .prefault({});
export type Evaluate = z.infer<typeof Evaluate>;
