/** Plot specs for python/id3_torch/report/plots.py, and the job that draws them. */
import { runJob } from '../bridge/jobs.ts';
import type { PythonSession } from '../bridge/session.ts';

export interface LineSeries {
  label: string;
  x: number[];
  y: number[];
}

export type PlotSpec =
  | { kind: 'lines'; path: string; title: string; xlabel: string; ylabel: string; logx?: boolean; logy?: boolean; series: LineSeries[] }
  | { kind: 'histograms'; path: string; title: string; panels: { label: string; values: number[]; bins?: number }[] }
  /** A panel per column of a manifest CSV (read in Python). */
  | { kind: 'histograms'; path: string; title: string; manifest: string; columns: string[] };

/** Draw every spec (absolute paths), in one job. */
export async function drawPlots(session: PythonSession, plots: readonly PlotSpec[], signal?: AbortSignal): Promise<void> {
  if (plots.length) await runJob(session, 'report.plots', { plots }, { signal });
}
