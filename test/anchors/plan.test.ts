/** The per-image plan: exact cosines, their distribution (KS, against scipy), attributes, seeds, reuse. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designAnchors } from '../../src/anchors/design.ts';
import { writeIdentityPlan, type PlanSummary } from '../../src/anchors/plan.ts';
import { pythonExecutable } from '../../src/bridge/python-env.ts';
import { PythonSession } from '../../src/bridge/session.ts';
import { Tensor } from '../../src/bridge/tensor.ts';
import { AnchorsConfig, type IdentityPlanInput } from '../../src/config/anchors.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import { ksCriticalValue, ksUniform } from '../../src/util/kolmogorov-smirnov.ts';

const work = mkdtempSync(path.join(tmpdir(), 'id3-plan-'));
const anchorsFile = path.join(work, 'anchors.npy');
const [N, D] = [40, 16];
let s: PythonSession;
let manifest: string;

beforeAll(async () => {
  s = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
  const { anchors } = await designAnchors(s, { ...AnchorsConfig.parse({ count: N, method: 'random', seed: 1 }), dim: D });
  await anchors.saveNpy(anchorsFile);
  // A small real training manifest (prepare renders it) for empirical attributes.
  const config = resolveConfig(
    {
      name: 'faces',
      runsDir: work,
      device: 'cpu',
      dataset: { kind: 'parametric', identities: 12, imagesPerIdentity: 4, resolution: 32, valIdentities: 2, testIdentities: 2 },
    },
    'test',
  );
  await runPipeline(config, { session: s });
  manifest = path.join(work, 'faces', 'prepare', 'manifest.csv');
});
afterAll(() => s?.close());

interface PlanRows {
  header: string[];
  rows: string[][];
  column: (name: string) => number[];
}

function readPlanCsv(dir: string): PlanRows {
  const [header, ...rows] = readFileSync(path.join(dir, 'plan.csv'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(','));
  return { header: header!, rows, column: (name) => rows.map((r) => Number(r[header!.indexOf(name)])) };
}

const npy = async (file: string) => Array.from(await (await Tensor.loadNpy(s, file)).toFloat32Array());

async function plan(name: string, fields: IdentityPlanInput): Promise<{ dir: string; summary: PlanSummary }> {
  const dir = path.join(work, name);
  return { dir, summary: await writeIdentityPlan(s, { anchors: anchorsFile, plan: fields, manifest, outDir: dir }) };
}

describe('embeddings y_ij', () => {
  it('are unit vectors at cosine exactly v_ij from their anchor, with v_ij ~ U[lb, ub] (KS, as scipy computes it)', async () => {
    const { dir, summary } = await plan('ranges', { imagesPerIdentity: 50, bounds: [0.6, 0.8], attributes: { source: 'ranges' }, seed: 3 });
    expect(summary).toMatchObject({ identities: N, imagesPerIdentity: 50, images: N * 50, dim: D, bounds: [0.6, 0.8] });
    const y = await npy(path.join(dir, 'embeddings.npy'));
    const w = await npy(path.join(dir, 'anchors.npy'));
    (await npy(anchorsFile)).forEach((x, c) => expect(w[c]).toBeCloseTo(x, 6)); // the anchors, renormalised
    const csv = readPlanCsv(dir);
    expect(csv.header).toEqual(['row', 'identity', 'image', 'cosine', 'age', 'yaw', 'pitch', 'roll', 'seed']);
    const [identity, image, cosine] = [csv.column('identity'), csv.column('image'), csv.column('cosine')];
    expect(csv.column('row')).toEqual([...Array(N * 50).keys()]);
    for (let r = 0; r < N * 50; r++) {
      expect([identity[r], image[r]]).toEqual([Math.floor(r / 50), r % 50]);
      const yr = y.slice(r * D, (r + 1) * D);
      const wi = w.slice(identity[r]! * D, (identity[r]! + 1) * D);
      expect(Math.hypot(...yr)).toBeCloseTo(1, 5);
      expect(yr.reduce((sum, x, c) => sum + x * wi[c]!, 0)).toBeCloseTo(cosine[r]!, 5); // the CSV holds 6 decimals
    }
    expect(summary.cosines.maxError).toBeLessThan(1e-5);
    const ks = ksUniform(cosine, 0.6, 0.8);
    expect(ks.statistic).toBeLessThan(ksCriticalValue(cosine.length, 0.01));
    expect(summary.cosines.ks.statistic).toBeCloseTo(ks.statistic, 5);
    // The same test by scipy on the same numbers.
    const sample = path.join(work, 'cosines.json');
    writeFileSync(sample, JSON.stringify(cosine));
    const scipy = JSON.parse(
      execFileSync(
        pythonExecutable(),
        [
          '-c',
          `import json, sys; from scipy import stats; r = stats.kstest(json.load(open(sys.argv[1])), stats.uniform(0.6, 0.2).cdf); print(json.dumps([r.statistic, r.pvalue]))`,
          sample,
        ],
        { encoding: 'utf8' },
      ),
    ) as [number, number];
    expect(ks.statistic).toBeCloseTo(scipy[0], 10);
    expect(ks.pValue).toBeCloseTo(scipy[1], 2);
  });

  it('the KS test rejects cosines that are not U[lb, ub]', () => {
    const sample = Array.from({ length: 2000 }, (_, i) => 0.7 + 0.25 * ((i + 0.5) / 2000)); // U[0.7, 0.95]
    const ks = ksUniform(sample, 0.7, 0.9);
    expect(ks.statistic).toBeCloseTo(0.2, 3); // F_n(0.9) = 0.8 where F = 1
    expect(ks.statistic).toBeGreaterThan(ksCriticalValue(2000, 0.01));
    expect(ks.pValue).toBeLessThan(1e-10);
    expect(ksCriticalValue(1e6, 0.05) * Math.sqrt(1e6)).toBeCloseTo(1.3581, 3); // the asymptotic c(0.05)
  });
});

describe('attributes s_ij', () => {
  it('ranges, pose only: one age per identity, poses per image, all within the ranges', async () => {
    const ranges = {
      age: [20, 60] as [number, number],
      yaw: [-30, 30] as [number, number],
      pitch: [-10, 10] as [number, number],
      roll: [-5, 5] as [number, number],
    };
    const { dir } = await plan('pose', { imagesPerIdentity: 20, attributes: { source: 'ranges', ...ranges, vary: 'pose' } });
    const a = await npy(path.join(dir, 'attributes.npy'));
    const at = (r: number, c: number) => a[r * 4 + c]!;
    for (let i = 0; i < N; i++) {
      const rows = Array.from({ length: 20 }, (_, j) => i * 20 + j);
      expect(new Set(rows.map((r) => at(r, 0))).size).toBe(1);
      expect(new Set(rows.map((r) => at(r, 1))).size).toBe(20);
    }
    (['age', 'yaw', 'pitch', 'roll'] as const).forEach((name, c) => {
      const column = Array.from({ length: N * 20 }, (_, r) => at(r, c));
      expect(Math.min(...column)).toBeGreaterThanOrEqual(ranges[name][0]);
      expect(Math.max(...column)).toBeLessThanOrEqual(ranges[name][1]);
    });
    const csv = readPlanCsv(dir);
    expect(csv.column('yaw').every((v, r) => Math.abs(v - at(r, 1)) < 1e-4)).toBe(true);
  });

  it('empirical, age only: whole rows of the training split, one pose per identity', async () => {
    const { dir, summary } = await plan('empirical', { imagesPerIdentity: 10, attributes: { source: 'empirical', vary: 'age' } });
    expect(summary.attributes).toEqual({ source: 'empirical', vary: 'age' });
    const [header, ...lines] = readFileSync(manifest, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const col = (name: string) => header!.indexOf(name);
    const train = lines.filter((l) => l[col('split')] === 'train');
    const ages = new Set(train.map((l) => Number(l[col('age')])));
    const poses = new Set(train.map((l) => ['yaw', 'pitch', 'roll'].map((n) => Number(l[col(n)])).join()));
    const a = await npy(path.join(dir, 'attributes.npy'));
    const round4 = (x: number) => Math.round(x * 1e4) / 1e4; // the manifest holds 4 decimals
    for (let i = 0; i < N; i++) {
      const rows = Array.from({ length: 10 }, (_, j) => i * 10 + j);
      const pose = (r: number) => [1, 2, 3].map((c) => round4(a[r * 4 + c]!)).join();
      expect(new Set(rows.map(pose)).size).toBe(1);
      expect(poses.has(pose(rows[0]!))).toBe(true);
      for (const r of rows) expect(ages.has(round4(a[r * 4]!))).toBe(true);
      expect(new Set(rows.map((r) => a[r * 4])).size).toBeGreaterThan(1);
    }
  });
});

describe('seeds, determinism and reuse', () => {
  it('per-image seeds are distinct safe integers; the same inputs give the same bytes; a finished plan is reused', async () => {
    const fields: IdentityPlanInput = { imagesPerIdentity: 30, attributes: { source: 'empirical' }, seed: 9 };
    const first = await plan('again-a', fields);
    const second = await plan('again-b', fields);
    for (const file of ['plan.csv', 'embeddings.npy', 'attributes.npy']) {
      expect(readFileSync(path.join(first.dir, file)).equals(readFileSync(path.join(second.dir, file)))).toBe(true);
    }
    // vary 'all': every image's (age, yaw, pitch, roll) is one training row's, jointly
    const [header, ...lines] = readFileSync(manifest, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const tuple = (values: number[]) => values.map((x) => Math.round(x * 1e4) / 1e4).join();
    const trainRows = new Set(
      lines
        .filter((l) => l[header!.indexOf('split')] === 'train')
        .map((l) => tuple(['age', 'yaw', 'pitch', 'roll'].map((n) => Number(l[header!.indexOf(n)])))),
    );
    const a = await npy(path.join(first.dir, 'attributes.npy'));
    for (let r = 0; r < N * 30; r++) expect(trainRows.has(tuple(a.slice(r * 4, r * 4 + 4)))).toBe(true);
    const seeds = readPlanCsv(first.dir).column('seed');
    expect(new Set(seeds).size).toBe(N * 30);
    expect(seeds.every((x) => Number.isSafeInteger(x) && x >= 0)).toBe(true);
    const other = await plan('again-c', { ...fields, seed: 10 });
    expect(readFileSync(path.join(other.dir, 'embeddings.npy')).equals(readFileSync(path.join(first.dir, 'embeddings.npy')))).toBe(false);

    const written = statSync(path.join(first.dir, 'embeddings.npy')).mtimeMs;
    expect(await plan('again-a', fields)).toEqual(first); // reused: nothing rewritten
    expect(statSync(path.join(first.dir, 'embeddings.npy')).mtimeMs).toBe(written);
    // a killed writer leaves no plan.json: the plan is written again, whole
    rmSync(path.join(first.dir, 'plan.json'));
    writeFileSync(path.join(first.dir, 'embeddings.npy'), 'half');
    expect((await plan('again-a', fields)).summary).toEqual(first.summary);
    expect(readFileSync(path.join(first.dir, 'embeddings.npy')).equals(readFileSync(path.join(second.dir, 'embeddings.npy')))).toBe(true);
  });

  it('bad inputs are refused by name', async () => {
    await expect(plan('bad-1', { bounds: [0.9, 0.7] })).rejects.toThrow(
      /plan: invalid config\n {2}bounds: expected \[low, high\] with low ≤ high/,
    );
    await expect(plan('bad-2', { bounds: [0.8, 0.8] })).rejects.toThrow(
      /plan: invalid config\n {2}bounds: expected \[lb, ub\] with lb < ub/,
    );
    await expect(writeIdentityPlan(s, { anchors: anchorsFile, plan: {}, outDir: path.join(work, 'bad-3') })).rejects.toThrow(
      /empirical attributes resample a manifest/,
    );
    await expect(
      writeIdentityPlan(s, { anchors: path.join(work, 'none.npy'), plan: {}, manifest, outDir: path.join(work, 'bad-4') }),
    ).rejects.toThrow(/no anchors file at/);
  });
});
