/**
 * The ID³ diffusion loops: training step and sampling against bare PyTorch loops of the same model, the
 * cost of identity guidance, and on a GPU: the U-Net alone (images/s, model FLOP utilisation at 64 and
 * 112 px), the train job against the bare loop there, the sampler at 112 px. Models: configs/diffusion-proof.ts's
 * on the CPU; configs/diffusion-gpu.ts's (64 px) and configs/ffhq.ts's (112 px) on the GPU.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot, pythonExecutable } from '../src/bridge/python-env.ts';
import { loadConfigFile } from '../src/config/load.ts';
import type { BenchRow } from './bridge.ts';
import { type Clocks, roundsLabel } from './timing.ts';

interface Measured {
  batchSize: number;
  samples: number;
  training: Clocks;
  sampling: Clocks;
  guidance: { full: Clocks; detached: Clocks };
  /** The U-Net's CPU training step with each lever, against eager float32 (ratio: lever's time ÷ eager's). */
  levers: Record<'channelsLast' | 'compile' | 'bf16', Clocks & { firstCallSeconds: number }>;
  leverSteps: number;
  gpu: {
    model: Array<{ resolution: number; compiled: boolean; imagesPerSecond: number; mfu: number }>;
    loop: Clocks;
    sampling112: { unguided: number; detached: number }; // images/s
    samples: number;
    batchSize: number;
  } | null;
}

/** bench/diffusion.py's argument: the models and batch sizes of the configs it measures. */
export async function diffusionBenchArgs() {
  const section = async (file: string) => (await loadConfigFile(path.join(projectRoot, 'configs', file))).config.diffusion!;
  const [cpu, gpu, gpu112] = [await section('diffusion-proof.ts'), await section('diffusion-gpu.ts'), await section('ffhq.ts')];
  return {
    model: cpu.model,
    conditioning: cpu.conditioning,
    batchSize: cpu.training.batchSize,
    gpuModel: gpu.model,
    gpuBatchSize: gpu.training.batchSize,
    gpuModel112: gpu112.model,
  };
}

export async function benchDiffusion(): Promise<BenchRow[]> {
  const measuredArgs = await diffusionBenchArgs();
  const r = JSON.parse(
    execFileSync(pythonExecutable(), [path.join(projectRoot, 'bench', 'diffusion.py'), JSON.stringify(measuredArgs)], { encoding: 'utf8' }),
  ) as Measured;
  const round = (x: number) => Number(x.toPrecision(4));
  const { training, sampling, guidance } = r;
  const rows: BenchRow[] = [
    {
      name: `train loop, proof U-Net 32 px, batch ${r.batchSize}, ID loss`,
      value: round(r.batchSize / training.wall.ours),
      unit: 'img/s',
      target: '(figure)',
      pass: true,
    },
    {
      name: 'bare PyTorch loop, same model/batches/loss/EMA',
      value: round(r.batchSize / training.wall.reference),
      unit: 'img/s',
      target: '(figure)',
      pass: true,
    },
    {
      name: `train median step time ÷ bare loop's (${roundsLabel(training.wall)})`,
      value: round(training.wall.ratio),
      unit: '×',
      target: '≤ 1.05',
      pass: training.wall.ratio <= 1.05,
    },
    {
      name: `the same in CPU time (${roundsLabel(training.cpu)})`,
      value: round(training.cpu.ratio),
      unit: '×',
      target: '(figure)',
      pass: true,
    },
    {
      name: `sampler, DDIM 25, no guidance, ${r.samples} images`,
      value: round(r.samples / sampling.wall.ours),
      unit: 'img/s',
      target: '(figure)',
      pass: true,
    },
    {
      name: `sampler time ÷ bare DDIM loop's (${roundsLabel(sampling.wall)})`,
      value: round(sampling.wall.ratio),
      unit: '×',
      target: '≤ 1.05',
      pass: sampling.wall.ratio <= 1.05,
    },
    {
      name: `guidance full: time ÷ no guidance (${roundsLabel(guidance.full.wall)})`,
      value: round(guidance.full.wall.ratio),
      unit: '×',
      target: '(figure)',
      pass: true,
    },
    {
      name: `guidance detached: time ÷ no guidance (${roundsLabel(guidance.detached.wall)})`,
      value: round(guidance.detached.wall.ratio),
      unit: '×',
      target: '(figure)',
      pass: true,
    },
  ];
  const leverNames = { channelsLast: 'channels-last', compile: 'torch.compile', bf16: 'bf16 autocast' } as const;
  for (const [key, lever] of Object.entries(r.levers) as [keyof typeof leverNames, Measured['levers'][keyof typeof leverNames]][]) {
    rows.push({
      name: `CPU U-Net step, ${leverNames[key]}: time ÷ eager float32's (${roundsLabel(lever.wall)})`,
      value: round(lever.wall.ratio),
      unit: '×',
      target: '(figure)',
      pass: true,
    });
  }
  rows.push({
    name: `  torch.compile's one-off compile (first ${r.leverSteps} steps)`,
    value: round(r.levers.compile.firstCallSeconds),
    unit: 's',
    target: '(figure)',
    pass: true,
  });
  if (r.gpu) {
    for (const g of r.gpu.model) {
      const label = `GPU model alone, train ${g.resolution} px bf16 channels-last${g.compiled ? ' compiled' : ''}`;
      rows.push({ name: label, value: round(g.imagesPerSecond), unit: 'img/s', target: '(figure)', pass: true });
      rows.push({ name: `${label}: MFU`, value: round(g.mfu), unit: '', target: '(figure; ID3_PEAK_TFLOPS)', pass: true });
    }
    const { loop, sampling112 } = r.gpu;
    rows.push(
      {
        name: `GPU train job, 64 px, batch ${r.gpu.batchSize}`,
        value: round(r.gpu.batchSize / loop.wall.ours),
        unit: 'img/s',
        target: '(figure)',
        pass: true,
      },
      {
        name: `GPU train median step time ÷ bare loop's (${roundsLabel(loop.wall)})`,
        value: round(loop.wall.ratio),
        unit: '×',
        target: '≤ 1.05',
        pass: loop.wall.ratio <= 1.05,
      },
      {
        name: `GPU sampler, 112 px, DDIM 50, ${r.gpu.samples} images`,
        value: round(sampling112.unguided),
        unit: 'img/s',
        target: '(figure)',
        pass: true,
      },
      {
        name: 'GPU sampler, the same with detached guidance through an iResNet-50',
        value: round(sampling112.detached),
        unit: 'img/s',
        target: '(figure)',
        pass: true,
      },
    );
  } else {
    rows.push({ name: 'GPU rows (model, train job, sampler at 112 px)', value: 0, unit: '', target: 'no CUDA device here', pass: true });
  }
  return rows;
}
