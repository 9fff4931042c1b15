/**
 * Tensors that live in torch (CPU or CUDA) in the Python process: a `Tensor` here holds a handle
 * id and typed metadata, and every method is one bridge call (python/id3_torch/bridge/tensors.py)
 * that returns a new tensor. Operands may be tensors, promises of tensors or, where torch takes
 * a scalar, numbers, so that chains read like native code:
 *
 *   const W = await Tensor.randn(s, [100, 3], { seed: 1 });
 *   const G = await W.matmul(W.T());
 *
 * Python memory is freed by `dispose()`, or in batches once a Tensor is garbage-collected here.
 */
import type { PythonSession } from './session.ts';
import { receiveFloat32, sendFloat32 } from './transfer.ts';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'float16' | 'bfloat16';

/** A tensor, or one still being computed. */
export type TensorLike = Tensor | Promise<Tensor>;
/** A tensor operand, or a number where torch takes a scalar (broadcast). */
export type Operand = TensorLike | number;

export interface CreateOptions {
  dtype?: DType;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string;
}

export interface RandomOptions extends CreateOptions {
  /** Seeds a torch.Generator of its own (on the target device; CPU and CUDA streams differ). */
  seed?: number;
}

/** Numbers nested as a tensor's rows: number, number[], number[][], ... */
export type NestedNumbers = number | readonly NestedNumbers[];

/** What Python answers for every tensor it returns. */
interface TensorMeta {
  id: number;
  shape: number[];
  dtype: DType;
  device: string;
}

/** A tensor used after `dispose()`. */
export class TensorDisposedError extends Error {
  override name = 'TensorDisposedError';
  constructor(id: number, op: string) {
    super(`tensor #${id} was disposed; it cannot be used in ${op}`);
  }
}

// Forgotten tensors are freed in batches: every id the garbage collector reports in one sweep
// goes to Python in a single `tensor.free` call per session.
const pendingFrees = new Map<PythonSession, number[]>();

function flushFrees(): void {
  for (const [session, ids] of pendingFrees) {
    if (session.alive) session.call('tensor.free', { ids }).catch(() => {}); // Python may be gone by now
  }
  pendingFrees.clear();
}

