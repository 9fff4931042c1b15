/** The bridge's contract: values, errors, a dead Python, jobs with progress and cancellation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, PythonDiedError, PythonError } from '../../src/bridge/errors.ts';
import { z } from 'zod';
import { defineJob, runJob, type JobProgress } from '../../src/bridge/jobs.ts';
import { PythonSession } from '../../src/bridge/session.ts';
import { parse, stringify } from '../../src/bridge/json.ts';

/** python/id3_torch/bridge/testing.py `count_job`: counts to n, a step every `seconds`. */
const countJob = defineJob(
  'test.count',
  z.strictObject({ n: z.number().int(), seconds: z.number().optional(), fail: z.boolean().optional() }),
  z.number(),
);

const testing = { env: { ID3_BRIDGE_TESTING: '1' } };

describe('JSON codec', () => {
  it('round-trips non-finite numbers and leaves look-alike objects alone', () => {
    const value = { a: [1.5, NaN, Infinity, -Infinity], b: { $float: 'nope' }, c: { $float: 'NaN', other: 1 } };
    const back = parse(stringify(value)) as typeof value;
    expect(back.a).toEqual([1.5, NaN, Infinity, -Infinity]);
    expect(back.b).toEqual({ $float: 'nope' });
    expect(back.c).toEqual({ $float: 'NaN', other: 1 });
  });
});

describe('a live session', () => {
  let session: PythonSession;
  beforeAll(async () => {
    session = await PythonSession.start(testing);
  });
  afterAll(async () => {
    await session.close();
  });

  it('returns values, NaN and Infinity included, in both directions', async () => {
    const value = { xs: [1, -2.5, NaN, Infinity, -Infinity], s: 'é', nested: { ok: true, none: null } };
    expect(await session.call('test.echo', { value })).toEqual(value);
  });

  it('turns a Python exception into a PythonError with the exception line and the traceback', async () => {
    const err = await session.call('test.fail', { message: 'the reason' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonError);
    expect((err as PythonError).message).toBe('ValueError: the reason');
    expect((err as PythonError).pythonType).toBe('ValueError');
    expect((err as PythonError).pythonTraceback).toMatch(
      /Traceback \(most recent call last\)[\s\S]*testing\.py[\s\S]*ValueError: the reason/,
    );
    // eslint-disable-next-line no-control-regex -- no terminal colour code may be left
    expect((err as PythonError).pythonTraceback).not.toMatch(/\u001b\[/);
    expect(await session.call('system.ping')).toBe('pong'); // still alive
  });

  it('names an unknown op and a bad argument', async () => {
    await expect(session.call('no.such.op')).rejects.toThrow(/KeyError: "unknown bridge op 'no.such.op'"/);
    await expect(session.call('test.sleep', { secs: 1 })).rejects.toThrow(/TypeError: .*unexpected keyword argument 'secs'/);
  });

  it('runs a job to its result, reporting progress', async () => {
    const seen: JobProgress[] = [];
    const result = await runJob(session, countJob, { n: 20, seconds: 0.01 }, { onProgress: (p) => seen.push(p), pollMs: 20 });
    expect(result).toBe(20);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ step: 20, total: 20, label: 'count' });
    expect(last.metrics.value).toBe(20);
    expect(last.rate).toBeGreaterThan(0);
    expect(seen.some((p) => p.step > 0 && p.step < 20)).toBe(true);
  });

  it('reports a failed job as a PythonError', async () => {
    await expect(runJob(session, countJob, { n: 2, fail: true })).rejects.toThrow('RuntimeError: count_job failed on request');
  });

  it('cancels a job through an AbortSignal, promptly, and stays usable', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const job = runJob(
      session,
      countJob,
      { n: 1000, seconds: 0.01 },
      {
        signal: controller.signal,
        onProgress: (p) => p.step >= 5 && controller.abort(),
      },
    );
    await expect(job).rejects.toBeInstanceOf(CancelledError);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await session.call('system.ping')).toBe('pong');
  });

  it('answers other calls while a job runs', async () => {
    const job = runJob(session, countJob, { n: 30, seconds: 0.01 });
    const started = performance.now();
    expect(await session.call('system.ping')).toBe('pong');
    expect(performance.now() - started).toBeLessThan(200);
    await job;
  });
});

describe('a dead Python', () => {
  it.each([
    ['a segmentation fault', (s: PythonSession) => s.call('test.segfault'), /SIGSEGV/],
    ['os._exit(7)', (s: PythonSession) => s.call('test.exit', { code: 7 }), /exit code 7/],
    [
      'a SIGKILL from outside (as the OOM killer does)',
      (s: PythonSession) => {
        const pending = s.call('test.sleep', { seconds: 30 });
        setTimeout(() => process.kill(s.pid, 'SIGKILL'), 200);
        return pending;
      },
      /SIGKILL: out of memory/,
    ],
  ])('rejects the pending call and every later one within a second after %s', async (_what, kill, how) => {
    const session = await PythonSession.start(testing);
    const started = performance.now();
    const err = await kill(session).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonDiedError);
    expect((err as Error).message).toMatch(how);
    expect(performance.now() - started).toBeLessThan(1_500);
    const later = performance.now();
    await expect(session.call('system.ping')).rejects.toThrow(how);
    expect(performance.now() - later).toBeLessThan(100);
    expect(session.alive).toBe(false);
  });
});
