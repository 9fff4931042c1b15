/**
 * events.jsonl for stage work done in TypeScript, in the shape Python's `Progress` writes
 * (python/id3_torch/bridge/jobs.py): one JSON object a line, at most every half second, and
 * always the last step.
 */
import { appendFileSync } from 'node:fs';
import type { JobProgress } from '../bridge/jobs.ts';

const EVENT_INTERVAL_MS = 500;

export function eventsLog(file: string): (progress: JobProgress) => void {
  let last = -Infinity;
  return (progress) => {
    const now = Date.now();
    if (progress.step < progress.total && now - last < EVENT_INTERVAL_MS) return;
    last = now;
    appendFileSync(file, `${JSON.stringify({ time: now / 1000, ...progress })}\n`);
  };
}
