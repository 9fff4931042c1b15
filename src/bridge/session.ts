/**
 * A Python process running id3_torch, reached through pythonia. The only module that touches
 * pythonia: it chooses the transport, starts Python with the project's environment, turns every
 * reply into a value or a typed error, notices a dead Python at once, and makes sure no Python
 * outlives Node (see python/id3_torch/bridge/lifeline.py for the other half).
 */
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { BridgeClosedError, PythonDiedError, PythonError } from './errors.ts';
import { parse, stringify } from './json.ts';
import { pythonExecutable, pythonPackageDir } from './python-env.ts';

const require = createRequire(import.meta.url);
const isDeno = 'Deno' in globalThis;

/** pythonia objects are proxies typed by nothing; they stay inside this module. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PyProxy = any;
interface PythoniaCom {
  proc: ChildProcess;
}
interface PythoniaBridge {
  loop: NodeJS.Timeout;
  end(): void;
  makePyObject(ffid: number): PyProxy;
}

function loadPythonia(): { Bridge: new (com: PythoniaCom) => PythoniaBridge; Com: new () => PythoniaCom } {
  // pythonia reads REQ_TIMEOUT once, when Bridge.js loads. Long work runs as jobs and a dead
  // Python is detected by its exit, so pythonia's own timer (which rejects while Python keeps
  // running) is turned off unless the user set one.
  process.env.REQ_TIMEOUT ??= '0';
  const { Bridge } = require('pythonia/src/pythonia/Bridge.js');
  // Node's IPC transport fails under Deno (writeUtf8String of undefined); the stdio transport,
  // which pythonia itself uses on Windows, works on both. Chosen here rather than patched in
  // node_modules, so it survives `npm ci`.
  const { StdioCom } = require(isDeno ? 'pythonia/src/pythonia/StdioCom.js' : 'pythonia/src/pythonia/IpcPipeCom.js');
  return { Bridge, Com: StdioCom };
}

export interface PythonSessionOptions {
  /** The Python binary; default: ID3_PYTHON, else the project's .venv. */
  python?: string;
  /** Extra environment variables for the Python process. */
  env?: Record<string, string>;
}

interface ErrorReply {
  error: { type: string; message: string; traceback: string };
}
type Reply = { ok: unknown } | ErrorReply;

const live = new Set<PythonSession>();

export interface FinishedJob {
  kind: string;
  args: object;
  /** Seconds from the start request to the result, as this side saw them. */
  seconds: number;
  /** Seconds the job function itself ran, as Python measured them. */
  pythonSeconds: number;
}

export class PythonSession {
  private closed = false;
  private death: PythonDiedError | null = null;
  /** Rejecters of the calls in flight: Python's death rejects them all at once. */
  private readonly inFlight = new Set<(err: Error) => void>();
  private pendingCalls = 0;
  private keepAlive: NodeJS.Timeout | null = null;
  /** Aborted by Ctrl-C (and then replaced by a fresh one): running jobs listen to it and cancel. */
  interrupted = new AbortController();
  /** Jobs in flight (kept by jobs.ts): Ctrl-C cancels them rather than exiting at once. */
  runningJobs = 0;
  /** Every job this session finished, in order (kept by jobs.ts): what ran, with what, how long. */
  readonly finishedJobs: FinishedJob[] = [];

  private constructor(
    private readonly com: PythoniaCom,
    private readonly bridge: PythoniaBridge,
    /** id3_torch.api.dispatch, looked up once: each pythonia attribute access costs a proxy. */
    private dispatch: PyProxy,
  ) {
    const proc = com.proc;
    const die = (death: PythonDiedError) => {
      if (this.death) return;
      this.death = death;
      this.release();
      for (const reject of this.inFlight) reject(death);
      this.inFlight.clear();
    };
    proc.once('exit', (code, signal) => die(new PythonDiedError(code, signal)));
    // A Python that could not start at all emits 'error' and maybe no 'exit'. Later 'error's
    // (pythonia writing to the closed channel of a dead Python) change nothing.
    proc.on('error', (err) => die(new PythonDiedError(null, null, err.message)));
    // Python must not keep Node alive when nothing is pending.
    proc.unref();
    for (const handle of [proc.channel, proc.stdin, proc.stderr] as Array<{ unref?: () => void } | null>) handle?.unref?.();
    bridge.loop.unref();
    live.add(this);
    installProcessHandlers();
  }

