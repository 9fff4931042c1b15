/** The stage store: runs share the folders of equal keys; selections (--force, --from, --only). */
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/bridge/errors.ts';
import { PythonSession } from '../../src/bridge/session.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { planRun, runPipeline, StageSelectionError } from '../../src/pipeline/runner.ts';
import { processStartTime } from '../../src/pipeline/lock.ts';
import type { EvaluateSummary } from '../../src/pipeline/stages/evaluate.ts';
import { lockStage, stageFolder, storeRoot } from '../../src/pipeline/store.ts';
import { meanAndError, sweep } from '../../src/pipeline/sweep.ts';

const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-store-'));
const tiny = (name: string, seed = 0) =>
  resolveConfig(
    {
      name,
      runsDir,
      report: false,
      dataset: { kind: 'parametric', identities: 4, imagesPerIdentity: 2, resolution: 32, valIdentities: 1, testIdentities: 1, seed },
    },
    'test',
  );
const withFr = (name: string) =>
  resolveConfig(
    {
      name,
      runsDir,
      report: false,
      dataset: { kind: 'parametric', identities: 24, imagesPerIdentity: 2, resolution: 32, valIdentities: 1, testIdentities: 20 },
      trainFr: {
        backbone: 'iresnet-small',
        inputSize: 32,
        embeddingSize: 8,
        widths: [4, 4, 4, 4],
        layers: [1, 1, 1, 1],
        epochs: 1,
        decayEpochs: [1],
        batchSize: 2,
      },
      evaluate: { pairs: 20 },
    },
    'test',
  );
const linkOf = (run: string, stage: string) => realpathSync(path.join(runsDir, run, stage));
const storeFolders = (stage: string) => readdirSync(path.join(storeRoot(runsDir), stage)).sort();

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start();
});
afterAll(async () => {
  await session.close();
});

