/** The library under Deno 2, as notebooks use it (pythonia's stdio transport, chosen by the bridge). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isRunning, repoRoot } from './fixtures/processes.ts';

describe('Deno', () => {
  it('imports id3, runs a config object, computes a tensor, and leaves no Python behind', async () => {
    const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-deno-'));
    const deno = path.join(repoRoot, 'node_modules', '.bin', 'deno');
    const { stdout } = await promisify(execFile)(deno, ['run', '-A', 'test/fixtures/library-script.ts', runsDir], {
      cwd: repoRoot,
      timeout: 90_000,
    });
    const result = JSON.parse(stdout.match(/^result (.*)$/m)![1]!);
    expect(result.images).toBe(8);
    expect(result.product).toEqual([5, 11, 11, 25]);
    expect(isRunning(result.pid)).toBe(false);
    const manifest = readFileSync(path.join(runsDir, 'library', 'prepare', 'manifest.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(manifest).toHaveLength(9);
  });
});
