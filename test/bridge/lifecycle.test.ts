/** No Python outlives Node, whichever way Node ends. */
import { describe, expect, it } from 'vitest';
import { exited, isRunning, spawnTs, waitUntil } from '../fixtures/processes.ts';

const CHILD = 'test/fixtures/session-child.ts';

async function pythonOf(mode: string) {
  const spawned = spawnTs(CHILD, [mode]);
  const pid = Number(await spawned.waitFor(/python (\d+)/));
  return { child: spawned.child, pid, spawned };
}

describe('no orphan Python', () => {
  it.each([
    ['end', 0],
    ['exit', 3],
    ['throw', 1],
  ])('when Node %s(s), Node exits with %i and Python is gone', async (mode, code) => {
    const { child, pid } = await pythonOf(mode);
    expect((await exited(child)).code).toBe(code);
    await waitUntil(() => !isRunning(pid), 2_000);
  });

  it.each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)('when Node gets %s inside a long Python call, Python is gone', async (signal) => {
    const { child, pid, spawned } = await pythonOf('busy');
    await spawned.waitFor(/busy (\d)/);
    expect(isRunning(pid)).toBe(true);
    child.kill(signal);
    const end = await exited(child);
    if (signal === 'SIGKILL') expect(end.signal).toBe('SIGKILL');
    else expect(end.code).toBe(signal === 'SIGINT' ? 130 : 143);
    await waitUntil(() => !isRunning(pid), 2_000);
  });
});
