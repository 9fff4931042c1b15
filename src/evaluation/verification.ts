/** Face-verification results as Python reports them (python/id3_torch/evaluation/verification.py `result_json`). */

/** The 10-fold protocol's outcome: from `id3 verify` and from each row of the evaluate stage. */
export interface VerificationResult {
  pairs: number;
  /** Mean of the 10 held-out fold accuracies, a fraction. */
  accuracy: number;
  /** Population standard deviation of the fold accuracies. */
  std: number;
  /** Mean of the 10 chosen thresholds (squared L2). */
  threshold: number;
  /** TAR at the most permissive threshold whose FAR over all different pairs is at most the key; NaN without both kinds of pair. */
  tarAtFar: { '1e-3': number; '1e-4': number };
  folds: { pairs: number; accuracy: number; threshold: number }[];
  /** TAR at FARs on a log grid from one different pair to all (python `roc_curve`). */
  roc: { far: number[]; tar: number[] };
  protocol: string;
}
