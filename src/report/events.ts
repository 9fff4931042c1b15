/** A stage's events.jsonl (python/id3_torch/bridge/jobs.py `Progress`) as metric curves over its steps. */
import { existsSync, readFileSync } from 'node:fs';
import type { LineSeries } from './plots.ts';

interface ProgressEvent {
  step: number;
  metrics?: Record<string, number>;
}

/** One series per metric the events carry (loss, lr, ...), against the step. A resumed stage
 *  appends to the same file: a step seen again replaces the earlier value. */
export function metricCurves(file: string): LineSeries[] {
  if (!existsSync(file)) return [];
  const byMetric = new Map<string, Map<number, number>>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let event: ProgressEvent;
    try {
      event = JSON.parse(line) as ProgressEvent;
    } catch {
      continue; // a line cut short by a kill
    }
    for (const [name, value] of Object.entries(event.metrics ?? {})) {
      if (typeof value !== 'number') continue;
      if (!byMetric.has(name)) byMetric.set(name, new Map());
      byMetric.get(name)!.set(event.step, value);
    }
  }
  return [...byMetric].map(([label, points]) => {
    const steps = [...points.keys()].sort((a, b) => a - b);
    return { label, x: steps, y: steps.map((s) => points.get(s)!) };
  });
}
