/** The anchors stage through the runner: centres from the run's encoder, the exclusion zone, the cache key. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnchorReport } from '../../src/anchors/design.ts';
import { PythonSession } from '../../src/bridge/session.ts';
import { Tensor } from '../../src/bridge/tensor.ts';
import type { Id3ConfigInput } from '../../src/config/schema.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import type { AnchorsSummary } from '../../src/pipeline/stages/anchors.ts';
import { TINY_FR } from '../fixtures/toy-id3.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-anchors-'));
const dataset: Id3ConfigInput['dataset'] = {
  kind: 'parametric',
  identities: 30,
  imagesPerIdentity: 4,
  resolution: 32,
  valIdentities: 2,
  testIdentities: 20,
};
const encoder: Id3ConfigInput['encoder'] = {
  kind: 'train',
  recipe: { ...TINY_FR, embeddingSize: 24, widths: [8, 8, 16, 16] },
};
const config = (input: Partial<Id3ConfigInput>) =>
  resolveConfig({ name: 'anchors', runsDir, device: 'cpu', dataset, evaluate: { split: null }, report: false, ...input }, 'test');

let s: PythonSession;
beforeAll(async () => {
  s = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
});
afterAll(() => s?.close());

const rows = async (file: string) => {
  const t = await Tensor.loadNpy(s, file);
  const data = await t.toFloat32Array();
  const d = t.shape[1]!;
  return Array.from({ length: t.shape[0]! }, (_, i) => Array.from(data.subarray(i * d, (i + 1) * d)));
};

describe('the anchors stage', () => {
  it("keeps the anchors out of the training identities' caps, in the encoder's embedding space, and caches by key", async () => {
    const first = await runPipeline(config({ encoder, anchors: { count: 60, steps: 20, exclusionAngle: 45 } }), { session: s });
    const summary = first.stages.anchors!.record.summary as AnchorsSummary;
    expect(summary).toMatchObject({
      anchors: 'anchors/anchors.npy',
      report: 'anchors/report.json',
      centres: 'anchors/centres.npy',
      count: 60,
      dim: 24,
    });
    const anchors = await rows(path.join(first.dir, summary.anchors));
    const centres = await rows(path.join(first.dir, summary.centres!));
    expect([anchors.length, anchors[0]!.length, centres.length, centres[0]!.length]).toEqual([60, 24, 8, 24]); // 8 training identities
    const closest = Math.min(
      ...anchors.flatMap((a) =>
        centres.map(
          (c) =>
            (Math.acos(
              Math.min(
                1,
                a.reduce((sum, x, i) => sum + x * c[i]!, 0),
              ),
            ) *
              180) /
            Math.PI,
        ),
      ),
    );
    expect(closest).toBeGreaterThanOrEqual(45 - 1e-3);
    expect(summary.closestTrainingAngle).toBeCloseTo(closest, 3);
    const report = JSON.parse(readFileSync(path.join(first.dir, summary.report), 'utf8')) as AnchorReport;
    expect(report).toMatchObject({ method: 'tammes', count: 60, dim: 24, steps: 20, training: { identities: 8, exclusionAngle: 45 } });
    expect(report.minAngle).toBe(summary.minAngle);
    const events = readFileSync(path.join(first.dir, 'anchors', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.some((e) => e.label === 'identity centres')).toBe(true);
    expect(events.at(-1)).toMatchObject({ label: 'tammes', step: 20, total: 20 });

    // chunk changes speed, not the anchors: cached; the seed changes them: redone
    const again = await runPipeline(config({ encoder, anchors: { count: 60, steps: 20, exclusionAngle: 45, chunk: 7 } }), { session: s });
    expect(again.stages.anchors!.outcome).toBe('cached');
    const reseeded = await runPipeline(config({ encoder, anchors: { count: 60, steps: 20, exclusionAngle: 45, seed: 1 } }), { session: s });
    expect([reseeded.stages.encoder!.outcome, reseeded.stages.anchors!.outcome]).toEqual(['cached', 'done']);
  });

  it('without an encoder takes d from the config, and says what is missing', async () => {
    const result = await runPipeline(config({ name: 'plain', anchors: { count: 30, dim: 8, steps: 10 } }), { session: s });
    const summary = result.stages.anchors!.record.summary as AnchorsSummary;
    expect(summary).toMatchObject({ count: 30, dim: 8, centres: null, closestTrainingAngle: null });
    expect(summary.minAngle).toBeGreaterThan(summary.startMinAngle);
    expect(() => config({ anchors: { count: 30 } })).toThrow(/anchors.dim: expected a dimension d, or an encoder section/);
    expect(() => config({ anchors: { count: 30, dim: 8, exclusionAngle: 20 } })).toThrow(
      /anchors.exclusionAngle: expected an encoder section/,
    );
    expect(() => config({ encoder, anchors: { dim: 8 } })).toThrow(
      /anchors.dim: expected the encoder's embedding size 24, or no dim, got 8/,
    );
    const bad = (() => {
      try {
        return config({ anchors: { dim: 8, exclusionAngle: 0, temperature: [0.1, -1] } }) && '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(bad).toMatch(/^ {2}anchors.exclusionAngle: expected an angle in degrees, > 0 and ≤ 90, got 0$/m);
    expect(bad).toMatch(/^ {2}anchors.temperature.1: expected a number > 0, got -1$/m);
  });
});
