/** Variants and sweeps: patches merged into a base config, shared stages, one table. */
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { ConfigError, resolveConfig } from '../../src/config/load.ts';
import type { Id3ConfigInput } from '../../src/config/schema.ts';
import { applyPatch, patchPaths } from '../../src/config/variants.ts';
import { openRun } from '../../src/pipeline/open.ts';
import { run } from '../../src/pipeline/run.ts';
import { sweep } from '../../src/pipeline/sweep.ts';
import { runCli } from '../fixtures/processes.ts';
import { TINY_FR } from '../fixtures/toy-id3.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-sweep-'));
const base: Id3ConfigInput = {
  name: 'abl',
  runsDir,
  device: 'cpu',
  dataset: { kind: 'parametric', identities: 26, imagesPerIdentity: 3, resolution: 32, valIdentities: 1, testIdentities: 20 },
  trainFr: { ...TINY_FR, embeddingSize: 8, widths: [4, 4, 8, 8], batchSize: 3, lr: 0.1 },
  evaluate: { pairs: 40 },
};

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
});
afterAll(async () => {
  await session.close();
});

describe('patches', () => {
  it('merge objects key by key and replace values and arrays, leaving both inputs alone', () => {
    const a = { x: 1, nested: { y: [1, 2], z: 'keep' }, list: [{ k: 1 }] };
    const merged = applyPatch(a, { nested: { y: [3] }, list: [{ j: 2 }], extra: true });
    expect(merged).toEqual({ x: 1, nested: { y: [3], z: 'keep' }, list: [{ j: 2 }], extra: true });
    expect(a.nested.y).toEqual([1, 2]);
    expect(patchPaths({ trainFr: { m: 0.3, decayEpochs: [2] }, device: 'cpu' })).toEqual(['trainFr.m', 'trainFr.decayEpochs', 'device']);
  });

  it('a bad variant is a bad config, reported under its name', () => {
    const attempt = () =>
      resolveConfig(
        { ...base, variants: { small: { dataset: { identities: -3 } }, renamed: { name: 'x' } as never, fine: { trainFr: { m: 0.1 } } } },
        'abl.ts',
      );
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'variants.small: dataset.identities: expected a positive integer, got -3',
        'variants.renamed.name: a variant cannot set name',
      ]);
    }
  });
});

describe('sweep', () => {
  it('runs each variant as <base>-<variant>, makes shared stages once, and tabulates fields and metrics', async () => {
    const result = await sweep(base, { soft: { trainFr: { m: 0.1 } }, hard: { trainFr: { m: 0.4, s: 32 } } }, { session });
    expect(Object.keys(result.runs)).toEqual(['soft', 'hard']);
    expect(result.runs.soft!.name).toBe('abl-soft');
    expect(result.runs.soft!.stages.prepare?.outcome).toBe('done');
    expect(result.runs.hard!.stages.prepare?.outcome).toBe('cached');
    expect(realpathSync(path.join(runsDir, 'abl-hard', 'prepare'))).toBe(realpathSync(path.join(runsDir, 'abl-soft', 'prepare')));
    expect(result.runs.hard!.stages['train-fr']?.outcome).toBe('done');

    expect(result.columns.slice(0, 3)).toEqual(['variant', 'trainFr.m', 'trainFr.s']);
    expect(result.rows.map((r) => [r.variant, r['trainFr.m'], r['trainFr.s']])).toEqual([
      ['soft', 0.1, 16],
      ['hard', 0.4, 32],
    ]);
    const evaluated = (variant: 'soft' | 'hard') =>
      (result.runs[variant]!.stages.evaluate!.record.summary as { rows: { model: string; accuracy: number }[] }).rows;
    for (const [i, variant] of (['soft', 'hard'] as const).entries()) {
      for (const r of evaluated(variant)) expect(result.rows[i]![`held-out ${r.model}`]).toBe(r.accuracy);
    }
    const csv = readFileSync(result.csv, 'utf8').trim().split('\n');
    expect(csv[0]).toBe(result.columns.join(','));
    expect(csv[2]!.split(',').slice(0, 3)).toEqual(['hard', '0.4', '32']);
    expect(readFileSync(result.markdown, 'utf8')).toContain('| variant | trainFr.m | trainFr.s |');
    expect(path.dirname(result.csv)).toBe(path.join(runsDir, 'abl'));

    const opened = openRun(path.join(runsDir, 'abl-hard'));
    expect(opened.config.trainFr?.m).toBe(0.4);
    expect(opened.summary('evaluate')).toEqual(result.runs.hard!.stages.evaluate!.record.summary);
    expect(() => opened.summary('encoder')).toThrow(/abl-hard: stage encoder is not made/);
  });

  it('a config with variants is refused by run() and swept by id3 run (rerun: every stage reused)', async () => {
    await expect(run({ ...base, variants: { soft: { trainFr: { m: 0.1 } } } }, { session })).rejects.toThrow(
      /has variants; run them with sweep/,
    );
    const file = path.join(runsDir, 'abl.ts');
    writeFileSync(
      file,
      `export default ${JSON.stringify({ ...base, name: undefined, variants: { soft: { trainFr: { m: 0.1 } }, hard: { trainFr: { m: 0.4, s: 32 } } } })};\n`,
    );
    const plan = await runCli(['run', file, '--dry-run', '--json']);
    expect(plan.code).toBe(0);
    expect(
      JSON.parse(plan.stdout).map((v: { variant: string; stages: { action: string }[] }) => [v.variant, v.stages.map((s) => s.action)]),
    ).toEqual([
      ['soft', ['reuse', 'reuse', 'reuse', 'reuse']],
      ['hard', ['reuse', 'reuse', 'reuse', 'reuse']],
    ]);
    const again = await runCli(['run', file, '--quiet']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/2 variants/);
    expect(again.stdout).toMatch(/\| hard \| 0\.4 \| 32 \|/);
  });
});
