/** Long work in Python: start, poll, result; progress to a callback; cancellation by signal. */
import { z } from 'zod';
import { CancelledError, PythonError } from './errors.ts';
import type { PythonSession } from './session.ts';

/**
 * A Python job's contract: its kind (python/id3_torch/jobs `job_kinds()`), what it takes and what it
 * returns. The arguments are parsed before they are sent, and Python checks them again on entry
 * against the JSON Schema exported from `args` (python/id3_torch/jobs/contracts.json); the result is
 * parsed when it comes back. Declared in src/jobs/.
 */
export interface JobContract<Args extends z.ZodType = z.ZodType, Result extends z.ZodType = z.ZodType> {
  kind: string;
  args: Args;
  result: Result;
}

export const defineJob = <Args extends z.ZodType, Result extends z.ZodType>(
  kind: string,
  args: Args,
  result: Result,
): JobContract<Args, Result> => ({ kind, args, result });

export type JobArgs<J extends JobContract> = z.input<J['args']>;
export type JobResult<J extends JobContract> = z.output<J['result']>;

/** A contract's issues in words, each naming its field: "job train, argument training.steps: …". */
function checked<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data as z.output<S>;
  const issues = parsed.error.issues.map((i) => `${what}${i.path.length ? ` ${i.path.join('.')}` : ''}: ${i.message}`);
  throw new TypeError(issues.join('\n'));
}

export const checkJobArgs = <J extends JobContract>(job: J, args: JobArgs<J>): z.output<J['args']> =>
  checked<J['args']>(job.args, args, `job ${job.kind}, argument`);

export const checkJobResult = <J extends JobContract>(job: J, result: unknown): JobResult<J> =>
  checked<J['result']>(job.result, result, `job ${job.kind} returned a result off its contract; field`);

/** One progress report of a job (python/id3_torch/bridge/jobs.py `Progress.snapshot`). */
export interface JobProgress {
  step: number;
  total: number;
  label: string;
  unit: string;
  /** Units per second since the job began (or resumed). */
  rate: number;
  /** Seconds left at the current rate; null before the first step. */
  eta: number | null;
  elapsed: number;
  metrics: Record<string, number>;
}

type PollReply =
  | { state: 'running' | 'cancelled'; progress: JobProgress }
  | { state: 'done'; progress: JobProgress; result: unknown; seconds: number }
  | { state: 'failed'; progress: JobProgress; error: { type: string; message: string; traceback: string } };

export interface RunJobOptions {
  onProgress?: (progress: JobProgress) => void;
  /** Cancels the job; Ctrl-C does too. */
  signal?: AbortSignal;
  /** Progress is also appended here as JSON lines (events.jsonl). */
  eventsPath?: string;
  /** Milliseconds between polls. */
  pollMs?: number;
}

export async function runJob<J extends JobContract>(
  session: PythonSession,
  job: J,
  jobArgs: JobArgs<J>,
  options: RunJobOptions = {},
): Promise<JobResult<J>> {
  const { onProgress, signal, eventsPath, pollMs = 50 } = options;
  signal?.throwIfAborted();
  const { kind } = job;
  const args = checkJobArgs(job, jobArgs);
  const started = performance.now();
  const id = await session.call<number>('job.start', { kind, args, eventsPath: eventsPath ?? null });
  let finished = false;
  const cancel = () => {
    if (!finished) void session.call('job.cancel', { id }).catch(() => {});
  };
  const interrupt = session.interrupted.signal;
  signal?.addEventListener('abort', cancel, { once: true });
  interrupt.addEventListener('abort', cancel, { once: true });
  if (signal?.aborted) cancel(); // aborted while the job was starting
  session.runningJobs += 1;
  try {
    for (;;) {
      const reply = await session.call<PollReply>('job.poll', { id });
      finished = reply.state !== 'running';
      onProgress?.(reply.progress);
      switch (reply.state) {
        case 'done':
          session.finishedJobs.push({
            kind,
            args: args as object,
            seconds: (performance.now() - started) / 1000,
            pythonSeconds: reply.seconds,
          });
          return checkJobResult(job, reply.result);
        case 'failed':
          throw new PythonError(reply.error.type, reply.error.message, reply.error.traceback);
        case 'cancelled':
          throw new CancelledError(`job ${kind}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    // Leaving early (a throwing onProgress, a dead bridge) must not leave the job running.
    cancel();
    session.runningJobs -= 1;
    signal?.removeEventListener('abort', cancel);
    interrupt.removeEventListener('abort', cancel);
  }
}
