/**
 * A job on several processes: `torchrun -m id3_torch <kind>` (python/id3_torch/__main__.py),
 * outside the bridge. Progress comes from the events.jsonl that rank 0 appends to, as for bridge
 * jobs; the result from the JSON file rank 0 writes last. The processes form their own group,
 * so cancelling (AbortSignal, Ctrl-C) or Node's exit ends all of them.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { CancelledError } from './errors.ts';
import { checkJobArgs, checkJobResult, type JobArgs, type JobContract, type JobProgress, type JobResult } from './jobs.ts';
import { parse, stringify } from './json.ts';
import { pythonExecutable, pythonPackageDir } from './python-env.ts';
import { writeFileAtomic } from '../util/files.ts';
import type { PythonSession } from './session.ts';

export interface TorchrunOptions {
  processes: number;
  /** Counted as a running job, so that Ctrl-C cancels this run and says how to resume. */
  session: PythonSession;
  /** Holds job.json, events.jsonl and result.json. */
  dir: string;
  onProgress?: (progress: JobProgress) => void;
  signal?: AbortSignal;
  pollMs?: number;
}

/** New complete lines appended to a file since `offset`. */
function readNewLines(file: string, offset: number): { lines: string[]; offset: number } {
  if (!existsSync(file)) return { lines: [], offset };
  const size = statSync(file).size;
  if (size <= offset) return { lines: [], offset };
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    const text = buffer.toString('utf8');
    const end = text.lastIndexOf('\n') + 1;
    return { lines: text.slice(0, end).split('\n').filter(Boolean), offset: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
}

export async function runTorchrun<J extends JobContract>(job: J, jobArgs: JobArgs<J>, options: TorchrunOptions): Promise<JobResult<J>> {
  const { processes, session, dir, onProgress, signal, pollMs = 250 } = options;
  signal?.throwIfAborted();
  const { kind } = job;
  const args = checkJobArgs(job, jobArgs);
  const jobFile = path.join(dir, 'job.json');
  const events = path.join(dir, 'events.jsonl');
  const result = path.join(dir, 'result.json');
  writeFileAtomic(jobFile, stringify(args));
  const child = spawn(
    pythonExecutable(),
    [
      '-m',
      'torch.distributed.run',
      '--standalone',
      `--nproc_per_node=${processes}`,
      '-m',
      'id3_torch',
      kind,
      '--job',
      jobFile,
      '--events',
      events,
      '--result',
      result,
      '--parent-pid',
      String(process.pid),
    ],
    { detached: true, stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, PYTHONPATH: pythonPackageDir } },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('exit', killGroup);
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
    killGroup();
  };
  signal?.addEventListener('abort', cancel, { once: true });
  const interrupt = session.interrupted.signal;
  interrupt.addEventListener('abort', cancel, { once: true });
  session.runningJobs += 1;

  let offset = 0;
  const follow = () => {
    const read = readNewLines(events, offset);
    offset = read.offset;
    for (const line of read.lines.reverse()) {
      try {
        onProgress?.(parse(line) as JobProgress);
        return;
      } catch {
        // a line cut short by a killed run of an earlier attempt: look at the one before
      }
    }
  };
  const timer = setInterval(follow, pollMs);
  try {
    // 'close' (not 'exit'): stderr is drained by then, so the traceback is in `stderr`.
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    follow();
    if (cancelled) throw new CancelledError(`job ${kind} on ${processes} processes`);
    if (code !== 0) {
      const tail = stderr.trim().split('\n').slice(-15).join('\n');
      throw new Error(`torchrun ${kind} on ${processes} processes failed (exit code ${code}):\n${tail}`);
    }
    return checkJobResult(job, parse(readFileSync(result, 'utf8')));
  } finally {
    clearInterval(timer);
    process.off('exit', killGroup);
    session.runningJobs -= 1;
    interrupt.removeEventListener('abort', cancel);
    signal?.removeEventListener('abort', cancel);
  }
}
