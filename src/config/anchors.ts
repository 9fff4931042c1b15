/**
 * Identity anchors and the per-image plan (docs/method.md, "Synthetic dataset
 * generation"). `AnchorsConfig` is the config section `anchors` (the stage of that name);
 * `IdentityPlan` is the plan's section, for the stage that samples images (generate) to reuse.
 */
import { z } from 'zod';
import { interval, nonNegativeInt, numberInRange, positiveInt } from './fields.ts';

const positiveNumber = () => {
  const error = 'expected a number > 0';
  return z.number({ error }).positive({ error });
};

/** The default descent length by problem size, measured (docs/anchors.md): small problems need the longer anneal to reach
 *  the known optima from every seed (12 and 24 points in 3-d), which costs them seconds; 10,000 × 512 reaches 85.6° in
 *  100 steps, and 200 would double its 45 s. */
const SMALL_PROBLEM = 2000;
const SMALL_PROBLEM_STEPS = 200;
const LARGE_PROBLEM_STEPS = 100;

/** N anchors w_i on S^{d-1}, as far apart as the method can place them. */
export const AnchorsConfig = z
  .strictObject({
    count: positiveInt().default(1000).describe('N: synthetic identities, one anchor each'),
    method: z
      .enum(['tammes', 'random'], { error: "expected 'tammes' or 'random'" })
      .default('tammes')
      .describe('tammes: maximise the minimum pairwise angle; random: normalised Gaussians (the ablation)'),
    dim: positiveInt()
      .optional()
      .describe("d, when there is no encoder section (otherwise the encoder's embedding size, and it must agree)"),
    steps: positiveInt()
      .optional()
      .describe(
        `T: projected gradient steps of the Tammes descent; default ${SMALL_PROBLEM_STEPS} up to ${SMALL_PROBLEM.toLocaleString('en')} anchors, ${LARGE_PROBLEM_STEPS} above (docs/anchors.md)`,
      ),
    temperature: z
      .tuple([positiveNumber(), positiveNumber()], { error: 'expected [τ_0, τ_1], two numbers > 0' })
      .default([0.1, 0.001])
      .describe(
        "τ_0 and τ_1 (radians) of the smooth minimum of each anchor's nearest angles: annealed geometrically from the first step's to the last step's (smaller: closer to the true minimum)",
      ),
    stepSize: positiveNumber().default(0.1).describe('η: the first step size, decayed to 0 as a half cosine over the steps'),
    neighbours: positiveInt().default(32).describe('k: nearest anchors each anchor is pushed from'),
    refreshEvery: positiveInt().default(5).describe('steps between two exact nearest-neighbour searches'),
    seed: nonNegativeInt().default(0).describe('seed of the random start: same seed, same anchors'),
    exclusionAngle: z
      .union([numberInRange(0, 90).refine((a) => a > 0, { error: 'expected an angle in degrees, > 0 and ≤ 90' }), z.literal('auto')], {
        error: "expected an angle in degrees, > 0 and ≤ 90, or 'auto'",
      })
      .optional()
      .describe(
        "keep every anchor at least this many degrees from every training identity centre (needs an encoder); 'auto': the 5th percentile of the training identities' angles to their nearest other identity (src/anchors/exclusion.ts)",
      ),
    chunk: positiveInt()
      .default(1024)
      .describe('anchors per block of the exact searches (memory ≈ chunk × N × 8 bytes; speed, not results)'),
  })
  .transform((a) => ({ ...a, steps: a.steps ?? (a.count <= SMALL_PROBLEM ? SMALL_PROBLEM_STEPS : LARGE_PROBLEM_STEPS) }));
export type AnchorsConfig = z.output<typeof AnchorsConfig>;

/** What `anchorsAgreeWithEncoder` reads of the root config. */
interface AnchorsAndEncoder {
  anchors?: AnchorsConfig;
  encoder?: { kind: 'train'; recipe: { embeddingSize: number } } | { kind: string };
}

/**
 * Root-config check (Id3Config's superRefine): anchors need d, and the exclusion zone the
 * training identities, from the encoder; a d given beside a trained encoder must be its size.
 */
export function anchorsAgreeWithEncoder(config: AnchorsAndEncoder, context: z.RefinementCtx): void {
  const a = config.anchors;
  if (!a) return;
  const issue = (field: string, message: string) => context.addIssue({ code: 'custom', path: ['anchors', field], message });
  if (!config.encoder && a.dim === undefined) issue('dim', 'expected a dimension d, or an encoder section (whose embedding size d is)');
  if (!config.encoder && a.exclusionAngle !== undefined)
    issue('exclusionAngle', 'expected an encoder section: the exclusion zone is around its training identity centres');
  const encoder = config.encoder;
  if (encoder && 'recipe' in encoder && a.dim !== undefined && a.dim !== encoder.recipe.embeddingSize) {
    issue('dim', `expected the encoder's embedding size ${encoder.recipe.embeddingSize}, or no dim`);
  }
}

/** Attribute ranges, as the paper bounds them: age in years, pose angles in degrees. */
const AttributeRanges = {
  age: interval(0, 100).default([0, 100]).describe('age in years'),
  yaw: interval(-90, 90).default([-90, 90]).describe('head yaw in degrees'),
  pitch: interval(-90, 90).default([-90, 90]).describe('head pitch in degrees'),
  roll: interval(-90, 90).default([-90, 90]).describe('head roll in degrees'),
};

const vary = () =>
  z
    .enum(['all', 'pose', 'age'], { error: "expected 'all', 'pose' or 'age'" })
    .default('all')
    .describe(
      "what varies between an identity's images: all attributes, pose only (one age per identity) or age only (one pose per identity)",
    );

/** Attributes s_ij resampled from the training manifest's rows (age, yaw, pitch, roll together). */
export const EmpiricalAttributes = z.strictObject({
  source: z.literal('empirical'),
  split: z.enum(['train', 'val', 'test']).default('train').describe('manifest split whose rows are resampled'),
  vary: vary(),
});

/** Attributes s_ij drawn uniformly, each within its range. */
export const RangeAttributes = z.strictObject({
  source: z.literal('ranges'),
  ...AttributeRanges,
  vary: vary(),
});

export const AttributeSource = z.discriminatedUnion('source', [EmpiricalAttributes, RangeAttributes], {
  error: "expected source 'empirical' or 'ranges'",
});
export type AttributeSource = z.infer<typeof AttributeSource>;

/**
 * The per-image plan: for identity i and image j, v_ij ~ U[lb, ub], y_ij at cosine exactly v_ij
 * from the anchor w_i, attributes s_ij and a seed. Written before any image is sampled.
 */
export const IdentityPlan = z.strictObject({
  imagesPerIdentity: positiveInt().default(50).describe('m: images of each identity'),
  bounds: interval(-1, 1)
    // lb = ub is no distribution: the plan's KS check of U[lb, ub] fails on it, after training.
    .refine(([lb, ub]) => lb < ub, { error: 'expected [lb, ub] with lb < ub: v_ij ~ U[lb, ub] needs an interval' })
    .default([0.7, 0.9])
    .describe('[lb, ub] of v_ij ~ U[lb, ub], the cosine of y_ij to its anchor'),
  attributes: AttributeSource.prefault({ source: 'empirical' }).describe('where the attributes s_ij come from'),
  seed: nonNegativeInt().default(0).describe('seed of v_ij, y_ij, s_ij and the per-image seeds'),
});
export type IdentityPlan = z.infer<typeof IdentityPlan>;
export type IdentityPlanInput = z.input<typeof IdentityPlan>;