  /** Start Python, import id3_torch.api and tie the process's life to ours. */
  static async start(options: PythonSessionOptions = {}): Promise<PythonSession> {
    const { Bridge, Com } = loadPythonia();
    const env = { ...options.env, PYTHON_BIN: options.python ?? pythonExecutable(), PYTHONUNBUFFERED: '1' };
    // pythonia spawns from process.env, synchronously, in its constructor.
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    let com: PythoniaCom;
    try {
      com = new Com();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const bridge = new Bridge(com);
    const session = new PythonSession(com, bridge, null);
    try {
      const root = bridge.makePyObject(0);
      const sys = await session.raw<PyProxy>(root.python('sys'));
      await session.raw(sys.path.insert(0, pythonPackageDir));
      const api = await session.raw<PyProxy>(root.python('id3_torch.api'));
      session.dispatch = await session.raw<PyProxy>(api.dispatch);
      await session.call('system.attach', { parentPid: process.pid });
    } catch (err) {
      session.kill();
      throw err;
    }
    return session;
  }

  get pid(): number {
    return this.com.proc.pid ?? -1;
  }

  get alive(): boolean {
    return !this.closed && this.death === null;
  }

  /** Call `op` in python/id3_torch/api.py with JSON arguments; resolves to its JSON result. */
  async call<T>(op: string, args: object = {}): Promise<T> {
    const reply = parse(await this.raw(this.dispatch(op, stringify(args)))) as Reply;
    if ('error' in reply) throw new PythonError(reply.error.type, reply.error.message, reply.error.traceback);
    return reply.ok as T;
  }

  /** Stop Python. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const proc = this.com.proc;
    if (this.death === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      this.hold(+1);
      await exited.finally(() => this.hold(-1));
    }
    this.release();
  }

  /** Synchronous last resort, used on process exit. */
  kill(): void {
    this.closed = true;
    if (this.death === null) this.com.proc.kill('SIGTERM');
    this.release();
  }

  /** Await a pythonia promise, or Python's death, whichever comes first; Node stays alive meanwhile. */
  private raw<T>(pending: PromiseLike<T>): Promise<T> {
    if (this.closed) return Promise.reject(new BridgeClosedError());
    if (this.death) return Promise.reject(this.death);
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      this.hold(+1);
      Promise.resolve(pending)
        .then(resolve, (err: unknown) => reject(translatePythoniaError(err)))
        .finally(() => {
          this.inFlight.delete(reject);
          this.hold(-1);
        });
    });
  }

  /** Ref-counted keep-alive: the child's handles are unref'd, so a pending call holds a timer. */
  private hold(delta: 1 | -1): void {
    this.pendingCalls += delta;
    if (this.pendingCalls > 0 && this.keepAlive === null) this.keepAlive = setInterval(() => {}, 1 << 30);
    if (this.pendingCalls === 0 && this.keepAlive !== null) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  private release(): void {
    this.bridge.end();
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
    live.delete(this);
    if (live.size === 0) removeProcessHandlers();
  }
}

/** pythonia's own exceptions (only before id3_torch.api is imported) carry an ANSI-coloured stack. */
function translatePythoniaError(err: unknown): unknown {
  if (!(err instanceof Error && err.constructor.name === 'PythonException')) return err;
  // eslint-disable-next-line no-control-regex -- the terminal colour codes pythonia leaves in tracebacks
  const clean = (err.stack ?? '').replace(/\u001b\[[0-9;]*m/g, '');
  const lines = clean
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = [...lines].reverse().find((l) => /^[A-Za-z_.]+(Error|Exception)\b/.test(l)) ?? lines.at(-1) ?? 'Python error';
  const [type, ...rest] = last.split(':');
  return new PythonError(type!.trim(), rest.join(':').trim(), clean);
}

// --- No Python outlives Node -------------------------------------------------------------
// 'exit' covers a normal end, process.exit() and an uncaught error; the signal handlers cover
// Ctrl-C and SIGTERM; SIGKILL of Node is covered by Python's parent-death signal.

const FORCED_EXIT_AFTER_INTERRUPT_MS = 10_000;
let interrupts = 0;

function killAll(): void {
  for (const session of [...live]) session.kill();
}

function onSigint(): void {
  interrupts += 1;
  const anyJobRunning = [...live].some((s) => s.runningJobs > 0);
  if (interrupts > 1 || !anyJobRunning) {
    killAll();
    process.exit(130);
  }
  for (const session of live) {
    session.interrupted.abort(new Error('interrupted (Ctrl-C)'));
    session.interrupted = new AbortController();
  }
  setTimeout(() => {
    console.error(
      `id3: interrupted, and the running job did not stop within ${FORCED_EXIT_AFTER_INTERRUPT_MS / 1000} s: stopped it; rerun the same command to resume`,
    );
    killAll();
    process.exit(130);
  }, FORCED_EXIT_AFTER_INTERRUPT_MS).unref();
}

function onSigterm(): void {
  killAll();
  process.exit(143);
}

let installed = false;
function installProcessHandlers(): void {
  if (installed) return;
  installed = true;
  interrupts = 0;
  process.on('exit', killAll);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
}

function removeProcessHandlers(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', killAll);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
}
