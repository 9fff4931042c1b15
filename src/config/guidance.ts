/**
 * The `guidance` section: the guidance scale γ and gradient mode chosen on the validation identities by the
 * judge (stage "guidance", src/pipeline/stages/guidance.ts), which `generate` then samples at. The method
 * tunes γ on a validation set; f cannot be the referee (the guidance climbs f's gradient, so f's figures rise
 * with γ whether or not faces do), and the test identities are never read before the choice.
 */
import { z } from 'zod';
import { nonNegativeInt, numberInRange } from './fields.ts';

export const GuidanceChoice = z.strictObject({
  scales: z
    .array(numberInRange(0, 1e6))
    .min(1, { error: 'expected at least one γ' })
    .default([0, 1, 2, 4, 8, 16])
    .describe('the γ tried; 0 (unguided) is the reference every other is compared with'),
  modes: z
    .array(z.enum(['detached', 'full']))
    .min(1, { error: 'expected at least one gradient mode' })
    .default(['detached', 'full'])
    .describe('the gradient modes tried at every γ > 0'),
  seed: nonNegativeInt().default(0).describe('sample i of the validation images has seed seed + i'),
});
export type GuidanceChoice = z.infer<typeof GuidanceChoice>;
