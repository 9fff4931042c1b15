/** Long work in Python: start, poll, result; progress to a callback; cancellation by signal. */
import { CancelledError, PythonError } from './errors.ts';
import type { PythonSession } from './session.ts';

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

export async function runJob<T>(session: PythonSession, kind: string, args: object, options: RunJobOptions = {}): Promise<T> {
  const { onProgress, signal, eventsPath, pollMs = 50 } = options;
  signal?.throwIfAborted();
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
          session.finishedJobs.push({ kind, args, seconds: (performance.now() - started) / 1000, pythonSeconds: reply.seconds });
          return reply.result as T;
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
