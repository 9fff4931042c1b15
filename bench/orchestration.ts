/**
 * What `id3 run` itself costs, on the demo's stages (configs/demo.ts, variant `id3`; ID3_BENCH_CONFIG
 * names another config, ID3_BENCH_VARIANT another variant), in a fresh runs folder:
 * - the whole run's wall time against the time its Python job functions ran, as Python measured
 *   them: what is left is everything the orchestration adds (config, keys, stage store, bridge
 *   calls, polling, progress, TypeScript's own stage work such as the anchor descent);
 * - its longest job again, its function called directly in a fresh Python process (no bridge, no
 *   polling) with the same arguments into a fresh folder: whether the bridge slows the job itself;
 * - a rerun of the finished run with `id3 run` (a new Node process): every stage cached.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot, pythonExecutable } from '../src/bridge/python-env.ts';
import { PythonSession, type FinishedJob } from '../src/bridge/session.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { expandVariants } from '../src/config/variants.ts';
import { runPipeline } from '../src/pipeline/runner.ts';
import type { BenchRow } from './bridge.ts';

const round = (x: number) => Number(x.toPrecision(4));

export async function benchOrchestration(): Promise<BenchRow[]> {
  const file = process.env.ID3_BENCH_CONFIG ?? path.join(projectRoot, 'configs', 'demo.ts');
  const { config: loaded, source } = await loadConfigFile(file);
  const variants = loaded.variants ? expandVariants(loaded, source) : null;
  const picked = variants ? (variants.find((v) => v.variant === (process.env.ID3_BENCH_VARIANT ?? 'id3')) ?? variants[0]!) : null;
  const runsDir = mkdtempSync(path.join(tmpdir(), 'id3-bench-orchestration-'));
  const config = { ...(picked?.config ?? loaded), runsDir };

  const session = await PythonSession.start();
  let runSeconds: number;
  let jobs: FinishedJob[];
  try {
    const t0 = performance.now();
    await runPipeline(config, { session });
    runSeconds = (performance.now() - t0) / 1000;
    jobs = [...session.finishedJobs];
  } finally {
    await session.close();
  }
  const jobSeconds = jobs.reduce((sum, job) => sum + job.pythonSeconds, 0);

  const longest = jobs.reduce((a, b) => (b.pythonSeconds > a.pythonSeconds ? b : a));
  const direct = runDirectly(longest);

  // A rerun as users type it: a new Node process, a config file (this run's resolved config), every stage cached.
  const rerunConfig = path.join(runsDir, 'rerun.ts');
  writeFileSync(rerunConfig, `export default ${JSON.stringify(config)};\n`);
  const t1 = performance.now();
  execFileSync(process.execPath, [path.join(projectRoot, 'bin', 'id3.js'), 'run', rerunConfig, '--quiet'], {
    cwd: projectRoot,
    stdio: 'ignore',
  });
  const rerunSeconds = (performance.now() - t1) / 1000;

  const name = picked ? `${loaded.name} (variant ${picked.variant})` : loaded.name;
  const ratio = runSeconds / jobSeconds;
  const jobRatio = longest.pythonSeconds / direct;
  return [
    { name: `id3 run ${name}, fresh: wall time`, value: round(runSeconds), unit: 's', target: '(figure)', pass: true },
    { name: `  its ${jobs.length} Python jobs, as Python timed them`, value: round(jobSeconds), unit: 's', target: '(figure)', pass: true },
    { name: '  id3 run ÷ its jobs', value: round(ratio), unit: '×', target: '≤ 1.02', pass: ratio <= 1.02 },
    { name: `longest job (${longest.kind}) in the bridge`, value: round(longest.pythonSeconds), unit: 's', target: '(figure)', pass: true },
    { name: '  the same job in a fresh Python process, same arguments', value: round(direct), unit: 's', target: '(figure)', pass: true },
    { name: '  bridge ÷ direct', value: round(jobRatio), unit: '×', target: '≤ 1.02', pass: jobRatio <= 1.02 },
    {
      name: 'id3 run again, every stage cached (new process)',
      value: round(rerunSeconds),
      unit: 's',
      target: '≤ 2',
      pass: rerunSeconds <= 2,
    },
  ];
}

/**
 * `job` again in a fresh Python process, its outputs redirected: its `outDir` (and every path inside
 * it) becomes a fresh folder; inputs from earlier stages are read where they are. Returns the job
 * function's seconds, timed as the bridge's job runner times them (imports excluded).
 */
function runDirectly(job: FinishedJob): number {
  const work = mkdtempSync(path.join(tmpdir(), 'id3-bench-direct-'));
  const outDir = (job.args as { outDir?: string }).outDir;
  if (!outDir) throw new Error(`bench: job ${job.kind} has no outDir argument to redirect`);
  const fresh = path.join(work, 'out');
  mkdirSync(fresh);
  const args = JSON.parse(JSON.stringify(job.args).replaceAll(JSON.stringify(outDir).slice(1, -1), fresh));
  const jobFile = path.join(work, 'job.json');
  writeFileSync(jobFile, JSON.stringify(args));
  const timer = path.join(work, 'seconds.json');
  execFileSync(pythonExecutable(), ['-c', DIRECT_TIMER, job.kind, jobFile, timer], {
    cwd: path.join(projectRoot, 'python'),
    stdio: 'ignore',
  });
  return (JSON.parse(readFileSync(timer, 'utf8')) as { seconds: number }).seconds;
}

/** The job function timed around its call alone, as the bridge's job runner times it. */
const DIRECT_TIMER = `
import json, sys, time
from id3_torch.jobs import job_kinds
from id3_torch.bridge.jobs import Progress
kind, job, out = sys.argv[1:4]
args = json.load(open(job))
started = time.monotonic()
job_kinds()[kind](args, Progress(None))
json.dump({"seconds": time.monotonic() - started}, open(out, "w"))
`;
