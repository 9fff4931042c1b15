/**
 * Parametric faces: the renderer alone (Python, 64×64, batch 256), and the whole prepare stage
 * through the pipeline (render + PNG files + manifest), on this machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pythonExecutable, projectRoot } from '../src/bridge/python-env.ts';
import { resolveConfig } from '../src/config/load.ts';
import { runPipeline } from '../src/pipeline/runner.ts';
import type { BenchRow } from './bridge.ts';

const STAGE_IDENTITIES = 125;
const STAGE_IMAGES_PER_IDENTITY = 16;

export async function benchParametric(): Promise<BenchRow[]> {
  const render = JSON.parse(execFileSync(pythonExecutable(), [path.join(projectRoot, 'bench', 'parametric.py')], { encoding: 'utf8' })) as {
    imagesPerSecond: number;
  };

  const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-bench-'));
  try {
    const config = resolveConfig(
      {
        name: 'bench',
        runsDir,
        dataset: {
          kind: 'parametric',
          identities: STAGE_IDENTITIES,
          imagesPerIdentity: STAGE_IMAGES_PER_IDENTITY,
          resolution: 64,
          valIdentities: 10,
          testIdentities: 10,
        },
      },
      'bench',
    );
    const started = performance.now();
    await runPipeline(config);
    const stageRate = (STAGE_IDENTITIES * STAGE_IMAGES_PER_IDENTITY) / ((performance.now() - started) / 1000);
    return [
      {
        name: 'parametric render 64×64, batch 256',
        value: Number(render.imagesPerSecond.toPrecision(4)),
        unit: 'img/s',
        target: '≥ 500',
        pass: render.imagesPerSecond >= 500,
      },
      {
        name: 'prepare stage 64×64 (render + PNG + manifest)',
        value: Number(stageRate.toPrecision(4)),
        unit: 'img/s',
        target: '(figure)',
        pass: true,
      },
    ];
  } finally {
    rmSync(runsDir, { recursive: true, force: true });
  }
}
