/**
 * What the bridge costs: a trivial call, moving 100 MB of float32 each way (file write, read
 * and delete included), and starting Python up to ready (torch imported).
 */
import { PythonSession } from '../src/bridge/session.ts';
import { Tensor } from '../src/bridge/tensor.ts';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target: string;
  pass: boolean;
}

const PING_WARMUP = 1_000;
const PINGS = 2_000;
const TRANSFER_BYTES = 100_000_000;
const REPEATS = 3;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function benchBridge(): Promise<BenchRow[]> {
  const starts: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    let session: PythonSession | undefined;
    starts.push(await seconds(async () => (session = await PythonSession.start())));
    await session!.close();
  }

  const session = await PythonSession.start();
  try {
    for (let i = 0; i < PING_WARMUP; i++) await session.call('system.ping');
    const pings: number[] = [];
    for (let i = 0; i < PINGS; i++) {
      const t0 = performance.now();
      await session.call('system.ping');
      pings.push((performance.now() - t0) * 1000);
    }

    const data = new Float32Array(TRANSFER_BYTES / 4);
    for (let i = 0; i < data.length; i++) data[i] = i % 1000; // touched pages, not a lazy zero buffer
    const toPython: number[] = [];
    const toNode: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      let tensor: Tensor | undefined;
      toPython.push(await seconds(async () => (tensor = await Tensor.fromFloat32Array(session, data))));
      toNode.push(await seconds(() => tensor!.toFloat32Array()));
      await tensor!.dispose();
    }
    const mbPerSecond = (times: number[]) => TRANSFER_BYTES / 1e6 / median(times);

    const rows = [
      { name: 'bridge call (system.ping), median', value: median(pings), unit: 'µs', target: '≤ 100', pass: median(pings) <= 100 },
      {
        name: 'transfer 100 MB float32 TS→Py',
        value: mbPerSecond(toPython),
        unit: 'MB/s',
        target: '≥ 500',
        pass: mbPerSecond(toPython) >= 500,
      },
      {
        name: 'transfer 100 MB float32 Py→TS',
        value: mbPerSecond(toNode),
        unit: 'MB/s',
        target: '≥ 500',
        pass: mbPerSecond(toNode) >= 500,
      },
      { name: 'PythonSession.start() to ready, median of 3', value: median(starts), unit: 's', target: '≤ 2', pass: median(starts) <= 2 },
    ];
    return rows.map((row) => ({ ...row, value: Number(row.value.toPrecision(4)) }));
  } finally {
    await session.close();
  }
}