const finalizer = new FinalizationRegistry<{ session: PythonSession; id: number }>(({ session, id }) => {
  if (pendingFrees.size === 0) setTimeout(flushFrees, 0);
  const ids = pendingFrees.get(session);
  if (ids) ids.push(id);
  else pendingFrees.set(session, [id]);
});

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: string;
  /** The handle in Python's registry; {"$tensor": id} names this tensor in a bridge call. */
  readonly id: number;
  private disposed = false;

  private constructor(
    readonly session: PythonSession,
    meta: TensorMeta,
  ) {
    this.id = meta.id;
    this.shape = Object.freeze([...meta.shape]);
    this.dtype = meta.dtype;
    this.device = meta.device;
    finalizer.register(this, { session, id: meta.id }, this);
  }

  // --- Creation -----------------------------------------------------------------------------

  /** Zeros of `shape` (float32 unless `dtype`). */
  static zeros(session: PythonSession, shape: readonly number[], options: CreateOptions = {}): Promise<Tensor> {
    return Tensor.create(session, 'zeros', [shape], options);
  }

  /** Ones of `shape` (float32 unless `dtype`). */
  static ones(session: PythonSession, shape: readonly number[], options: CreateOptions = {}): Promise<Tensor> {
    return Tensor.create(session, 'ones', [shape], options);
  }

  /** `shape` filled with `value` (float32 unless `dtype`: JS numbers do not say int or float). */
  static full(session: PythonSession, shape: readonly number[], value: number, options: CreateOptions = {}): Promise<Tensor> {
    return Tensor.create(session, 'full', [shape, value], { ...options, dtype: options.dtype ?? 'float32' });
  }

  /** [0, end) when called with one bound, else [start, end), by `step`; int64 for whole numbers. */
  static arange(
    session: PythonSession,
    startOrEnd: number,
    end?: number,
    options: CreateOptions & { step?: number } = {},
  ): Promise<Tensor> {
    const [start, stop] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
    return Tensor.create(session, 'arange', [start, stop, options.step ?? 1], options);
  }

  /** The n×m identity (m defaults to n). */
  static eye(session: PythonSession, n: number, m = n, options: CreateOptions = {}): Promise<Tensor> {
    return Tensor.create(session, 'eye', [n, m], options);
  }

  /** Uniform on [0, 1). */
  static rand(session: PythonSession, shape: readonly number[], options: RandomOptions = {}): Promise<Tensor> {
    return Tensor.create(session, 'rand', [shape], options);
  }

  /** Standard normal. */
  static randn(session: PythonSession, shape: readonly number[], options: RandomOptions = {}): Promise<Tensor> {
    return Tensor.create(session, 'randn', [shape], options);
  }

  /** Integers uniform on [low, high) (int64 unless `dtype`). */
  static randint(
    session: PythonSession,
    low: number,
    high: number,
    shape: readonly number[],
    options: RandomOptions = {},
  ): Promise<Tensor> {
    return Tensor.create(session, 'randint', [low, high, shape], options);
  }

  /** A float32 tensor holding a copy of `data` (through a file, never JSON). */
  static async fromFloat32Array(
    session: PythonSession,
    data: Float32Array,
    shape: readonly number[] = [data.length],
    options: { device?: string } = {},
  ): Promise<Tensor> {
    const meta = await sendFloat32(data, (path) =>
      session.call<TensorMeta>('tensor.from_file', { path, shape, device: options.device }),
    );
    return new Tensor(session, meta);
  }

  /**
   * A tensor from (nested) JS numbers, for small constants; crosses as float32, so integers
   * are exact up to 2^24. `dtype` casts afterwards.
   */
  static async fromArray(session: PythonSession, data: NestedNumbers, options: CreateOptions = {}): Promise<Tensor> {
    const shape: number[] = [];
    for (let level: NestedNumbers = data; typeof level !== 'number'; level = level[0] ?? 0) shape.push(level.length);
    const flat: number[] = [];
    const visit = (value: NestedNumbers, depth: number): void => {
      if (typeof value === 'number' ? depth !== shape.length : value.length !== shape[depth]) {
        throw new Error(`fromArray: a ragged array (its first row has shape [${shape}])`);
      }
      if (typeof value === 'number') flat.push(value);
      else for (const row of value) visit(row, depth + 1);
    };
    visit(data, 0);
    const tensor = await Tensor.fromFloat32Array(session, Float32Array.from(flat), shape, options);
    if (!options.dtype || options.dtype === 'float32') return tensor;
    try {
      return await tensor.cast(options.dtype);
    } finally {
      await tensor.dispose();
    }
  }

  private static async create(session: PythonSession, kind: string, args: unknown[], options: RandomOptions): Promise<Tensor> {
    const { dtype, device, seed } = options;
    return new Tensor(session, await session.call<TensorMeta>('tensor.create', { kind, args, dtype, device, seed }));
  }

  // --- Data out -----------------------------------------------------------------------------

  /** The values as float32, row-major (float16/bfloat16/float64 convert; cast other dtypes first). */
  async toFloat32Array(): Promise<Float32Array> {
    this.check('toFloat32Array');
    return receiveFloat32((path) => this.session.call('tensor.to_file', { id: this.id, path }));
  }

  /** The value of a one-element tensor (bool as 0 or 1). */
  async item(): Promise<number> {
    return Number(await this.run('item', [this]));
  }

  // --- Shape and selection ------------------------------------------------------------------

  /** Matrix product (torch.matmul: batched and broadcasting). */
  matmul(other: TensorLike): Promise<Tensor> {
    return this.tensorOp('matmul', [other]);
  }

  /** The transpose of a matrix (at most 2-D). */
  T(): Promise<Tensor> {
    return this.tensorOp('t', []);
  }

  /** Swap dimensions `dim0` and `dim1`. */
  transpose(dim0: number, dim1: number): Promise<Tensor> {
    return this.tensorOp('transpose', [dim0, dim1]);
  }

  /** Same data, new shape (one entry may be -1). */
  reshape(shape: readonly number[]): Promise<Tensor> {
    return this.tensorOp('reshape', [shape]);
  }

  /** Entries `start` to `end` (exclusive) along `dim`, with Python's rules: negatives count from the end. */
  slice(dim: number, start: number, end?: number): Promise<Tensor> {
    return this.tensorOp('slice', [dim, start, end ?? null]);
  }

  /** The entries at `indices` (an int64/int32 1-D tensor) along `dim`. */
  indexSelect(dim: number, indices: TensorLike): Promise<Tensor> {
    return this.tensorOp('index_select', [dim, indices]);
  }

  /** torch.gather: out[i][j] = this[index[i][j]][j] along `dim` = 0, and so on. */
  gather(dim: number, index: TensorLike): Promise<Tensor> {
    return this.tensorOp('gather', [dim, index]);
  }

  /** This where `condition` (bool) holds, else `other`. */
  async where(condition: TensorLike, other: Operand): Promise<Tensor> {
    return Tensor.wrap(this.session, await this.run('where', [condition, this, other]));
  }

  // --- Elementwise --------------------------------------------------------------------------

  /** this + other (broadcasting). */
  add(other: Operand): Promise<Tensor> {
    return this.tensorOp('add', [other]);
  }

  /** this − other (broadcasting). */
  sub(other: Operand): Promise<Tensor> {
    return this.tensorOp('sub', [other]);
  }

  /** this × other (broadcasting). */
  mul(other: Operand): Promise<Tensor> {
    return this.tensorOp('mul', [other]);
  }

  /** this ÷ other (true division, broadcasting). */
  div(other: Operand): Promise<Tensor> {
    return this.tensorOp('div', [other]);
  }

  /** this ** exponent. */
  pow(exponent: number): Promise<Tensor> {
    return this.tensorOp('pow', [exponent]);
  }

  /** −this. */
  neg(): Promise<Tensor> {
    return this.tensorOp('neg', []);
  }

  /** |this|. */
  abs(): Promise<Tensor> {
    return this.tensorOp('abs', []);
  }

  /** Square root (NaN below 0). */
  sqrt(): Promise<Tensor> {
    return this.tensorOp('sqrt', []);
  }

  /** e ** this. */
  exp(): Promise<Tensor> {
    return this.tensorOp('exp', []);
  }

  /** Natural logarithm. */
  log(): Promise<Tensor> {
    return this.tensorOp('log', []);
  }

  /** Arc cosine in radians (angles from cosines: clamp to [-1, 1] first). */
  acos(): Promise<Tensor> {
    return this.tensorOp('acos', []);
  }

  /** Limit values to [min, max]; either bound may be left out. */
  clamp(bounds: { min?: number; max?: number }): Promise<Tensor> {
    return this.tensorOp('clamp', [], { min: bounds.min, max: bounds.max });
  }

  /** Boolean mask of this > other. */
  gt(other: Operand): Promise<Tensor> {
    return this.tensorOp('gt', [other]);
  }

  /** Boolean mask of this < other. */
  lt(other: Operand): Promise<Tensor> {
    return this.tensorOp('lt', [other]);
  }

  /** Boolean mask of this == other. */
  eq(other: Operand): Promise<Tensor> {
    return this.tensorOp('eq', [other]);
  }

  // --- Reductions ---------------------------------------------------------------------------

  /** Sum over `dim`, or over everything. */
  sum(dim?: number, keepdim = false): Promise<Tensor> {
    return this.tensorOp('sum', [], dim === undefined ? {} : { dim, keepdim });
  }

  /** Mean over `dim`, or over everything. */
  mean(dim?: number, keepdim = false): Promise<Tensor> {
    return this.tensorOp('mean', [], dim === undefined ? {} : { dim, keepdim });
  }

  /** Largest value over `dim`, or over everything. */
  amax(dim?: number, keepdim = false): Promise<Tensor> {
    return this.tensorOp('amax', [], { dim: dim ?? [], keepdim });
  }

  /** Smallest value over `dim`, or over everything. */
  amin(dim?: number, keepdim = false): Promise<Tensor> {
    return this.tensorOp('amin', [], { dim: dim ?? [], keepdim });
  }

  /** Largest values along `dim` and where they are (int64). */
  max(dim: number, keepdim = false): Promise<{ values: Tensor; indices: Tensor }> {
    return this.pairOp('max', [dim, keepdim]);
  }

  /** Smallest values along `dim` and where they are (int64). */
  min(dim: number, keepdim = false): Promise<{ values: Tensor; indices: Tensor }> {
    return this.pairOp('min', [dim, keepdim]);
  }

  /** The `k` largest (or smallest) values along `dim`, sorted, and their indices (int64). */
  topk(k: number, dim = -1, largest = true): Promise<{ values: Tensor; indices: Tensor }> {
    return this.pairOp('topk', [k], { dim, largest });
  }

  /** Euclidean (L2) norm over `dim`, or over everything. */
  norm(dim?: number, keepdim = false): Promise<Tensor> {
    return this.tensorOp('norm', [], { dim, keepdim });
  }

  /** this / ‖this‖ along `dim`; rows of norm below 1e-12 are divided by 1e-12 instead (torch's F.normalize). */
  normalize(dim = -1): Promise<Tensor> {
    return this.tensorOp('normalize', [], { dim });
  }

  // --- Placement and lifetime ---------------------------------------------------------------

  /** A copy on `device` ('cpu', 'cuda', 'cuda:N'). */
  to(device: string): Promise<Tensor> {
    return this.tensorOp('to', [device]);
  }

  /** A copy as `dtype`. */
  cast(dtype: DType): Promise<Tensor> {
    return this.tensorOp('cast', [dtype]);
  }

  /** Free the Python tensor now; later use throws TensorDisposedError. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    if (this.session.alive) await this.session.call('tensor.free', { ids: [this.id] });
  }

  /** For logs: id, shape, dtype, device (no data). */
  toString(): string {
    return `Tensor#${this.id}(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device})`;
  }

  // --- The one way to Python ----------------------------------------------------------------

  private static wrap(session: PythonSession, meta: unknown): Tensor {
    return new Tensor(session, meta as TensorMeta);
  }

  private async tensorOp(op: string, operands: unknown[], kwargs: object = {}): Promise<Tensor> {
    return Tensor.wrap(this.session, await this.run(op, [this, ...operands], kwargs));
  }

  private async pairOp(op: string, operands: unknown[], kwargs: object = {}): Promise<{ values: Tensor; indices: Tensor }> {
    const pair = (await this.run(op, [this, ...operands], kwargs)) as { values: TensorMeta; indices: TensorMeta };
    return { values: Tensor.wrap(this.session, pair.values), indices: Tensor.wrap(this.session, pair.indices) };
  }

  /**
   * Run whitelisted `op` of tensors.py as op(*args, **kwargs). Tensor arguments (awaited first)
   * travel as {"$tensor": id}; everything else as plain JSON.
   */
  private async run(op: string, args: unknown[], kwargs: object = {}): Promise<unknown> {
    this.check(op);
    const encoded = await Promise.all(
      args.map(async (arg) => {
        if (!(arg instanceof Tensor || arg instanceof Promise)) return arg;
        const tensor = await arg;
        if (!(tensor instanceof Tensor)) throw new TypeError(`${op}: an operand promise resolved to ${String(tensor)}, not a Tensor`);
        tensor.check(op);
        if (tensor.session !== this.session) throw new Error(`${op}: tensors from two different Python sessions`);
        return { $tensor: tensor.id };
      }),
    );
    this.check(op); // it may have been disposed while the operands were computed
    return this.session.call('tensor.op', { op, args: encoded, kwargs });
  }

  private check(op: string): void {
    if (this.disposed) throw new TensorDisposedError(this.id, op);
  }
}
