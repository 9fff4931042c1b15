/** Face-verification results as Python reports them (python/id3_torch/evaluation/verification.py `result_json`). */
import { z } from 'zod';
import { count, float } from '../jobs/common.ts';

/** The 10-fold protocol's outcome: from `id3 verify` and from each row of the evaluate stage. */
export const VerificationResult = z.looseObject({
  pairs: count(),
  /** Mean of the 10 held-out fold accuracies, a fraction. */
  accuracy: float(),
  /** Population standard deviation of the fold accuracies. */
  std: float(),
  /** Mean of the 10 chosen thresholds (squared L2). */
  threshold: float(),
  /** TAR at the most permissive threshold whose FAR over all different pairs is at most the key; NaN without both kinds of pair. */
  tarAtFar: z.looseObject({ '1e-3': float(), '1e-4': float() }),
  folds: z.array(z.looseObject({ pairs: count(), accuracy: float(), threshold: float() })),
  /** TAR at FARs on a log grid from one different pair to all (python `roc_curve`). */
  roc: z.looseObject({ far: z.array(float()), tar: z.array(float()) }),
  protocol: z.string(),
});
export type VerificationResult = z.infer<typeof VerificationResult>;
