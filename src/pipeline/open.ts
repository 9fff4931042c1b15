/**
 * A finished (or stopped) run, opened from its folder: its resolved config, its stages' records
 * and summaries, and paths into their outputs. For scripts and notebooks that read results
 * without running anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveConfig } from '../config/load.ts';
import type { Id3Config } from '../config/schema.ts';
import type { StageRecord } from './runner.ts';
import type { StageName } from './stage.ts';

export class RunHandle {
  private constructor(
    /** The run folder, absolute. */
    readonly dir: string,
    readonly config: Id3Config,
  ) {}

  /** Open `runs/<name>` (or any run folder): its config.json must be there. */
  static open(dir: string): RunHandle {
    const folder = path.resolve(dir);
    const file = path.join(folder, 'config.json');
    if (!existsSync(file)) throw new Error(`${folder}: not a run folder (no config.json)`);
    return new RunHandle(folder, resolveConfig(JSON.parse(readFileSync(file, 'utf8')), file));
  }

  get name(): string {
    return this.config.name;
  }

  /** The stage's stage.json, or null if it never ran here. */
  record(stage: StageName): StageRecord | null {
    try {
      return JSON.parse(readFileSync(path.join(this.dir, stage, 'stage.json'), 'utf8')) as StageRecord;
    } catch {
      return null;
    }
  }

  /** The summary of a stage that is done; an error naming the stage otherwise. */
  summary<Summary extends object>(stage: StageName): Summary {
    const record = this.record(stage);
    if (record?.status !== 'done') {
      throw new Error(`${this.name}: stage ${stage} is ${record ? record.status : 'not made'}; run the config to make it`);
    }
    return record.summary as Summary;
  }

  /** An absolute path inside the run folder (a stage's outputs: `path('prepare', 'manifest.csv')`). */
  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }
}

/** `openRun('runs/demo')`: a handle to a run's results. */
export function openRun(dir: string): RunHandle {
  return RunHandle.open(dir);
}
