/** One place that turns any error into what a person should read, and an exit code. */
import { CancelledError, PythonDiedError, PythonError } from '../bridge/errors.ts';
import { ConfigError } from '../config/errors.ts';
import { StageSelectionError } from '../pipeline/runner.ts';

/** Bad command-line input: the message names the option and what was expected (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError || err instanceof StageSelectionError || err instanceof UsageError) return 2;
  if (err instanceof CancelledError || (err instanceof Error && err.name === 'AbortError')) return 130;
  return 1;
}

export function reportError(err: unknown): void {
  const verbose = process.env.ID3_DEBUG === '1';
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else if (err instanceof UsageError) {
    console.error(`id3: ${err.message}`);
  } else if (err instanceof CancelledError) {
    console.error(`id3: ${err.message}; rerun the same command to resume`);
  } else if (err instanceof PythonError) {
    console.error(`id3: ${err.message}`);
    console.error(verbose ? err.pythonTraceback : '(set ID3_DEBUG=1 for the Python traceback)');
  } else if (err instanceof PythonDiedError) {
    console.error(`id3: ${err.message}`);
  } else {
    console.error(`id3: ${err instanceof Error ? (verbose ? err.stack : err.message) : String(err)}`);
  }
}

/** Wrap a command action: errors become a message and an exit code, never a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      reportError(err);
      process.exitCode = exitCodeFor(err);
    }
  };
}
