/** Plots drawn with matplotlib (python/id3_torch/jobs/report.py), for the report. */
import { z } from 'zod';
import { defineJob } from '../bridge/jobs.ts';
import { count, FilePath, float } from './common.ts';

/** A diverged loss or an empty ROC may hold NaN: float(), not z.number(). */
const LineSeries = z.strictObject({ label: z.string(), x: z.array(float()), y: z.array(float()) });
export type LineSeries = z.infer<typeof LineSeries>;

export const PlotSpec = z.union([
  z.strictObject({
    kind: z.literal('lines'),
    path: FilePath(),
    title: z.string(),
    xlabel: z.string(),
    ylabel: z.string(),
    logx: z.boolean().optional(),
    logy: z.boolean().optional(),
    series: z.array(LineSeries),
  }),
  z.strictObject({
    kind: z.literal('histograms'),
    path: FilePath(),
    title: z.string(),
    panels: z.array(z.strictObject({ label: z.string(), values: z.array(float()), bins: count().optional() })),
  }),
  /** A panel per column of a manifest CSV (read in Python). */
  z.strictObject({
    kind: z.literal('histograms'),
    path: FilePath(),
    title: z.string(),
    manifest: FilePath(),
    columns: z.array(z.string()),
  }),
]);
export type PlotSpec = z.infer<typeof PlotSpec>;

export const plotsJob = defineJob(
  'report.plots',
  z.strictObject({ plots: z.array(PlotSpec) }),
  z.looseObject({ written: z.array(z.string()) }),
);
