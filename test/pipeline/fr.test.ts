/** prepare → train-fr → evaluate through the runner, in the bridge and under torchrun. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob } from '../../src/bridge/jobs.ts';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import { paperTable, type EvaluateSummary } from '../../src/pipeline/stages/evaluate.ts';
import { pngSize } from '../fixtures/png.ts';
import { repoRoot } from '../fixtures/processes.ts';
import type { TrainFrSummary } from '../../src/pipeline/stages/train-fr.ts';
import { verifyIjbJob } from '../../src/jobs/evaluate.ts';
import { TINY_FR } from '../fixtures/toy-id3.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-fr-'));
const config = (name: string, processes: number) =>
  resolveConfig(
    {
      name,
      runsDir,
      device: 'cpu',
      dataset: { kind: 'parametric', identities: 30, imagesPerIdentity: 4, resolution: 32, valIdentities: 2, testIdentities: 20 },
      trainFr: { ...TINY_FR, embeddingSize: 32, widths: [8, 8, 16, 16], epochs: 2, decayEpochs: [2], batchSize: 8 / processes, processes },
      evaluate: { pairs: 100 },
    },
    'test',
  );

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
});
afterAll(async () => {
  await session.close();
});

describe('train-fr and evaluate', () => {
  it('train in the bridge, then score the encoder and the pixel baseline on the same held-out pairs', async () => {
    const result = await runPipeline(config('bridge', 1), { session });
    const train = result.stages['train-fr']!.record.summary as TrainFrSummary;
    expect(train).toMatchObject({ steps: 2 * 4, classes: 8, images: 32, processes: 1, encoder: 'train-fr' });
    const evaluation = result.stages.evaluate!.record.summary as EvaluateSummary;
    expect(evaluation.sets).toEqual([{ name: 'held-out', images: 80, pairs: 100, identities: 20 }]);
    expect(evaluation.rows.map((r) => [r.model, r.benchmark, r.pairs])).toEqual([
      ['iresnet-small (train-fr)', 'held-out', 100],
      ['raw pixels (cosine)', 'held-out', 100],
    ]);
    for (const row of evaluation.rows) {
      expect(row.accuracy).toBeGreaterThanOrEqual(0.4);
      expect(row.accuracy).toBeLessThanOrEqual(1);
    }
    const table = readFileSync(path.join(result.dir, evaluation.table), 'utf8').trim().split('\n');
    expect(table[0]).toBe('model,benchmark,pairs,accuracy,std,threshold,tarAt1e3,tarAt1e4');
    expect(table).toHaveLength(3);
    const pairs = readFileSync(path.join(result.dir, evaluation.pairsFile!), 'utf8').trim().split('\n');
    expect(pairs).toHaveLength(101);

    // The report: the verification table as evaluate measured it, and every plot it links to.
    const report = readFileSync(path.join(result.dir, 'report', 'report.md'), 'utf8');
    for (const r of evaluation.rows) expect(report).toContain(`| ${r.model} | ${(100 * r.accuracy).toFixed(2).replace(/\.?0+$/, '')} |`);
    expect(report).toMatch(/\| train-fr \| [0-9a-f]{12} \| done \|/);
    const linked = [...report.matchAll(/!\[[^\]]*\]\(([^)]+\.png)\)/g)].map((m) => m[1]!);
    expect(linked).toEqual(
      expect.arrayContaining(['../prepare/grid.png', 'prepare-attributes.png', 'roc-held-out.png', 'train-fr-loss.png', 'train-fr-lr.png']),
    );
    for (const png of linked) expect(pngSize(path.join(result.dir, 'report', png)).width).toBeGreaterThan(100);
  });

  it('forcing train-fr redoes evaluate too, and leaves prepare cached', async () => {
    const result = await runPipeline(config('bridge', 1), { session, force: ['train-fr'] });
    expect(Object.fromEntries(Object.entries(result.stages).map(([name, s]) => [name, s.outcome]))).toEqual({
      prepare: 'cached',
      'train-fr': 'done',
      evaluate: 'done',
      report: 'done',
    });
  });

  it("scores the encoder stage's model too, and a .bin benchmark exactly as the same pairs held out", async () => {
    const base = config('bench', 1);
    const withEncoder = resolveConfig(
      { ...base, encoder: { kind: 'train', recipe: { ...base.trainFr!, epochs: 1, decayEpochs: [1] } } },
      'test',
    );
    const first = await runPipeline(withEncoder, { session });
    const evaluation = first.stages.evaluate!.record.summary as EvaluateSummary;
    expect(evaluation.rows.map((r) => r.model)).toEqual(['iresnet-small (encoder)', 'iresnet-small (train-fr)', 'raw pixels (cosine)']);

    // The held-out pairs written as a lossless .bin: each trained model must score it exactly as held
    // out (the pixel baseline centres on its set's mean image, which the .bin's repeats shift).
    const bin = path.join(runsDir, 'copy.bin');
    const python = [
      'import sys, torch',
      'from id3_torch.data.labelled_images import LabelledImages',
      'from id3_torch.evaluation.pairs import read_pairs_csv',
      'from id3_torch.data.verification_bin import write_verification_bin',
      'data = LabelledImages.from_manifest(sys.argv[1], splits=("test",))',
      'pairs = read_pairs_csv(sys.argv[2])',
      'order = torch.stack([torch.as_tensor(pairs.a), torch.as_tensor(pairs.b)], 1).flatten()',
      'write_verification_bin(sys.argv[3], data.images[order], pairs.same.tolist(), format="png")',
    ].join('\n');
    const made = spawnSync(
      path.join(repoRoot, '.venv', 'bin', 'python'),
      ['-c', python, path.join(first.dir, 'prepare', 'manifest.csv'), path.join(first.dir, evaluation.pairsFile!), bin],
      {
        env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python') },
        encoding: 'utf8',
      },
    );
    expect(made.stderr).toBe('');
    const second = await runPipeline(
      resolveConfig({ ...withEncoder, evaluate: { ...withEncoder.evaluate, benchmarks: [{ name: 'copy', path: bin }] } }, 'test'),
      { session },
    );
    expect(second.stages.encoder?.outcome).toBe('cached');
    expect(second.stages['train-fr']?.outcome).toBe('cached');
    const rows = (second.stages.evaluate!.record.summary as EvaluateSummary).rows;
    for (const model of ['iresnet-small (encoder)', 'iresnet-small (train-fr)']) {
      const [heldOut, copy] = ['held-out', 'copy'].map((set) => rows.find((r) => r.model === model && r.benchmark === set)!);
      expect(copy!.pairs).toBe(100);
      expect(copy!.accuracy).toBeCloseTo(heldOut!.accuracy, 12);
      expect(copy!.threshold).toBeCloseTo(heldOut!.threshold, 12);
    }
    const paper = paperTable(rows);
    expect(paper.columns).toEqual(['model', 'held-out', 'copy', 'avg']);
    expect(paper.rows[0]!.avg).toBeCloseTo(((paper.rows[0]!['held-out'] as number) + (paper.rows[0]!.copy as number)) / 2, 1);
  });

  it('IJB folders: every model scored as `id3 verify --ijb` scores it; an absent folder skipped or refused', async () => {
    const base = config('bridge', 1);
    const release = path.join(runsDir, 'IJB_release');
    const made = spawnSync(
      path.join(repoRoot, '.venv', 'bin', 'python'),
      [
        '-c',
        'import sys; from ijb_helper import write_ijb_folder; write_ijb_folder(sys.argv[1], subjects=5, templates_each=2)',
        path.join(release, 'IJBC'),
      ],
      {
        env: { ...process.env, PYTHONPATH: [path.join(repoRoot, 'python'), path.join(repoRoot, 'python', 'tests')].join(path.delimiter) },
        encoding: 'utf8',
      },
    );
    expect(made.stderr).toBe('');
    const ijb = [
      { name: 'IJB-C', folder: path.join(release, 'IJBC') },
      { name: 'IJB-B', folder: path.join(release, 'IJBB'), whenMissing: 'skip' },
    ];
    const withIjb = resolveConfig({ ...base, evaluate: { ...base.evaluate, ijb } }, 'test');
    const result = await runPipeline(withIjb, { session });
    expect(result.stages['train-fr']?.outcome).toBe('cached');
    const evaluation = result.stages.evaluate!.record.summary as EvaluateSummary;
    expect(evaluation.ijbMissing).toEqual([{ name: 'IJB-B', folder: path.join(release, 'IJBB') }]);
    expect(evaluation.ijb.map((r) => [r.model, r.benchmark, r.templates, r.pairs])).toEqual([
      ['iresnet-small (train-fr)', 'IJB-C', 10, 45],
    ]);
    const direct = await runJob(session, verifyIjbJob, {
      folder: path.join(release, 'IJBC'),
      model: path.join(result.dir, 'train-fr'),
      device: 'cpu',
    }); // what `id3 verify --ijb` runs
    expect(evaluation.ijb[0]!.tarAtFar).toEqual(direct.tarAtFar);
    expect(evaluation.ijb[0]!.auc).toBe(direct.auc);
    const csv = readFileSync(path.join(result.dir, evaluation.ijbTable!), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('model,benchmark,templates,pairs,tar@1e-6,tar@1e-5,tar@1e-4,tar@1e-3,tar@1e-2,tar@1e-1,auc');
    expect(csv[1]).toBe(`iresnet-small (train-fr),IJB-C,10,45,${Object.values(direct.tarAtFar).join(',')},${direct.auc}`);
    const report = readFileSync(path.join(result.dir, 'report', 'report.md'), 'utf8');
    expect(report).toContain('## IJB 1:1 verification');
    expect(report).toContain(`IJB-B: not evaluated, ${path.join(release, 'IJBB')} not found.`);
    expect(pngSize(path.join(result.dir, 'report', 'roc-IJB-C.png')).width).toBeGreaterThan(100);

    const required = resolveConfig({ ...base, evaluate: { ...base.evaluate, ijb: [{ ...ijb[1]!, whenMissing: 'error' }] } }, 'test');
    await expect(runPipeline(required, { session })).rejects.toThrow(`evaluate.ijb: IJB-B: ${path.join(release, 'IJBB')} not found`);
  });

  it('train under torchrun with two processes (gloo)', async () => {
    const result = await runPipeline(config('torchrun', 2), { session });
    const train = result.stages['train-fr']!.record.summary as TrainFrSummary;
    expect(train.processes).toBe(2);
    expect(train.steps).toBe(2 * 4);
    const events = readFileSync(path.join(result.dir, 'train-fr', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ step: 8, total: 8 });
    expect(JSON.parse(readFileSync(path.join(result.dir, 'run.json'), 'utf8')).status).toBe('done');
  });
});
