/**
 * How a run talks to the person (or program) that started it: progress bars on a terminal,
 * JSON lines for machines, or nothing.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { JobProgress } from '../bridge/jobs.ts';

export interface Reporter {
  stageStarted(stage: string, detail: string): void;
  progress(stage: string, progress: JobProgress): void;
  stageFinished(stage: string, outcome: 'done' | 'cached', summary: string): void;
  info(message: string): void;
  close(): void;
}

export type ReporterKind = 'bars' | 'json' | 'quiet';

export function createReporter(kind: ReporterKind): Reporter {
  if (kind === 'json') return new JsonReporter();
  if (kind === 'quiet') return new QuietReporter();
  return new BarsReporter();
}

function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60
    ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

class BarsReporter implements Reporter {
  private readonly multibar = new MultiBar(
    {
      format: ' {stage} |{bar}| {value}/{total} {unit} · {rate}/s · eta {eta_text} {metrics}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    Presets.shades_classic,
  );
  private readonly bars = new Map<string, SingleBar>();
  private running = 0;

  /** cli-progress prints logged lines only on its next redraw: with no bar running, print now. */
  private log(line: string): void {
    if (this.running > 0) this.multibar.log(`${line}\n`);
    else console.log(line);
  }

  stageStarted(stage: string, detail: string): void {
    this.log(`▶ ${stage}: ${detail}`);
  }

  progress(stage: string, p: JobProgress): void {
    const payload = {
      stage: stage.padEnd(9),
      unit: p.unit,
      rate: p.rate >= 100 ? p.rate.toFixed(0) : p.rate.toFixed(1),
      eta_text: formatSeconds(p.eta),
      metrics: Object.entries(p.metrics)
        .map(([k, v]) => `${k} ${Number(v).toPrecision(4)}`)
        .join(' '),
    };
    let bar = this.bars.get(stage);
    if (!bar) {
      bar = this.multibar.create(p.total, p.step, payload);
      this.bars.set(stage, bar);
      this.running += 1;
    }
    bar.setTotal(p.total);
    bar.update(p.step, payload);
  }

  stageFinished(stage: string, outcome: 'done' | 'cached', summary: string): void {
    const bar = this.bars.get(stage);
    if (bar) {
      bar.stop();
      this.multibar.remove(bar);
      this.bars.delete(stage);
      this.running -= 1;
    }
    this.log(`${outcome === 'cached' ? '↺' : '✔'} ${stage}${outcome === 'cached' ? ' (cached)' : ''}: ${summary}`);
  }

  info(message: string): void {
    this.log(message);
  }

  close(): void {
    this.multibar.stop();
  }
}

class JsonReporter implements Reporter {
  /** Progress events per stage at most once a second (and always the last one). */
  private readonly lastProgress = new Map<string, number>();
  private write(event: object): void {
    process.stdout.write(`${JSON.stringify({ time: Date.now() / 1000, ...event })}\n`);
  }
  stageStarted(stage: string, detail: string): void {
    this.write({ event: 'stage-started', stage, detail });
  }
  progress(stage: string, progress: JobProgress): void {
    const now = Date.now();
    if (progress.step < progress.total && now - (this.lastProgress.get(stage) ?? 0) < 1000) return;
    this.lastProgress.set(stage, now);
    this.write({ event: 'progress', stage, ...progress });
  }
  stageFinished(stage: string, outcome: 'done' | 'cached', summary: string): void {
    this.write({ event: 'stage-finished', stage, outcome, summary });
  }
  info(message: string): void {
    this.write({ event: 'info', message });
  }
  close(): void {}
}

class QuietReporter implements Reporter {
  stageStarted(): void {}
  progress(): void {}
  stageFinished(): void {}
  info(): void {}
  close(): void {}
}