describe('the stage store', () => {
  it('runs with equal keys share one folder: the second run reuses what the first made', async () => {
    const first = await runPipeline(tiny('one'), { session });
    const second = await runPipeline(tiny('two'), { session });
    expect(first.stages.prepare?.outcome).toBe('done');
    expect(second.stages.prepare?.outcome).toBe('cached');
    expect(lstatSync(path.join(runsDir, 'two', 'prepare')).isSymbolicLink()).toBe(true);
    expect(linkOf('two', 'prepare')).toBe(linkOf('one', 'prepare'));
    expect(linkOf('one', 'prepare')).toBe(stageFolder(runsDir, 'prepare', first.stages.prepare!.record.key));
    expect(existsSync(path.join(runsDir, 'two', 'prepare', 'images', '0', '1.png'))).toBe(true);
  });

  it('a run that moves to another key keeps a folder other runs still use, and deletes one nobody uses', async () => {
    const shared = linkOf('one', 'prepare');
    await runPipeline(tiny('two', 1), { session });
    expect(linkOf('two', 'prepare')).not.toBe(shared);
    expect(existsSync(shared)).toBe(true); // run "one" still links to it
    const moved = linkOf('two', 'prepare');
    await runPipeline(tiny('two', 2), { session });
    expect(existsSync(moved)).toBe(false); // seed 1 was run "two"'s alone
    expect(storeFolders('prepare')).toHaveLength(2);
  });

  it('a stage folder made before the store (a real folder under the run) is taken into it', async () => {
    const config = tiny('legacy', 7);
    const made = await runPipeline(config, { session });
    const folder = linkOf('legacy', 'prepare');
    // Put it back the way an older id3 left it: a real folder in the run, nothing in the store.
    const link = path.join(runsDir, 'legacy', 'prepare');
    rmSync(link);
    renameSync(folder, link);
    expect(planRun(config)[0]?.action).toBe('reuse');
    const again = await runPipeline(config, { session });
    expect(again.stages.prepare?.outcome).toBe('cached');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(realpathSync(link)).toBe(folder);
    expect(again.stages.prepare?.record.key).toBe(made.stages.prepare?.record.key);
    expect(existsSync(path.join(link, 'images', '3', '1.png'))).toBe(true);
  });

  it("refuses to work in a folder that another live process is making, and ignores a dead one's lock", async () => {
    const config = tiny('locked', 9);
    const folder = planRun(config)[0]!.folder;
    mkdirSync(folder, { recursive: true });
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(path.join(folder, '.lock'), JSON.stringify({ pid: other.pid, run: 'elsewhere' }));
      await expect(runPipeline(config, { session })).rejects.toThrow(/stage prepare is being made by process \d+ \(run elsewhere\)/);
    } finally {
      other.kill();
    }
    await new Promise((resolve) => other.once('exit', resolve));
    expect((await runPipeline(config, { session })).stages.prepare?.outcome).toBe('done');
    expect(existsSync(path.join(folder, '.lock'))).toBe(false);
    const release = lockStage(folder, 'prepare', 'mine');
    expect(() => lockStage(folder, 'prepare', 'again')).toThrow(/being made by process \d+ \(run mine\)/); // this process's too
    release();
    expect(() => lockStage(folder, 'prepare', 'again')()).not.toThrow();
  });

  it('two runs of one name at once: the second is refused, and the first finishes in its own folder', async () => {
    const first = runPipeline(tiny('same', 3), { session });
    await expect(runPipeline(tiny('same', 4), { session })).rejects.toThrow(/run same is already running in process \d+/);
    const made = await first;
    const key = made.stages.prepare!.record.key;
    expect(linkOf('same', 'prepare')).toBe(stageFolder(runsDir, 'prepare', key));
    expect(JSON.parse(readFileSync(path.join(runsDir, 'same', 'prepare', 'stage.json'), 'utf8'))).toMatchObject({ key, status: 'done' });
    expect(existsSync(path.join(runsDir, 'same', '.lock'))).toBe(false);
    expect((await runPipeline(tiny('same', 4), { session })).stages.prepare?.outcome).toBe('done'); // free once it ended
  });

  it('a folder a live process holds is never deleted, even when no run links to it any more', async () => {
    await runPipeline(tiny('keep', 5), { session });
    const held = linkOf('keep', 'prepare');
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(
        path.join(held, '.lock'),
        JSON.stringify({ pid: other.pid, startTime: processStartTime(other.pid!), owner: 'elsewhere' }),
      );
      await runPipeline(tiny('keep', 6), { session }); // moves off it
      expect(linkOf('keep', 'prepare')).not.toBe(held);
      expect(existsSync(path.join(held, 'stage.json'))).toBe(true);
    } finally {
      other.kill();
    }
  });

  it('takes over the lock of a dead process, and of a live one whose PID was reused, and says so', async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    const reused = spawn('sleep', ['30']); // alive, but not the process that wrote the lock: another start time
    const messages: string[] = [];
    const reporter = { stageStarted() {}, progress() {}, stageFinished() {}, close() {}, info: (m: string) => messages.push(m) };
    try {
      for (const [name, pid] of [
        ['dead', dead.pid],
        ['reused', reused.pid],
      ] as const) {
        mkdirSync(path.join(runsDir, name), { recursive: true });
        writeFileSync(path.join(runsDir, name, '.lock'), JSON.stringify({ pid, startTime: '1', owner: name }));
        expect((await runPipeline(tiny(name, 8), { session, reporter })).stages.prepare?.outcome).toBeDefined();
        expect(messages.pop()).toBe(`run ${name}: the lock of process ${pid}, which no longer runs, is taken over`);
      }
    } finally {
      reused.kill();
    }
  });
});

