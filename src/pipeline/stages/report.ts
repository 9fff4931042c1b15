/**
 * report: runs/<name>/report/report.md, with its PNGs beside it. What ran and where (host, stage
 * keys and timings), the metric curves of every stage that logged any (loss, learning rate, ...,
 * from its events.jsonl), and the sections each stage contributes (`Stage.report`): sample grids,
 * attribute histograms, the verification table with ROC curves.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Id3Config } from '../../config/schema.ts';
import { metricCurves } from '../../report/events.ts';
import { markdownTable } from '../../report/markdown.ts';
import { drawPlots, type PlotSpec } from '../../report/plots.ts';
import { writeFileAtomic } from '../../util/files.ts';
import type { StageRecord } from '../runner.ts';
import type { ReportPart, Stage, StageContext, StageName } from '../stage.ts';
import { outputsOf } from './outputs-of.ts';

export interface ReportSummary {
  /** Relative to the run folder. */
  report: string;
  plots: number;
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Curves of a stage's events: losses together, every other metric on its own plot. */
function curvePlots(stage: StageName, events: string, reportDir: string): ReportPart | null {
  const curves = metricCurves(events);
  if (curves.length === 0) return null;
  const losses = curves.filter((c) => /loss/i.test(c.label));
  const others = curves.filter((c) => !/loss/i.test(c.label));
  const plots: PlotSpec[] = [];
  const file = (name: string) => path.join(reportDir, `${stage}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
  if (losses.length)
    plots.push({ kind: 'lines', path: file('loss'), title: `${stage}: loss`, xlabel: 'step', ylabel: 'loss', series: losses });
  for (const c of others)
    plots.push({ kind: 'lines', path: file(c.label), title: `${stage}: ${c.label}`, xlabel: 'step', ylabel: c.label, series: [c] });
  const images = plots.map((p) => `![${p.title}](${path.basename(p.path)})`).join(' ');
  return { markdown: `### ${stage}\n\n${images}\n`, plots };
}

/** What python/id3_torch/bridge/system.py `info` reports. */
interface Host {
  python?: string;
  packages?: Record<string, string>;
  cudaAvailable?: boolean;
  gpus?: { name?: string }[];
}

function describeHost(h: Host): string {
  const gpus = h.gpus?.length ? `${h.gpus.length} GPU(s): ${[...new Set(h.gpus.map((g) => g.name))].join(', ')}` : 'no GPU';
  return `Python ${h.python ?? '?'}, torch ${h.packages?.torch ?? '?'}, ${gpus}`;
}

function header(config: Id3Config, runDir: string, records: StageRecord[]): string {
  const host = readJson<{ host?: Host }>(outputsOf(runDir).run.record)?.host;
  const rows = records.map((r) => ({
    stage: r.stage,
    key: r.key.slice(0, 12),
    status: r.status,
    seconds: r.seconds === undefined ? null : Number(r.seconds.toFixed(1)),
    made: r.finishedAt ?? null,
  }));
  return [
    `# Run ${config.name}`,
    '',
    `Config: [config.json](../config.json) (every default filled in); record: [run.json](../run.json).`,
    host ? `Host: ${describeHost(host)}.` : '',
    '',
    '## Stages',
    '',
    markdownTable(['stage', 'key', 'status', 'seconds', 'made'], rows),
  ].join('\n');
}

/** The report over `reported`, the stages it describes (in run order): its inputs, and the records,
 *  sections and curves it reads. */
export const reportStageOver = (reported: readonly Stage[]): Stage<ReportSummary> => ({
  name: 'report',
  version: 1,
  after: reported.map((stage) => stage.name),
  enabled: (config) => config.report,
  slice: () => ({}),
  describe: () => 'report.md with its plots',
  summarize: (s) => `${s.report} (${s.plots} plots)`,

  async run({ config, runDir, dir, session, signal }: StageContext): Promise<ReportSummary> {
    const context = { config, runDir, reportDir: dir };
    const records: StageRecord[] = [];
    const parts: ReportPart[] = [];
    const curves: ReportPart[] = [];
    for (const stage of reported) {
      if (!stage.enabled(config)) continue;
      const record = readJson<StageRecord>(path.join(runDir, stage.name, 'stage.json'));
      if (!record) continue;
      records.push(record);
      if (record.summary && stage.report) parts.push(...stage.report(record.summary as never, context));
      const events = path.join(runDir, stage.name, 'events.jsonl');
      const part = existsSync(events) ? curvePlots(stage.name, events, dir) : null;
      if (part) curves.push(part);
    }
    const sections = [...parts, ...(curves.length ? [{ markdown: '## Training curves\n' }, ...curves] : [])];
    const plots = sections.flatMap((p) => p.plots ?? []);
    await drawPlots(session, plots, signal);
    const report = path.join(dir, 'report.md');
    writeFileAtomic(report, [header(config, runDir, records), ...sections.map((p) => p.markdown)].join('\n'));
    return { report: path.relative(runDir, report), plots: plots.length };
  },
});
