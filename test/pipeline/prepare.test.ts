/** The prepare stage on the parametric face set, through the real pipeline and the real CLI. */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import type { Id3ConfigInput } from '../../src/config/schema.ts';
import { planRun, runPipeline } from '../../src/pipeline/runner.ts';
import { childPids, exited, isRunning, runCli, spawnTs, waitUntil } from '../fixtures/processes.ts';
import { pngSize } from '../fixtures/png.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-runs-'));
// Runs of one runsDir share the folders of equal stage keys: a second store makes the bytes anew.
const otherRunsDir = mkdtempSync(path.join(tmpdir(), 'id3-runs-'));
const tiny = (name: string, dataset: Partial<Extract<Id3ConfigInput['dataset'], { kind: 'parametric' }>> = {}, runs = runsDir) =>
  resolveConfig(
    {
      name,
      runsDir: runs,
      report: false,
      dataset: {
        kind: 'parametric',
        identities: 6,
        imagesPerIdentity: 3,
        resolution: 32,
        valIdentities: 1,
        testIdentities: 2,
        gridIdentities: 3,
        gridImages: 2,
        ...dataset,
      },
    },
    'test',
  );
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const manifestRows = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(','));

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start();
});
afterAll(async () => {
  await session.close();
});

describe('prepare (parametric)', () => {
  it('writes images, a manifest with splits and attributes, a grid, and its records', async () => {
    const config = tiny('a');
    const result = await runPipeline(config, { session });
    const dir = path.join(runsDir, 'a', 'prepare');
    expect(result.stages.prepare?.outcome).toBe('done');

    const [header, ...rows] = manifestRows(path.join(dir, 'manifest.csv'));
    expect(header).toEqual(['path', 'identity', 'image', 'split', 'age', 'yaw', 'pitch', 'roll']);
    expect(rows).toHaveLength(18);
    const split = new Map(rows.map((r) => [r[1], r[3]]));
    expect([...split.entries()]).toEqual([
      ['0', 'train'],
      ['1', 'train'],
      ['2', 'train'],
      ['3', 'val'],
      ['4', 'test'],
      ['5', 'test'],
    ]);
    for (const [file, identity, image, , age, yaw, pitch, roll] of rows) {
      expect(file).toBe(`images/${identity}/${image}.png`);
      expect(pngSize(path.join(dir, file!))).toEqual({ width: 32, height: 32 });
      expect(Number(age)).toBeGreaterThanOrEqual(18);
      expect(Number(age)).toBeLessThanOrEqual(80);
      expect(Math.abs(Number(yaw))).toBeLessThanOrEqual(45);
      expect(Math.abs(Number(pitch))).toBeLessThanOrEqual(20);
      expect(Math.abs(Number(roll))).toBeLessThanOrEqual(15);
    }
    expect(pngSize(path.join(dir, 'grid.png'))).toEqual({ width: 2 * 32, height: 3 * 32 });

    const record = JSON.parse(readFileSync(path.join(dir, 'stage.json'), 'utf8'));
    expect(record).toMatchObject({
      stage: 'prepare',
      status: 'done',
      summary: { images: 18, identities: { train: 3, val: 1, test: 2 }, rendered: 18, reused: 0 },
    });
    const run = JSON.parse(readFileSync(path.join(runsDir, 'a', 'run.json'), 'utf8'));
    expect(run.config).toEqual(config);
    expect(run.stages.prepare.key).toBe(record.key);
    expect(run.host.packages.torch).toMatch(/^\d/);
    expect(JSON.parse(readFileSync(path.join(runsDir, 'a', 'config.json'), 'utf8'))).toEqual(config);
    const events = readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ step: 18, total: 18, unit: 'img' });
  });

  it('same seed, same bytes; another seed, other bytes', async () => {
    expect((await runPipeline(tiny('b', {}, otherRunsDir), { session })).stages.prepare?.outcome).toBe('done');
    await runPipeline(tiny('c', { seed: 1 }), { session });
    const file = (runs: string, run: string) => path.join(runs, run, 'prepare', 'images', '4', '2.png');
    expect(sha(file(otherRunsDir, 'b'))).toBe(sha(file(runsDir, 'a')));
    expect(sha(file(runsDir, 'c'))).not.toBe(sha(file(runsDir, 'a')));
  });

  it('reuses a finished stage with the same key, and redoes it from scratch when the config changes', async () => {
    const dir = path.join(runsDir, 'a', 'prepare');
    expect(planRun(tiny('a')).map((p) => p.action)).toEqual(['reuse']);
    expect(planRun(tiny('a'), { force: ['prepare'] }).map((p) => p.action)).toEqual(['run']);
    expect(planRun(tiny('a', { seed: 5 })).map((p) => p.action)).toEqual(['run']);
    const again = await runPipeline(tiny('a'), { session });
    expect(again.stages.prepare?.outcome).toBe('cached');
    writeFileSync(path.join(dir, 'images', '0', 'stale.png'), 'x');
    const changed = await runPipeline(tiny('a', { imagesPerIdentity: 2 }), { session });
    expect(changed.stages.prepare?.outcome).toBe('done');
    expect(existsSync(path.join(dir, 'images', '0', 'stale.png'))).toBe(false);
    expect(manifestRows(path.join(dir, 'manifest.csv'))).toHaveLength(1 + 12);
    expect(readdirSync(path.join(dir, 'images', '0')).sort()).toEqual(['0.png', '1.png']);
  });

  it('a run killed midway resumes: only missing images are rendered, and every file is whole', async () => {
    const configFile = path.join(runsDir, 'killed.ts');
    writeFileSync(
      configFile,
      `export default { runsDir: ${JSON.stringify(runsDir)}, report: false, dataset: { kind: 'parametric', identities: 60, imagesPerIdentity: 10, resolution: 32, valIdentities: 5, testIdentities: 5, batchSize: 20 } };\n`,
    );
    const stageDir = path.join(runsDir, 'killed', 'prepare');
    const first = spawnTs('bin/id3.js', ['run', configFile, '--json']);
    await first.waitFor(/"event":"progress","stage":"prepare","step":([1-9]\d*)/, 60_000);
    await waitUntil(() => existsSync(path.join(stageDir, 'images', '3', '0.png')), 30_000);
    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(JSON.parse(readFileSync(path.join(stageDir, 'stage.json'), 'utf8')).status).toBe('running');
    const plan = await runCli(['run', configFile, '--dry-run', '--json']);
    expect(JSON.parse(plan.stdout).map((p: { action: string }) => p.action)).toEqual(['resume']);

    const second = await runCli(['run', configFile, '--json']);
    expect(second.code).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(stageDir, 'stage.json'), 'utf8')).summary;
    expect(summary.images).toBe(600);
    expect(summary.reused).toBeGreaterThan(0);
    expect(summary.rendered).toBe(600 - summary.reused);
    for (let identity = 0; identity < 60; identity++) {
      const files = readdirSync(path.join(stageDir, 'images', String(identity))).sort();
      expect(files).toEqual(Array.from({ length: 10 }, (_, k) => `${k}.png`).sort());
      for (const f of files) pngSize(path.join(stageDir, 'images', String(identity), f));
    }
    // The resumed set is byte for byte the set an uninterrupted run makes.
    const whole = await runPipeline(
      { ...resolveConfig((await import(configFile)).default, configFile), name: 'whole', runsDir: otherRunsDir },
      { session },
    );
    expect(whole.stages.prepare?.outcome).toBe('done');
    for (const probe of ['0/0.png', '30/7.png', '59/9.png']) {
      expect(sha(path.join(stageDir, 'images', probe))).toBe(sha(path.join(otherRunsDir, 'whole', 'prepare', 'images', probe)));
    }
  });

  it('Ctrl-C cancels the running job cleanly: exit 130, a resumable stage, no Python left', async () => {
    const configFile = path.join(runsDir, 'interrupted.ts');
    writeFileSync(
      configFile,
      `export default { runsDir: ${JSON.stringify(runsDir)}, report: false, dataset: { kind: 'parametric', identities: 200, imagesPerIdentity: 10, resolution: 32, valIdentities: 5, testIdentities: 5, batchSize: 10 } };\n`,
    );
    const run = spawnTs('bin/id3.js', ['run', configFile, '--json']);
    await run.waitFor(/"event":"progress","stage":"prepare","step":([1-9]\d*)/, 60_000);
    const pythons = childPids(run.child.pid!).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('interface.py'));
    expect(pythons).toHaveLength(1);
    run.child.kill('SIGINT');
    const end = await exited(run.child);
    expect(end.code).toBe(130);
    expect(run.stderr()).toMatch(/id3: job prepare\.parametric was cancelled; rerun the same command to resume/);
    const record = JSON.parse(readFileSync(path.join(runsDir, 'interrupted', 'prepare', 'stage.json'), 'utf8'));
    expect(record.status).toBe('cancelled');
    const rendered = readdirSync(path.join(runsDir, 'interrupted', 'prepare', 'images')).length;
    expect(rendered).toBeGreaterThan(0);
    await waitUntil(() => !isRunning(pythons[0]!), 2_000);
  });
});
