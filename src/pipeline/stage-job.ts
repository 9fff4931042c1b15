/** A stage's Python job on N processes: in the bridge for one, under torchrun for several. */
import path from 'node:path';
import { runJob, type JobArgs, type JobContract, type JobResult } from '../bridge/jobs.ts';
import { runTorchrun } from '../bridge/torchrun.ts';
import type { StageContext } from './stage.ts';

/** Runs `job` with `args` for the stage of `context`: its progress shown under `label`, its events in
 *  the stage folder (events.jsonl; under torchrun also job.json and result.json). */
export function runStageJob<J extends JobContract>(
  job: J,
  args: JobArgs<J>,
  { session, dir, reporter, signal }: StageContext,
  { processes, label = job.kind }: { processes: number; label?: string },
): Promise<JobResult<J>> {
  const onProgress = (p: Parameters<typeof reporter.progress>[1]) => reporter.progress(label, p);
  return processes > 1
    ? runTorchrun(job, args, { processes, session, dir, onProgress, signal })
    : runJob(session, job, args, { onProgress, signal, eventsPath: path.join(dir, 'events.jsonl') });
}
