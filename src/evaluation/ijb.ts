/** IJB-B/C 1:1 template verification as Python reports it (python/id3_torch/evaluation/ijb.py `IjbResult.json`). */

/** The FAR columns papers print, as the keys of `tarAtFar`. */
export const IJB_FARS = ['1e-6', '1e-5', '1e-4', '1e-3', '1e-2', '1e-1'] as const;
export type IjbFar = (typeof IJB_FARS)[number];

export interface IjbResult {
  templates: number;
  pairs: number;
  /** Area under the ROC curve. */
  auc: number;
  /** TAR at the ROC point whose FPR is nearest each target (insightface's reading). */
  tarAtFar: Record<IjbFar, number>;
  /** The FPR of that point. */
  farUsed: Record<IjbFar, number>;
  /** The ROC thinned to a log grid of FARs, for plots. */
  roc: { far: number[]; tar: number[] };
  protocol: string;
}

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
