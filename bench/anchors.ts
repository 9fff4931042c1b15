/**
 * Identity anchors (src/anchors/): the Tammes descent at N = 10,000, d = 512 with the default
 * settings (minimum angle reached, wall time, against the random start), and N = 100,000 (time
 * per exact neighbour search and per step, the estimated time of the default steps, and
 * the Python process's peak memory). Each size runs in a Python session of its own, so that
 * the peak (VmHWM of /proc/<pid>/status) is that size's. The Python process's CPU time (user +
 * system, /proc/<pid>/stat) is printed beside the wall time: on a shared machine the wall time
 * says more about the neighbours than about the solver.
 *
 * `ID3_BENCH_ANCHORS_FULL=1` also runs the whole N = 100,000 descent (about an hour on 2 cores).
 */
import { readFileSync } from 'node:fs';
import { designAnchors } from '../src/anchors/design.ts';
import type { JobProgress } from '../src/bridge/jobs.ts';
import { PythonSession } from '../src/bridge/session.ts';
import { AnchorsConfig } from '../src/config/anchors.ts';
import type { BenchRow } from './bridge.ts';

const DIM = 512;
const TARGET_ANGLE = 85;
const TARGET_SECONDS = 60;

function peakMemoryGiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(line!.split(/\s+/)[1]) / 2 ** 20; // kB → GiB
}

/** User + system CPU seconds of process `pid` so far (clock ticks of 1/100 s, Linux's USER_HZ). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function inFreshSession<T>(fn: (session: PythonSession, pid: number) => Promise<T>): Promise<T> {
  const session = await PythonSession.start();
  try {
    const { pid } = await session.call<{ pid: number }>('system.info');
    return await fn(session, pid);
  } finally {
    await session.close();
  }
}

const round = (x: number, digits = 4) => Number(x.toPrecision(digits));

export async function benchAnchors(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];

  const small = await inFreshSession(async (session, pid) => {
    const design = { ...AnchorsConfig.parse({ count: 10_000 }), dim: DIM };
    const [started, cpuBefore] = [performance.now(), cpuSeconds(pid)];
    const { anchors, report } = await designAnchors(session, design);
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuSeconds(pid) - cpuBefore;
    await anchors.dispose();
    return { report, seconds, cpu, memory: peakMemoryGiB(pid) };
  });
  rows.push(
    {
      name: `anchors N=10k d=512: min angle (defaults, ${AnchorsConfig.parse({ count: 10_000 }).steps} steps)`,
      value: round(small.report.minAngle),
      unit: '°',
      target: `≥ ${TARGET_ANGLE}`,
      pass: small.report.minAngle >= TARGET_ANGLE,
    },
    {
      name: 'anchors N=10k d=512: time (incl. final exact check)',
      value: round(small.seconds, 3),
      unit: 's',
      target: `≤ ${TARGET_SECONDS}`,
      pass: small.seconds <= TARGET_SECONDS,
    },
    { name: 'anchors N=10k d=512: Python CPU time (user + system)', value: round(small.cpu, 3), unit: 's', target: '(figure)', pass: true },
    {
      name: 'anchors N=10k d=512: random start min angle',
      value: round(small.report.start.minAngle),
      unit: '°',
      target: '(figure)',
      pass: true,
    },
    {
      name: 'anchors N=10k d=512: mean nearest angle',
      value: round(small.report.meanNearestAngle),
      unit: '°',
      target: '(figure)',
      pass: true,
    },
    { name: 'anchors N=10k d=512: peak Python memory', value: round(small.memory, 3), unit: 'GiB', target: '(figure)', pass: true },
  );

  // N = 100,000: one neighbour search and 5 steps, timed from the progress reports (a report's
  // `elapsed` runs from before the first search), then the final exact check.
  const large = await inFreshSession(async (session, pid) => {
    const design = { ...AnchorsConfig.parse({ count: 100_000, steps: 5, refreshEvery: 5 }), dim: DIM };
    const reports: JobProgress[] = [];
    const started = performance.now();
    const { anchors } = await designAnchors(session, design, { onProgress: (p) => reports.push(p) });
    const total = (performance.now() - started) / 1000;
    await anchors.dispose();
    const first = reports.find((p) => p.step === 1)!;
    const last = reports.find((p) => p.step === 5)!;
    const step = (last.elapsed - first.elapsed) / 4;
    const search = first.elapsed - step;
    return { search, step, total, memory: peakMemoryGiB(pid) };
  });
  const defaults = AnchorsConfig.parse({ count: 100_000 });
  const estimate = (defaults.steps / defaults.refreshEvery + 1) * large.search + defaults.steps * large.step; // searches: every refreshEvery steps from 0, and the final check
  rows.push(
    { name: 'anchors N=100k d=512: exact neighbour search', value: round(large.search, 3), unit: 's', target: '(figure)', pass: true },
    { name: 'anchors N=100k d=512: descent step', value: round(large.step, 3), unit: 's', target: '(figure)', pass: true },
    {
      name: `anchors N=100k d=512: est. ${defaults.steps} steps, refresh every ${defaults.refreshEvery}`,
      value: round(estimate / 60, 3),
      unit: 'min',
      target: '(figure)',
      pass: true,
    },
    {
      name: 'anchors N=100k d=512: peak Python memory',
      value: round(large.memory, 3),
      unit: 'GiB',
      target: '≤ 8 (a few GB)',
      pass: large.memory <= 8,
    },
  );

  if (process.env.ID3_BENCH_ANCHORS_FULL === '1') {
    const full = await inFreshSession(async (session, pid) => {
      const started = performance.now();
      const { anchors, report } = await designAnchors(session, { ...AnchorsConfig.parse({ count: 100_000 }), dim: DIM });
      await anchors.dispose();
      return { report, minutes: (performance.now() - started) / 60_000, memory: peakMemoryGiB(pid) };
    });
    rows.push(
      { name: 'anchors N=100k d=512 (full): min angle', value: round(full.report.minAngle), unit: '°', target: '(figure)', pass: true },
      { name: 'anchors N=100k d=512 (full): time', value: round(full.minutes, 3), unit: 'min', target: '(figure)', pass: true },
      {
        name: 'anchors N=100k d=512 (full): peak Python memory',
        value: round(full.memory, 3),
        unit: 'GiB',
        target: '≤ 8 (a few GB)',
        pass: full.memory <= 8,
      },
    );
  }
  return rows;
}