describe('damaged outputs', () => {
  it('a rerun redoes, saying why, a stage whose files were cut short or deleted, and the stages that read it', async () => {
    const config = resolveConfig({ ...withFr('damaged'), dataset: { ...withFr('damaged').dataset, seed: 6 } }, 'test');
    await runPipeline(config, { session });
    const run = path.join(runsDir, 'damaged');
    const manifest = path.join(run, 'prepare', 'manifest.csv');
    const weights = path.join(run, 'train-fr', 'backbone.safetensors');
    const image = path.join(run, 'prepare', 'images', '3', '1.png');
    const [manifestBytes, weightBytes, imageBytes] = [readFileSync(manifest), readFileSync(weights), readFileSync(image)];
    writeFileSync(manifest, manifestBytes.subarray(0, manifestBytes.length >> 1)); // a half-cut manifest
    rmSync(image);
    writeFileSync(weights, weightBytes.subarray(0, 100)); // a truncated safetensors
    const messages: string[] = [];
    const reporter = { stageStarted() {}, progress() {}, stageFinished() {}, close() {}, info: (m: string) => messages.push(m) };
    expect(planRun(config).map((p) => p.action)).toEqual(['resume', 'run', 'run']);
    const again = await runPipeline(config, { session, reporter });
    expect(Object.values(again.stages).map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    expect(messages[0]).toBe(
      `prepare: made before, but images/3/1.png is missing; manifest.csv has ${manifestBytes.length >> 1} bytes, ${manifestBytes.length} when made: redoing it`,
    );
    expect(readFileSync(manifest)).toEqual(manifestBytes); // remade whole, the same bytes
    expect(readFileSync(image)).toEqual(imageBytes);
    expect(readFileSync(weights).length).toBe(weightBytes.length);
    expect(planRun(config).map((p) => p.action)).toEqual(['reuse', 'reuse', 'reuse']);
  });

  it('a file changed in place, its size kept, is found by --verify', async () => {
    const config = resolveConfig({ ...withFr('verified'), dataset: { ...withFr('verified').dataset, seed: 6 } }, 'test');
    await runPipeline(config, { session });
    const manifest = path.join(runsDir, 'verified', 'prepare', 'manifest.csv');
    const bytes = readFileSync(manifest);
    writeFileSync(manifest, Buffer.from(bytes.toString('latin1').replace('images/', 'imagez/'), 'latin1'));
    expect(planRun(config).map((p) => p.action)).toEqual(['reuse', 'reuse', 'reuse']); // sizes only: not seen
    const [prepare] = planRun(config, { verify: true });
    expect(prepare?.action).toBe('resume');
    expect(prepare?.damaged).toEqual([{ file: 'manifest.csv', problem: 'differs from what was made (SHA-256)' }]);
    await runPipeline(config, { session, verify: true });
    expect(readFileSync(manifest)).toEqual(bytes);
  });
});

describe('seeds', () => {
  it("a sweep over seed replicas tabulates each variant's mean ± standard error and says whether a margin is noise", async () => {
    const base = { ...withFr('seeded'), seeds: 3, variants: { a: {}, b: { trainFr: { lr: 0.3 } } } };
    const result = await sweep(base, base.variants, { session });
    const column = 'held-out iresnet-small (train-fr)';
    // Replica k moves train-fr's seed by k (no anchors or generate here); replica 0 is the variant itself.
    const accuracies = ['seeded-a', 'seeded-a-s1', 'seeded-a-s2'].map((name) => {
      const run = JSON.parse(readFileSync(path.join(runsDir, name, 'run.json'), 'utf8')) as {
        config: { trainFr: { seed: number } };
        stages: { evaluate: { summary: EvaluateSummary } };
      };
      return {
        seed: run.config.trainFr.seed,
        accuracy: run.stages.evaluate.summary.rows.find((r) => r.model === 'iresnet-small (train-fr)')!.accuracy,
      };
    });
    expect(accuracies.map((a) => a.seed)).toEqual([0, 1, 2]);
    const { mean, se } = meanAndError(accuracies.map((a) => a.accuracy));
    const [a, b] = result.rows;
    expect(a).toMatchObject({ variant: 'a', seeds: 3 });
    expect(a![column]).toBeCloseTo(mean, 12);
    expect(a![`${column} ±`]).toBeCloseTo(se!, 12);
    expect(result.margins).toHaveLength(1);
    const difference = 100 * ((b![column] as number) - mean);
    expect(result.margins[0]).toMatch(
      new RegExp(
        `^${column.replace(/[()]/g, '\\$&')}: b − a = [+-]\\d+\\.\\d\\d points ± \\d+\\.\\d\\d \\(\\d+\\.\\d s\\.e\\.: (within|beyond) noise\\)$`,
      ),
    );
    expect(result.margins[0]).toContain(`${difference >= 0 ? '+' : ''}${difference.toFixed(2)} points`);
    expect(readFileSync(result.markdown, 'utf8')).toContain(result.margins[0]);
  });

  it('mean and standard error against a direct computation', () => {
    expect(meanAndError([1, 2, 3, 4])).toEqual({ mean: 2.5, se: Math.sqrt(((1.5 ** 2 + 0.5 ** 2) * 2) / 3 / 4) });
    expect(meanAndError([7])).toEqual({ mean: 7, se: null });
  });
});

describe('Ctrl-C', () => {
  it("stops the run when it arrives in a job's finishing phase: no later stage starts", async () => {
    // As the CLI's SIGINT handler does: abort the session's interrupt signal, then arm a new one. Here at
    // prepare's last progress step, when only its finishing work (attributes, grid) is left.
    const reporter = {
      stageStarted() {},
      stageFinished() {},
      info() {},
      close() {},
      progress(stage: string, p: { step: number; total: number }) {
        if (stage !== 'prepare' || p.step < p.total || session.interrupted.signal.aborted) return;
        session.interrupted.abort(new Error('interrupted (Ctrl-C)'));
        session.interrupted = new AbortController();
      },
    };
    const config = resolveConfig({ ...withFr('interrupted'), dataset: { ...withFr('interrupted').dataset, seed: 5 } }, 'test');
    await expect(runPipeline(config, { session, reporter })).rejects.toThrow(CancelledError);
    const record = JSON.parse(readFileSync(path.join(runsDir, 'interrupted', 'run.json'), 'utf8')) as { stages: Record<string, unknown> };
    expect(Object.keys(record.stages)).not.toContain('train-fr');
    expect(existsSync(path.join(runsDir, 'interrupted', 'train-fr'))).toBe(false);
    expect((await runPipeline(config, { session })).stages.evaluate?.outcome).toBe('done'); // and a rerun finishes
  });
});

describe('stage selections', () => {
  it('--from redoes that stage and every later one; --force redoes the stages that read it', async () => {
    await runPipeline(withFr('fr'), { session });
    const actions = (selection: Parameters<typeof planRun>[1]) =>
      planRun(withFr('fr'), selection).map((p) => `${p.stage.name}:${p.action}`);
    expect(actions({})).toEqual(['prepare:reuse', 'train-fr:reuse', 'evaluate:reuse']);
    expect(actions({ from: 'train-fr' })).toEqual(['prepare:reuse', 'train-fr:run', 'evaluate:run']);
    expect(actions({ force: ['prepare'] })).toEqual(['prepare:run', 'train-fr:run', 'evaluate:run']);
    expect(actions({ only: ['evaluate'] })).toEqual(['prepare:reuse', 'train-fr:reuse', 'evaluate:reuse']);
    expect(actions({ only: ['train-fr'], force: ['train-fr'] })).toEqual(['prepare:reuse', 'train-fr:run', 'evaluate:skip']);
  });

  it('--only runs nothing else, and refuses when a stage before it is not made', async () => {
    const result = await runPipeline(withFr('fr'), { session, only: ['evaluate'], force: ['evaluate'] });
    expect(Object.fromEntries(Object.entries(result.stages).map(([name, s]) => [name, s.outcome]))).toEqual({
      prepare: 'cached',
      'train-fr': 'cached',
      evaluate: 'done',
    });
    // A new run: the stages before the selection are linked into its folder, where the selected ones read them.
    await runPipeline(withFr('only-fr'), { session, only: ['evaluate'], force: ['evaluate'] });
    expect(linkOf('only-fr', 'prepare')).toBe(linkOf('fr', 'prepare'));
    expect(linkOf('only-fr', 'train-fr')).toBe(linkOf('fr', 'train-fr'));
    expect(() => planRun(withFr('fresh-fr'), { only: ['prepare', 'evaluate'] })).not.toThrow(); // made by run "fr"
    const other = resolveConfig({ ...withFr('other'), trainFr: { ...withFr('other').trainFr!, epochs: 2, decayEpochs: [2] } }, 'test');
    expect(() => planRun(other, { only: ['evaluate'] })).toThrow(/--only evaluate: stage train-fr before it is not made with this config/);
  });

  it('names a stage the config does not run', () => {
    expect(() => planRun(tiny('one'), { from: 'evaluate' })).toThrow(StageSelectionError);
    expect(() => planRun(tiny('one'), { force: ['train-fr'] })).toThrow(
      /--force train-fr: this config does not run stage train-fr \(it runs prepare\)/,
    );
  });
});
