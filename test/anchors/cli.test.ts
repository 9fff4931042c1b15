/** `id3 anchors` as a user meets it: the anchors file, the report, and bad options. */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonSession } from '../../src/bridge/session.ts';
import { Tensor } from '../../src/bridge/tensor.ts';
import { runCli } from '../fixtures/processes.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'id3-anchors-cli-'));
const env = { OMP_NUM_THREADS: '1' };
let s: PythonSession;
beforeAll(async () => {
  s = await PythonSession.start({ env });
});
afterAll(() => s?.close());

describe('id3 anchors', () => {
  it('writes N × d anchors and reports their separation as JSON', async () => {
    const out = path.join(dir, 'icosahedron.npy');
    const { code, stdout } = await runCli(['anchors', '--n', '12', '--dim', '3', '--steps', '200', '--seed', '2', '--out', out, '--json'], {
      env,
    });
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ out, method: 'tammes', count: 12, dim: 3, seed: 2, steps: 200, training: null, device: 'cpu' });
    expect(report.minAngle).toBeGreaterThanOrEqual(63.4);
    expect(report.start.minAngle).toBeLessThan(report.minAngle);
    const anchors = await Tensor.loadNpy(s, out);
    expect([anchors.shape, anchors.dtype]).toEqual([[12, 3], 'float32']);
  });

  it('reports the closest approach to given centres and keeps the exclusion angle, in words', async () => {
    const centres = path.join(dir, 'centres.npy');
    await (await Tensor.randn(s, [30, 6], { seed: 1 })).saveNpy(centres); // not unit: the command normalises
    const out = path.join(dir, 'kept.npy');
    const { code, stdout } = await runCli(
      ['anchors', '--n', '50', '--dim', '6', '--steps', '20', '--centres', centres, '--exclusion-angle', '30', '--out', out],
      { env },
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^anchors\s+50 in 6-d, tammes \(20 steps\), seed 0 → /m);
    expect(stdout).toMatch(/^minimum angle\s+\d+\.\d\d° \(random start \d+\.\d\d°\)$/m);
    const closest = Number(/^closest identity centre\s+(\d+\.\d+)° of 30 \(exclusion zone 30.00°\)$/m.exec(stdout)?.[1]);
    expect(closest).toBeGreaterThanOrEqual(30 - 0.01);
  });

  it('refuses bad options by name, exit code 2, writing nothing', async () => {
    const out = path.join(dir, 'never.npy');
    const { code, stdout, stderr } = await runCli(
      ['anchors', '--n', '-3', '--dim', 'x', '--steps', '0', '--method', 'magic', '--exclusion-angle', '30', '--out', out],
      { env },
    );
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([
      'id3: anchors: invalid options',
      '  --n: expected a positive integer, got -3',
      "  --method: expected 'tammes' or 'random', got \"magic\"",
      '  --dim: expected a positive integer, got "x"',
      '  --steps: expected a positive integer, got 0',
      '  --exclusion-angle: expected --centres, the identity centres to keep away from',
    ]);
    const missing = await runCli(['anchors', '--n', '5', '--out', path.join(dir, 'no-such-folder', 'a.npy')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--dim: expected the dimension d of the anchors\n {2}--out: expected a file in an existing folder/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('never'))).toEqual([]);
  });
});
