/** The bridge's public face: one shared Python session for the library, and its parts. */
import { PythonSession, type PythonSessionOptions } from './session.ts';

export { PythonSession, type PythonSessionOptions } from './session.ts';
export { runJob, defineJob, type JobContract, type JobArgs, type JobResult, type JobProgress, type RunJobOptions } from './jobs.ts';
export {
  Tensor,
  TensorDisposedError,
  tidy,
  heldTensors,
  type DType,
  type Layout,
  type TensorLike,
  type Operand,
  type CreateOptions,
  type RandomOptions,
} from './tensor.ts';
export { NpyRowWriter } from './npy.ts';
export { PythonError, PythonDiedError, BridgeClosedError, CancelledError } from './errors.ts';

let shared: Promise<PythonSession> | null = null;

/** The library's shared Python session, started on first use (and again after it died or closed). */
export async function getSession(options?: PythonSessionOptions): Promise<PythonSession> {
  if (shared) {
    const session = await shared.catch(() => null);
    if (session?.alive) return session;
  }
  shared = PythonSession.start(options);
  return shared;
}

/** Close the shared session (scripts need not: an idle session never keeps Node alive). */
export async function closeSession(): Promise<void> {
  const session = await shared?.catch(() => null);
  shared = null;
  await session?.close();
}
