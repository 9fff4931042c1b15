/**
 * The stage runner. Each stage gets a content-addressed key: a hash of its version, its config
 * slice and the keys of the stages it reads; its outputs live in the store folder of that key,
 * shared by every run that has it (pipeline/store.ts). A key whose stage.json says "done" is
 * reused; one that stopped midway resumes (stages write whole files only, and skip what is
 * already there); a new key starts from an empty folder.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CancelledError } from '../bridge/errors.ts';
import { getSession } from '../bridge/index.ts';
import type { PythonSession } from '../bridge/session.ts';
import type { Id3Config } from '../config/schema.ts';
import { createReporter, type Reporter } from '../ui/reporter.ts';
import { writeJsonAtomic } from '../util/files.ts';
import { canonicalJson, sha256 } from '../util/hash.ts';
import type { Stage, StageContext, StageName } from './stage.ts';
import { acquireLock } from './lock.ts';
import { damagedOutputs, recordOutputs, type DamagedOutput, type StageOutputs } from './outputs.ts';
import { linkStage, lockStage, stageFolder } from './store.ts';
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
  /** What a finished stage made (pipeline/outputs.ts); checked before it is reused. */
  outputs?: StageOutputs;
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

export interface RunOptions extends StageSelection {
  reporter?: Reporter;
  signal?: AbortSignal;
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

/** The record of a stage folder that is a real folder of the run, not a link into the store (made
 *  before the store, or by hand): `linkStage` moves it into the store when its key is the one. */
function unlinkedRecord(dir: string): StageRecord | null {
  try {
    return lstatSync(dir).isDirectory() ? readRecord(path.join(dir, 'stage.json')) : null;
  } catch {
    return null;
  }
}

/** Which stages a run touches, beyond what their keys decide. */
export interface StageSelection {
  /** Redo these stages even when their key matches, and every stage that reads them. */
  force?: readonly StageName[];
  /** Redo this stage and every stage after it. */
  from?: StageName;
  /** Run only these stages; the stages before them must be made already (they are reused). */
  only?: readonly StageName[];
  /** Before reusing a stage, recompute the hashes of its outputs (not only their sizes). */
  verify?: boolean;
}

/** What a run will do with a stage: reuse its outputs, resume it, run it from an empty folder,
 *  or (outside `only`) leave it alone. */
export type StageAction = 'reuse' | 'resume' | 'run' | 'skip';

export interface PlannedStage {
  stage: Stage;
  key: string;
  action: StageAction;
  /** The store folder of this key (pipeline/store.ts), which runs/<name>/<stage> links to. */
  folder: string;
  /** The stage.json found in that folder, if any. */
  previous: StageRecord | null;
  /** Why a finished stage is not reused: its outputs missing or damaged. */
  damaged: DamagedOutput[];
}

/** A selection that names a stage this config does not run. */
export class StageSelectionError extends Error {
  override name = 'StageSelectionError';
}

function checkSelected(stages: readonly Stage[], names: readonly StageName[], option: string): void {
  const planned = new Set(stages.map((s) => s.name));
  for (const name of names) {
    if (!planned.has(name)) {
      throw new StageSelectionError(`${option} ${name}: this config does not run stage ${name} (it runs ${[...planned].join(', ')})`);
    }
  }
}

/**
 * The plan, from the store as it is: a key whose folder says done → reuse; a key whose folder
 * holds a stage that stopped (killed, cancelled, failed) → resume; a new key, or forced → run.
 */
export function planRun(config: Id3Config, selection: StageSelection = {}): PlannedStage[] {
  const stages = plannedStages(config);
  const keys = stageKeys(config);
  checkSelected(stages, selection.force ?? [], '--force');
  checkSelected(stages, selection.from ? [selection.from] : [], '--from');
  checkSelected(stages, selection.only ?? [], '--only');
  const forced = new Set<StageName>(selection.force);
  const fromIndex = selection.from ? stages.findIndex((s) => s.name === selection.from) : stages.length;
  const only = selection.only ? new Set(selection.only) : null;
  const lastOnly = only ? Math.max(...stages.map((s, i) => (only.has(s.name) ? i : -1))) : -1;
  const runDir = path.resolve(config.runsDir, config.name);

  return stages.map((stage, index) => {
    if (index >= fromIndex || stage.after.some((input) => forced.has(input))) forced.add(stage.name);
    const key = keys[stage.name]!;
    const folder = stageFolder(config.runsDir, stage.name, key);
    const stored = readRecord(path.join(folder, 'stage.json'));
    const previous = stored ?? unlinkedRecord(path.join(runDir, stage.name));
    let action: StageAction = previous?.key !== key || forced.has(stage.name) ? 'run' : previous.status === 'done' ? 'reuse' : 'resume';
    const made = stored ? folder : path.join(runDir, stage.name); // where the outputs of `previous` are
    const damaged = action === 'reuse' && previous?.outputs ? damagedOutputs(made, previous.outputs, { full: selection.verify }) : [];
    if (damaged.length > 0) {
      action = 'resume'; // the damaged files are deleted first: a stage redoes only what is missing
      forced.add(stage.name); // and the stages that read them are redone too
    }
    if (only && !only.has(stage.name)) {
      if (index < lastOnly && action !== 'reuse') {
        throw new StageSelectionError(
          `--only ${[...only].join(' ')}: stage ${stage.name} before it is not made with this config; run without --only first`,
        );
      }
      // A made stage before the selection is reused (linked into the run folder: the selected stages read it there).
      if (index > lastOnly) action = 'skip';
    }
    return { stage, key, action, folder, previous, damaged };
  });
}

export async function runPipeline(config: Id3Config, options: RunOptions = {}): Promise<RunResult> {
  const reporter = options.reporter ?? createReporter('quiet');
  const runDir = path.resolve(config.runsDir, config.name);
  const plan = planRun(config, options); // before anything is written: a bad selection changes nothing
  mkdirSync(runDir, { recursive: true });
  // One process a run folder: a second run of this name would relink the stages the first is making.
  const releaseRun = acquireLock(
    path.join(runDir, '.lock'),
    config.name,
    (holder) => `run ${config.name} is already running in process ${holder.pid} (${runDir}); wait for it to finish, or stop it`,
    (holder) => reporter.info(`run ${config.name}: the lock of process ${holder.pid}, which no longer runs, is taken over`),
  );
  try {
    return await runLocked(config, plan, runDir, reporter, options);
  } finally {
    releaseRun();
  }
}

async function runLocked(
  config: Id3Config,
  plan: PlannedStage[],
  runDir: string,
  reporter: Reporter,
  options: RunOptions,
): Promise<RunResult> {
  writeJsonAtomic(path.join(runDir, 'config.json'), config);
  // Python starts only for a stage that runs: a rerun that reuses everything stays fast, and
  // keeps the host of the run that made its stages.
  let session: PythonSession | null = null;
  let host: object | null = previousHost(runDir);
  let interrupted = false;
  const sessionForStages = async (): Promise<PythonSession> => {
    if (!session) {
      session = options.session ?? (await getSession());
      // Ctrl-C cancels the running job; it must also stop the run, even when the job was past its last
      // cancellation point and finished (the session then arms a new signal for later jobs).
      session.interrupted.signal.addEventListener('abort', () => (interrupted = true), { once: true });
      host = await session.call<object>('system.info');
    }
    return session;
  };
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

  for (const { stage, key, action, folder, previous, damaged } of plan) {
    options.signal?.throwIfAborted();
    if (interrupted) throw new CancelledError(`run ${config.name}`);
    if (action === 'skip') continue;
    const dir = path.join(runDir, stage.name);
    linkStage(config.runsDir, runDir, stage.name, folder, key);
    if (action === 'reuse') {
      result.stages[stage.name] = { record: previous!, outcome: 'cached' };
      reporter.stageFinished(stage.name, 'cached', stage.summarize(previous!.summary as never));
      continue;
    }
    const release = lockStage(folder, stage.name, config.name, (message) => reporter.info(message));
    try {
      if (action === 'run') emptyFolder(folder);
      if (damaged.length > 0) {
        reporter.info(`${stage.name}: made before, but ${damaged.map((d) => `${d.file} ${d.problem}`).join('; ')}: redoing it`);
        for (const { file } of damaged) rmSync(path.join(folder, file), { force: true });
      }
      const context = { config, runDir, dir, session: await sessionForStages(), reporter, signal: options.signal };
      await runStage(stage, key, context, result);
    } finally {
      release();
      writeRunJson('running');
    }
  }
  writeRunJson('done');
  return result;
}

function previousHost(runDir: string): object | null {
  try {
    return (JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { host?: object }).host ?? null;
  } catch {
    return null;
  }
}

/** Remove everything in `folder` but the lock of the process about to fill it. */
function emptyFolder(folder: string): void {
  for (const entry of readdirSync(folder)) {
    if (entry !== '.lock') rmSync(path.join(folder, entry), { recursive: true, force: true });
  }
}

async function runStage(stage: Stage, key: string, context: StageContext, result: RunResult): Promise<void> {
  const recordFile = path.join(context.dir, 'stage.json');
  const startedAt = new Date();
  const record: StageRecord = { stage: stage.name, key, status: 'running', startedAt: startedAt.toISOString() };
  writeJsonAtomic(recordFile, record);
  context.reporter.stageStarted(stage.name, stage.describe(context.config));
  try {
    record.summary = await stage.run(context);
    record.outputs = recordOutputs(context.dir);
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
  }
  context.reporter.stageFinished(stage.name, 'done', stage.summarize(record.summary));
}
