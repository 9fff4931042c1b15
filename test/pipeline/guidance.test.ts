/** The guidance stage: γ and mode chosen on the validation identities by the judge, generate sampling at the choice. */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { planRun, runPipeline } from '../../src/pipeline/runner.ts';
import type { GenerateSummary } from '../../src/pipeline/stages/generate.ts';
import { chooseGuidance, type GuidanceRow, type GuidanceSummary } from '../../src/pipeline/stages/guidance.ts';
import { toyId3Config } from '../fixtures/toy-id3.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-guidance-'));
const { trainFr: _trainFr, ...toy } = toyId3Config(runsDir);
const config = (guidance: object | undefined, extra: object = {}) =>
  resolveConfig({ ...toy, name: 'guided', report: false, ...(guidance ? { guidance } : {}), ...extra }, 'test');

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
});
afterAll(async () => {
  await session.close();
});

const row = (
  guidanceScale: number,
  gradientMode: GuidanceRow['gradientMode'],
  judgePersonRank1: number | null,
  judgeRank1 = 0.5,
): GuidanceRow => ({
  guidanceScale,
  gradientMode,
  judgeRank1,
  judgePersonRank1,
  judgeCosine: 0,
  fRank1: 1,
  fCosine: 1,
  yawError: null,
  seconds: 0,
});

describe('guidance', () => {
  it('chooses the largest judge person rank-1, ties to the smaller γ and to detached, whatever f says', () => {
    expect(chooseGuidance([row(0, 'none', 0.5), row(2, 'detached', 0.7), row(2, 'full', 0.7), row(4, 'detached', 0.7)])).toMatchObject({
      guidanceScale: 2,
      gradientMode: 'detached',
    });
    expect(chooseGuidance([row(0, 'none', 0.8), row(8, 'detached', 0.6)])).toMatchObject({ guidanceScale: 0 });
    // A setting that copies its condition photos better (rank-1) but draws the person worse (person rank-1) loses.
    expect(chooseGuidance([row(0, 'none', 0.4, 0.5), row(8, 'detached', 0.3, 0.9)])).toMatchObject({ guidanceScale: 0 });
    // A split of one photo an identity (FFHQ) has no person rank-1: the rank-1 decides.
    expect(chooseGuidance([row(0, 'none', null, 0.5), row(8, 'detached', null, 0.9)])).toMatchObject({ guidanceScale: 8 });
  });

  it('scores every setting on the validation identities, and generate samples at the choice', async () => {
    const guided = config({ scales: [0, 3], modes: ['detached', 'full'] });
    const result = await runPipeline(guided, {
      session,
      only: ['prepare', 'encoder', 'judge', 'attributes', 'train', 'guidance', 'anchors', 'generate'],
    });
    const s = result.stages.guidance!.record.summary as GuidanceSummary;
    expect(s).toMatchObject({ split: 'val', identities: 2 });
    expect(s.rows.map((r) => [r.guidanceScale, r.gradientMode])).toEqual([
      [0, 'none'],
      [3, 'detached'],
      [3, 'full'],
    ]);
    expect(s.realPersonRank1).toBeGreaterThanOrEqual(0);
    expect(s.realPersonRank1).toBeLessThanOrEqual(1);
    for (const r of s.rows) {
      expect(r.judgeRank1).toBeGreaterThanOrEqual(0);
      expect(r.judgeRank1).toBeLessThanOrEqual(1);
      expect(r.judgePersonRank1).toBeGreaterThanOrEqual(0);
      expect(r.judgePersonRank1).toBeLessThanOrEqual(1);
      expect(r.yawError).toBeGreaterThan(0); // the parametric set's regressor measured it
    }
    const best = chooseGuidance(s.rows);
    expect(s.chosen).toEqual({
      guidanceScale: best.guidanceScale,
      gradientMode: best.gradientMode === 'none' ? 'detached' : best.gradientMode,
    });
    expect(JSON.parse(readFileSync(path.join(result.dir, s.choice), 'utf8')).chosen).toEqual(s.chosen);
    expect(existsSync(path.join(result.dir, 'guidance', 'val', 'g3-full', 'samples.png'))).toBe(true);
    const generated = result.stages.generate!.record.summary as GenerateSummary;
    expect(generated.guidance).toEqual({ ...s.chosen, chosen: true });

    // The choice is part of what generate's key depends on; the sampler's own γ no longer is.
    const keyOf = (c: ReturnType<typeof config>, stage: string) => planRun(c).find((p) => p.stage.name === stage)!.key;
    const otherScales = config({ scales: [0, 5], modes: ['detached', 'full'] });
    expect(keyOf(otherScales, 'generate')).not.toBe(keyOf(guided, 'generate'));
    const otherSamplerGamma = config(
      { scales: [0, 3], modes: ['detached', 'full'] },
      { diffusion: { ...toy.diffusion, sampler: { ...toy.diffusion!.sampler, guidanceScale: 7 } } },
    );
    expect(keyOf(otherSamplerGamma, 'generate')).toBe(keyOf(guided, 'generate'));
    expect(keyOf(otherSamplerGamma, 'train')).toBe(keyOf(guided, 'train'));
  });

  it('needs a judge, a diffusion model and validation identities, said before anything runs', () => {
    const { judge: _judge, ...noJudge } = toy;
    const problems = (input: object) => {
      try {
        resolveConfig({ ...input, name: 'bad', guidance: {} } as never, 'test');
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(problems(noJudge)).toMatch(/guidance: expected a judge: γ is chosen by an encoder that the guidance does not climb, never by f/);
    expect(problems({ ...toy, dataset: { ...toy.dataset, valIdentities: 0 } })).toMatch(
      /guidance: expected dataset.valIdentities ≥ 2 \(now 0\)/,
    );
  });
});
