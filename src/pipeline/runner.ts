/**
 * The stage runner. Each stage gets a content-addressed key: a hash of its version, its config
 * slice and the keys of the stages it reads. A stage whose stage.json says "done" under the same
 * key is reused; one that stopped midway under the same key resumes (stages write whole files
 * only, and skip what is already there); one under another key starts from an empty folder.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CancelledError } from '../bridge/errors.ts';
import { getSession } from '../bridge/index.ts';
import type { PythonSession } from '../bridge/session.ts';
import type { Id3Config } from '../config/schema.ts';
import { createReporter, type Reporter } from '../ui/reporter.ts';
import { writeJsonAtomic } from '../util/files.ts';
import { canonicalJson, sha256 } from '../util/hash.ts';
import type { Stage, StageName } from './stage.ts';
import { STAGES } from './stages/index.ts';

export interface StageRecord {
  stage: StageName;
  key: string;
  /** running: in progress, or killed; cancelled (Ctrl-C, AbortSignal); failed: stopped by an
   *  error (`error`). All but done resume on a rerun with the same key. */
  status: 'running' | 'done' | 'cancelled' | 'failed';
  startedAt: string;
  finishedAt?: string;
  seconds?: number;
  summary?: object;
  error?: string;
}

export interface StageOutcome {
  record: StageRecord;
  outcome: 'done' | 'cached';
}

export interface RunResult {
  name: string;
  dir: string;
  stages: Partial<Record<StageName, StageOutcome>>;
}

export interface RunOptions {
  reporter?: Reporter;
  signal?: AbortSignal;
  /** Stages to redo even when their key matches. */
  force?: readonly StageName[];
  /** Defaults to the library's shared session. */
  session?: PythonSession;
}

/** The stages this config runs, in order. */
export function plannedStages(config: Id3Config): Stage[] {
  return STAGES.filter((stage) => stage.enabled(config));
}

export function stageKeys(config: Id3Config): Partial<Record<StageName, string>> {
  const keys: Partial<Record<StageName, string>> = {};
  for (const stage of plannedStages(config)) {
    keys[stage.name] = sha256(
      canonicalJson({ stage: stage.name, version: stage.version, slice: stage.slice(config), after: stage.after.map((s) => keys[s]) }),
    );
  }
  return keys;
}

function readRecord(file: string): StageRecord | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StageRecord;
  } catch {
    return null; // absent, or not ours: the stage is redone
  }
}

/** What a run will do with a stage: reuse its outputs, resume it, or run it from an empty folder. */
export type StageAction = 'reuse' | 'resume' | 'run';

export interface PlannedStage {
  stage: Stage;
  key: string;
  action: StageAction;
  /** The stage.json found in the run folder, if any. */
  previous: StageRecord | null;
}

/**
 * The plan, from the run folder as it is: same key and done → reuse; same key otherwise (killed,
 * cancelled, failed) → resume; another key, or forced → run. A forced stage forces the stages
 * that read it.
 */
export function planRun(config: Id3Config, force: readonly StageName[] = []): PlannedStage[] {
  const keys = stageKeys(config);
  const forced = new Set<StageName>(force);
  const runDir = path.resolve(config.runsDir, config.name);
  return plannedStages(config).map((stage) => {
    if (stage.after.some((input) => forced.has(input))) forced.add(stage.name);
    const key = keys[stage.name]!;
    const previous = readRecord(path.join(runDir, stage.name, 'stage.json'));
    const action: StageAction =
      previous?.key !== key || forced.has(stage.name) ? 'run' : previous.status === 'done' ? 'reuse' : 'resume';
    return { stage, key, action, previous };
  });
}

export async function runPipeline(config: Id3Config, options: RunOptions = {}): Promise<RunResult> {
  const reporter = options.reporter ?? createReporter('quiet');
  const runDir = path.resolve(config.runsDir, config.name);
  mkdirSync(runDir, { recursive: true });
  writeJsonAtomic(path.join(runDir, 'config.json'), config);
  const session = options.session ?? (await getSession());
  const host = await session.call<object>('system.info');
  const keys = stageKeys(config);
  const result: RunResult = { name: config.name, dir: runDir, stages: {} };
  const writeRunJson = (status: 'running' | 'done') =>
    writeJsonAtomic(path.join(runDir, 'run.json'), {
      name: config.name,
      status,
      config,
      keys,
      stages: Object.fromEntries(Object.entries(result.stages).map(([name, s]) => [name, s.record])),
      node: process.version,
      host,
    });
  writeRunJson('running'); // from the start, run.json describes this config, not a previous one

  for (const { stage, key, action, previous } of planRun(config, options.force)) {
    options.signal?.throwIfAborted();
    const dir = path.join(runDir, stage.name);
    const recordFile = path.join(dir, 'stage.json');
    if (action === 'reuse') {
      result.stages[stage.name] = { record: previous!, outcome: 'cached' };
      reporter.stageFinished(stage.name, 'cached', stage.summarize(previous!.summary as never));
      continue;
    }
    if (action === 'run') rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const startedAt = new Date();
    const record: StageRecord = { stage: stage.name, key, status: 'running', startedAt: startedAt.toISOString() };
    writeJsonAtomic(recordFile, record);
    reporter.stageStarted(stage.name, stage.describe(config));
    try {
      record.summary = await stage.run({ config, runDir, dir, session, reporter, signal: options.signal });
      record.status = 'done';
    } catch (err) {
      if (err instanceof CancelledError) {
        record.status = 'cancelled';
      } else {
        record.status = 'failed';
        record.error = err instanceof Error ? err.message : String(err);
      }
      throw err;
    } finally {
      const finishedAt = new Date();
      record.finishedAt = finishedAt.toISOString();
      record.seconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
      writeJsonAtomic(recordFile, record);
      result.stages[stage.name] = { record, outcome: 'done' };
      writeRunJson('running');
    }
    reporter.stageFinished(stage.name, 'done', stage.summarize(record.summary));
  }
  writeRunJson('done');
  return result;
}
