/** IJB-B/C 1:1 template verification as Python reports it (python/id3_torch/evaluation/ijb.py `IjbResult.json`). */
import { z } from 'zod';
import { count, float } from '../jobs/common.ts';

/** The FAR columns papers print, as the keys of `tarAtFar`. */
export const IJB_FARS = ['1e-6', '1e-5', '1e-4', '1e-3', '1e-2', '1e-1'] as const;
export type IjbFar = (typeof IJB_FARS)[number];

const perFar = () => z.looseObject(Object.fromEntries(IJB_FARS.map((far) => [far, float()])) as Record<IjbFar, ReturnType<typeof float>>);

export const IjbResult = z.looseObject({
  templates: count(),
  pairs: count(),
  /** Area under the ROC curve. */
  auc: float(),
  /** TAR at the ROC point whose FPR is nearest each target (insightface's reading). */
  tarAtFar: perFar(),
  /** The FPR of that point. */
  farUsed: perFar(),
  /** The ROC thinned to a log grid of FARs, for plots. */
  roc: z.looseObject({ far: z.array(float()), tar: z.array(float()) }),
  protocol: z.string(),
});
export type IjbResult = z.infer<typeof IjbResult>;

/** Rows: one per (model, IJB set); columns: TAR (%) at each FAR and the AUC (%), as papers print them. */
export function ijbTable(rows: readonly (IjbResult & { model: string; benchmark: string })[]): {
  columns: string[];
  rows: Record<string, string | number>[];
} {
  const percent = (x: number) => Number((100 * x).toFixed(2));
  return {
    columns: ['model', 'benchmark', ...IJB_FARS.map((far) => `TAR@${far}`), 'AUC'],
    rows: rows.map((r) => ({
      model: r.model,
      benchmark: r.benchmark,
      ...Object.fromEntries(IJB_FARS.map((far) => [`TAR@${far}`, percent(r.tarAtFar[far])])),
      AUC: percent(r.auc),
    })),
  };
}
