/** What a pipeline stage is: a named step whose output is decided by a slice of the config. */
import type { PythonSession } from '../bridge/session.ts';
import type { Id3Config } from '../config/schema.ts';
import type { PlotSpec } from '../report/plots.ts';
import type { Reporter } from '../ui/reporter.ts';

export type StageName =
  'prepare' | 'encoder' | 'judge' | 'attributes' | 'train' | 'guidance' | 'anchors' | 'generate' | 'train-fr' | 'evaluate' | 'report';

export interface StageContext {
  config: Id3Config;
  /** runs/<name>/ */
  runDir: string;
  /** runs/<name>/<stage>/: everything the stage writes goes here. */
  dir: string;
  session: PythonSession;
  reporter: Reporter;
  signal?: AbortSignal;
}

/** A section of the run's report.md that a stage contributes. */
export interface ReportPart {
  /** Markdown starting with a `##` heading; images linked relative to the report folder. */
  markdown: string;
  /** The PNGs it links to, drawn before report.md is written (absolute paths). */
  plots?: PlotSpec[];
}

export interface ReportContext {
  config: Id3Config;
  runDir: string;
  /** runs/<name>/report/: where plots go. */
  reportDir: string;
}

export interface Stage<Summary extends object = object> {
  name: StageName;
  /** Bump when the stage's outputs change meaning, so cached outputs are redone. */
  version: number;
  /** Stages whose outputs this one reads. */
  after: readonly StageName[];
  /** false: the report leaves it out (no section, no curves, not among its inputs). */
  reported?: false;
  /** Whether the config asks for this stage. */
  enabled(config: Id3Config): boolean;
  /** The part of the config that decides this stage's outputs (its cache key hashes it).
   *  Settings that change where or how fast, not what (process count, device), stay out. */
  slice(config: Id3Config): unknown;
  /** One line for the log: what the stage is about to do. */
  describe(config: Id3Config): string;
  run(context: StageContext): Promise<Summary>;
  /** One line for the log: what the stage made. */
  summarize(summary: Summary): string;
  /** Its sections of the report, if any (loss curves from events.jsonl are drawn for every stage). */
  report?(summary: Summary, context: ReportContext): ReportPart[];
  /** The figures a sweep table shows for this stage (column → value), if any. */
  metrics?(summary: Summary): Record<string, string | number | null>;
  /** Its lines of the CLI's "where things went" after a run, if any; `here` makes a run-folder path relative
   *  to the working directory. */
  outputLines?(summary: Summary, here: (runPath: string) => string): string[];
}
