/** Plot specs for python/id3_torch/report/plots.py, and the job that draws them. */
import { runJob } from '../bridge/jobs.ts';
import type { PythonSession } from '../bridge/session.ts';
import { plotsJob, type PlotSpec } from '../jobs/report.ts';

export type { LineSeries, PlotSpec } from '../jobs/report.ts';

/** Draw every spec (absolute paths), in one job. */
export async function drawPlots(session: PythonSession, plots: readonly PlotSpec[], signal?: AbortSignal): Promise<void> {
  if (plots.length) await runJob(session, plotsJob, { plots: [...plots] }, { signal });
}
