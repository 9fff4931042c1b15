/**
 * A `.npy` file written in row blocks, for arrays too large to build in memory at once: Python
 * creates it under a temporary name of the full shape, each `write` fills rows, `commit`
 * renames it into place (python/id3_torch/bridge/tensors.py `npy_*`). Until then the final name
 * never holds a partial array; `abort` removes the temporary file.
 */
import type { PythonSession } from './session.ts';
import type { Tensor } from './tensor.ts';

export class NpyRowWriter {
  private done = false;

  private constructor(
    private readonly session: PythonSession,
    readonly file: string,
    readonly shape: readonly number[],
    private readonly temporary: string,
  ) {}

  /** Begin `file` as an array of `shape` (float32 unless `dtype`). */
  static async create(
    session: PythonSession,
    file: string,
    shape: readonly number[],
    dtype: 'float32' | 'float64' | 'int64' = 'float32',
  ): Promise<NpyRowWriter> {
    const temporary = await session.call<string>('tensor.npy_create', { path: file, shape, dtype });
    return new NpyRowWriter(session, file, shape, temporary);
  }

  /** Rows [start, start + rows.shape[0]) of the array. */
  async write(start: number, rows: Tensor): Promise<void> {
    if (this.done) throw new Error(`${this.file}: already committed or aborted`);
    await this.session.call('tensor.npy_write_rows', { temporary: this.temporary, start, id: rows.id });
  }

  /** The array is whole: give it its name. */
  async commit(): Promise<void> {
    if (this.done) throw new Error(`${this.file}: already committed or aborted`);
    this.done = true;
    await this.session.call('tensor.npy_commit', { temporary: this.temporary, path: this.file });
  }

  /** Give up: remove the temporary file (safe after commit, then it does nothing). */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    if (this.session.alive) await this.session.call('tensor.npy_abort', { temporary: this.temporary });
  }
}
