/** The ways a bridge call fails, as JavaScript errors that say what happened in Python. */

/** A Python exception: `message` is its last line ("ValueError: ..."), the traceback is kept. */
export class PythonError extends Error {
  override name = 'PythonError';
  constructor(
    readonly pythonType: string,
    readonly pythonMessage: string,
    readonly pythonTraceback: string,
  ) {
    super(pythonMessage ? `${pythonType}: ${pythonMessage}` : pythonType);
  }
}

/** The Python process is gone: every pending and later call rejects with this. */
export class PythonDiedError extends Error {
  override name = 'PythonDiedError';
  constructor(
    readonly exitCode: number | null,
    readonly signal: string | null,
    /** Set when the process could not be started at all. */
    readonly startError?: string,
  ) {
    super(
      startError
        ? `the Python process could not start: ${startError}`
        : `the Python process died (${PythonDiedError.how(exitCode, signal)})`,
    );
  }

  static how(exitCode: number | null, signal: string | null): string {
    if (signal === 'SIGKILL') return 'killed by SIGKILL: out of memory, or killed from outside';
    if (signal === 'SIGSEGV') return 'crashed with SIGSEGV: a segmentation fault in native code';
    if (signal) return `killed by ${signal}`;
    return `exit code ${exitCode}`;
  }
}

/** A call made after `close()`. */
export class BridgeClosedError extends Error {
  override name = 'BridgeClosedError';
  constructor() {
    super('the Python bridge is closed');
  }
}

/** A job stopped on request (AbortSignal or Ctrl-C). */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(what: string) {
    super(`${what} was cancelled`);
  }
}
