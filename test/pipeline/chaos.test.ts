/**
 * The chaos test: a toy run of the whole pipeline killed at seeded random moments (SIGKILL, SIGINT,
 * SIGTERM), a dozen times, then completed. What it made must be what an uninterrupted run makes, byte
 * for byte: every stage's recorded output hashes (stage.json `outputs`, pipeline/outputs.ts) agree.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageRecord } from '../../src/pipeline/runner.ts';
import { exited, runCli, spawnTs } from '../fixtures/processes.ts';
import { toyId3Config } from '../fixtures/toy-id3.ts';

const KILLS = 12;
const BUDGET_MS = 150_000;
const SIGNALS = ['SIGKILL', 'SIGINT', 'SIGTERM'] as const;

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A run's stages → their output hashes, less what names the run's own folder (the card, the dataset's layout,
 *  train's model.json: f's path) or a clock (events.jsonl, the anchors' report.json: seconds). */
function madeBytes(runDir: string): Record<string, Record<string, string>> {
  const made: Record<string, Record<string, string>> = {};
  for (const stage of readdirSync(runDir, { withFileTypes: true })) {
    if (!stage.isSymbolicLink() || stage.name === 'report') continue; // the report shows timings
    const record = JSON.parse(readFileSync(path.join(runDir, stage.name, 'stage.json'), 'utf8')) as StageRecord;
    expect(record.status, stage.name).toBe('done');
    made[stage.name] = Object.fromEntries(
      Object.entries(record.outputs!.hashes).filter(
        ([file]) => !/(^|\/)(events\.jsonl|card\.md|card\.json|dataset\.json|layout\.json|model\.json|report\.json)$/.test(file),
      ),
    );
  }
  return made;
}

function writeToyConfig(runsDir: string): string {
  const file = path.join(runsDir, 'toy.ts');
  writeFileSync(file, `export default ${JSON.stringify({ ...toyId3Config(runsDir), report: false })};\n`);
  return file;
}

describe('chaos', () => {
  it(
    'a run killed a dozen times at random moments ends with the bytes of an uninterrupted run',
    async () => {
      const env = { OMP_NUM_THREADS: '1' };
      const straightDir = mkdtempSync(path.join(tmpdir(), 'id3-straight-'));
      const straight = await runCli(['run', writeToyConfig(straightDir), '--quiet'], { env });
      expect(straight.code, straight.stderr).toBe(0);
      // Where things went: each stage's own lines (Stage.outputLines), in stage order.
      const lines = ['  manifest: ', '  anchors:  ', '  encoder:  ', 'verification accuracy, % (held-out: 100 pairs of 20 identities'];
      const at = lines.map((line) => straight.stdout.indexOf(line));
      expect(
        at.every((i) => i >= 0),
        straight.stdout,
      ).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);

      const chaosDir = mkdtempSync(path.join(tmpdir(), 'id3-chaos-'));
      const file = writeToyConfig(chaosDir);
      const next = random(2026);
      const started = performance.now();
      const outcomes: string[] = [];
      for (let kill = 0; kill < KILLS && performance.now() - started < BUDGET_MS; kill++) {
        const run = spawnTs('bin/id3.js', ['run', file, '--json'], env);
        const signal = SIGNALS[Math.floor(next() * SIGNALS.length)]!;
        const delay = 1_000 + next() * 5_000; // Python's start is about 1 s: most kills land inside a stage
        const timer = setTimeout(() => run.child.kill(signal), delay);
        const { code, signal: killedBy } = await exited(run.child);
        clearTimeout(timer);
        outcomes.push(`${signal}@${(delay / 1000).toFixed(1)}s→${code ?? killedBy}`);
        // A run that finished before its kill leaves nothing to resume: the rest of the kills are moot.
        if (code === 0) break;
        // An interrupted run exits 130 (SIGINT) or 143 (SIGTERM), or dies of the signal itself when it came
        // before Node installed its handlers (while loading); never 0 with work left undone, never a crash.
        if (code !== null) expect([130, 143], `${outcomes.join(', ')}\n${run.stderr()}`).toContain(code);
        else expect(killedBy).toBe(signal);
      }
      console.log(`chaos: ${outcomes.join(', ')}`);
      expect(outcomes.length).toBeGreaterThanOrEqual(6); // most kills landed before the end
      const completed = await runCli(['run', file, '--quiet'], { env });
      expect(completed.code, `${outcomes.join(', ')}\n${completed.stderr}`).toBe(0);
      expect(madeBytes(path.join(chaosDir, 'toy'))).toEqual(madeBytes(path.join(straightDir, 'toy')));
    },
    BUDGET_MS + 120_000,
  );
});
