/** The library under Deno 2, as notebooks use it (pythonia's stdio transport, chosen by the bridge). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PythonSession } from '../src/bridge/session.ts';
import { resolveConfig } from '../src/config/load.ts';
import { runPipeline } from '../src/pipeline/runner.ts';
import { pngSize } from './fixtures/png.ts';
import { isRunning, repoRoot } from './fixtures/processes.ts';
import { toyId3Config } from './fixtures/toy-id3.ts';

describe('Deno', () => {
  it('imports id3, runs a config object, computes a tensor, and leaves no Python behind', async () => {
    const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-deno-'));
    const deno = path.join(repoRoot, 'node_modules', '.bin', 'deno');
    const { stdout } = await promisify(execFile)(deno, ['run', '-A', 'test/fixtures/library-script.ts', runsDir], { cwd: repoRoot, timeout: 90_000 });
    const result = JSON.parse(stdout.match(/^result (.*)$/m)![1]!);
    expect(result.images).toBe(8);
    expect(result.product).toEqual([5, 11, 11, 25]);
    expect(isRunning(result.pid)).toBe(false);
    const manifest = readFileSync(path.join(runsDir, 'library', 'prepare', 'manifest.csv'), 'utf8').trim().split('\n');
    expect(manifest).toHaveLength(9);
  });

  it('runs examples/notebook.ts on a finished run: its results, new identities, a sweep that reuses its stages', async () => {
    const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-notebook-'));
    const session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
    try {
      await runPipeline(resolveConfig(toyId3Config(runsDir), 'test'), { session });
    } finally {
      await session.close();
    }
    const deno = path.join(repoRoot, 'node_modules', '.bin', 'deno');
    const { stdout } = await promisify(execFile)(deno, ['run', '-A', 'examples/notebook.ts', path.join(runsDir, 'toy')], {
      cwd: repoRoot,
      timeout: 170_000,
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    const result = JSON.parse(stdout.match(/^result (.*)$/m)![1]!);
    expect(pngSize(result.grid)).toEqual({ width: 4 * 32, height: 3 * 32 });
    expect(result.variants).toEqual(['tight', 'loose']);
    expect(result.reused).toEqual(['cached', 'cached']);
    expect(readFileSync(path.join(runsDir, 'toy', 'sweep.csv'), 'utf8').split('\n')[0]).toMatch(/^variant,generate\.bounds,/);
  }, 180_000);
});
