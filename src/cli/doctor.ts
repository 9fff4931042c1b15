import { Command } from 'commander';
import { readFileSync, statfsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PythonSession } from '../bridge/session.ts';
import { projectRoot, pythonExecutable } from '../bridge/python-env.ts';
import { action } from './fail.ts';

const NODE_PACKAGES = ['pythonia', 'zod', 'commander', 'cli-progress', 'csv-stringify', 'tsx'];

interface PythonInfo {
  pid: number;
  python: string;
  executable: string;
  packages: Record<string, string | null>;
  torchCuda: string | null;
  cudaAvailable: boolean;
  gpus: { index: number; name: string; memoryGiB: number }[];
  torchThreads: number;
}

export interface DoctorReport {
  ok: boolean;
  id3: string;
  node: string;
  platform: string;
  nodePackages: Record<string, string | null>;
  python: (Omit<PythonInfo, 'pid'> & { startSeconds: number }) | { error: string };
  disk: { path: string; freeGiB: number };
}

function nodePackageVersion(name: string): string | null {
  const require = createRequire(path.join(projectRoot, 'package.json'));
  try {
    // Not every package exports its package.json: find it from the resolved entry point.
    let dir = path.dirname(require.resolve(name));
    while (!dir.endsWith(path.join('node_modules', name)) && dir !== path.dirname(dir)) dir = path.dirname(dir);
    return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

export async function doctor(): Promise<DoctorReport> {
  const id3 = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const stats = statfsSync(process.cwd());
  const disk = { path: process.cwd(), freeGiB: Math.round(((stats.bavail * stats.bsize) / 2 ** 30) * 10) / 10 };
  let python: DoctorReport['python'];
  try {
    const started = performance.now();
    pythonExecutable();
    const session = await PythonSession.start();
    const { pid: _pid, ...info } = await session.call<PythonInfo>('system.info');
    await session.close();
    python = { ...info, startSeconds: Math.round(performance.now() - started) / 1000 };
  } catch (err) {
    python = { error: err instanceof Error ? err.message : String(err) };
  }
  return {
    ok: !('error' in python),
    id3,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    nodePackages: Object.fromEntries(NODE_PACKAGES.map((name) => [name, nodePackageVersion(name)])),
    python,
    disk,
  };
}

function printReport(r: DoctorReport): void {
  const line = (label: string, value: string) => console.log(`${label.padEnd(16)}${value}`);
  line('id3', r.id3);
  line('node', `${r.node} (${r.platform})`);
  line(
    'node packages',
    Object.entries(r.nodePackages)
      .map(([k, v]) => `${k} ${v ?? 'MISSING'}`)
      .join(', '),
  );
  if ('error' in r.python) {
    line('python', `NOT WORKING: ${r.python.error}`);
  } else {
    const p = r.python;
    line('python', `${p.python} at ${p.executable} (ready in ${p.startSeconds} s)`);
    line(
      'python packages',
      Object.entries(p.packages)
        .map(([k, v]) => `${k} ${v ?? 'MISSING'}`)
        .join(', '),
    );
    line('torch threads', String(p.torchThreads));
    line(
      'CUDA',
      p.cudaAvailable
        ? `available (torch built for CUDA ${p.torchCuda})`
        : `not available${p.torchCuda ? ` (torch built for CUDA ${p.torchCuda})` : ''}`,
    );
    line('GPUs', p.gpus.length ? p.gpus.map((g) => `#${g.index} ${g.name} ${g.memoryGiB} GiB`).join('; ') : 'none');
  }
  line('free disk', `${r.disk.freeGiB} GiB at ${r.disk.path}`);
  console.log(r.ok ? 'ok' : 'problems found: see above');
}

export function makeDoctorCommand(): Command {
  return new Command('doctor')
    .description('check the installation: Node, Python, torch, CUDA and GPUs, disk, package versions')
    .option('--json', 'print the report as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const report = await doctor();
        if (opts.json) console.log(JSON.stringify(report, null, 2));
        else printReport(report);
        if (!report.ok) process.exitCode = 1;
      }),
    );
}
