/**
 * Tensors that live in torch (CPU or CUDA) in the Python process: a `Tensor` here holds a handle
 * id and typed metadata, and every method is one bridge call (python/id3_torch/bridge/tensors.py)
 * that returns a new tensor. An op returns a `TensorChain`: the ops chain on it, one `await` at the
 * end gives the tensor, and operands may be tensors, chains, promises of tensors or, where torch
 * takes a scalar, numbers, so that tensor code reads like native code:
 *
 *   const W = await Tensor.randn(s, [100, 3], { seed: 1 });
 *   const G = await W.matmul(W.T());
 *   const r = await v.mul(v).neg().add(1).sqrt();    // sqrt(1 − v²): four bridge calls, one await
 *
 * Python memory is freed by `dispose()` (`Tensor.disposeAll` for many), by `tidy(fn)` for every
 * tensor `fn` made but did not return, or in batches once a Tensor is garbage-collected here.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PythonSession } from './session.ts';
import { receiveFloat32, sendFloat32 } from './transfer.ts';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'float16' | 'bfloat16';
/** Dense, or a sparse CSR matrix (`Tensor.sparseCsr`). */
export type Layout = 'strided' | 'sparse_csr';

/** A tensor, or one still being computed (a promise, or a chain of ops). */
export type TensorLike = Tensor | PromiseLike<Tensor>;
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
  layout: Layout;
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
  readonly layout: Layout;
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
    this.layout = meta.layout;
    finalizer.register(this, { session, id: meta.id }, this);
    tidyScopes.getStore()?.add(this);
  }

  // --- Creation -----------------------------------------------------------------------------

  /** Zeros of `shape` (float32 unless `dtype`). */
  static zeros(session: PythonSession, shape: readonly number[], options: CreateOptions = {}): TensorChain {
    return new TensorChain(Tensor.create(session, 'zeros', [shape], options));
  }

  /** Ones of `shape` (float32 unless `dtype`). */
  static ones(session: PythonSession, shape: readonly number[], options: CreateOptions = {}): TensorChain {
    return new TensorChain(Tensor.create(session, 'ones', [shape], options));
  }

  /** `shape` filled with `value` (float32 unless `dtype`: JS numbers do not say int or float). */
  static full(session: PythonSession, shape: readonly number[], value: number, options: CreateOptions = {}): TensorChain {
    return new TensorChain(Tensor.create(session, 'full', [shape, value], { ...options, dtype: options.dtype ?? 'float32' }));
  }

  /** [0, end) when called with one bound, else [start, end), by `step`; int64 for whole numbers. */
  static arange(session: PythonSession, startOrEnd: number, end?: number, options: CreateOptions & { step?: number } = {}): TensorChain {
    const [start, stop] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
    return new TensorChain(Tensor.create(session, 'arange', [start, stop, options.step ?? 1], options));
  }

  /** The n×m identity (m defaults to n). */
  static eye(session: PythonSession, n: number, m = n, options: CreateOptions = {}): TensorChain {
    return new TensorChain(Tensor.create(session, 'eye', [n, m], options));
  }

  /** Uniform on [0, 1). */
  static rand(session: PythonSession, shape: readonly number[], options: RandomOptions = {}): TensorChain {
    return new TensorChain(Tensor.create(session, 'rand', [shape], options));
  }

  /** Standard normal. */
  static randn(session: PythonSession, shape: readonly number[], options: RandomOptions = {}): TensorChain {
    return new TensorChain(Tensor.create(session, 'randn', [shape], options));
  }

  /** Integers uniform on [low, high) (int64 unless `dtype`). */
  static randint(session: PythonSession, low: number, high: number, shape: readonly number[], options: RandomOptions = {}): TensorChain {
    return new TensorChain(Tensor.create(session, 'randint', [low, high, shape], options));
  }

  /** A float32 tensor holding a copy of `data` (through a file, never JSON). */
  static async fromFloat32Array(
    session: PythonSession,
    data: Float32Array,
    shape: readonly number[] = [data.length],
    options: { device?: string } = {},
  ): Promise<Tensor> {
    const meta = await sendFloat32(data, (path) => session.call<TensorMeta>('tensor.from_file', { path, shape, device: options.device }));
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

  /** `tensors` joined along `dim` (all from one session). */
  static cat(tensors: readonly TensorLike[], dim = 0): TensorChain {
    return new TensorChain(
      Promise.all(tensors).then(async (all) => {
        if (all.length === 0) throw new Error('cat: no tensors');
        const first = all[0]!;
        return Tensor.wrap(first.session, await first.run('cat', [all, dim]));
      }),
    );
  }

  /**
   * A sparse CSR matrix of `shape` [rows, cols]: row r holds `values[crow[r]:crow[r+1]]` at
   * columns `col[crow[r]:crow[r+1]]` (crow and col int64). Checked in Python: an index out of
   * range is an error, not a crash.
   */
  static sparseCsr(crow: TensorLike, col: TensorLike, values: TensorLike, shape: readonly [number, number]): TensorChain {
    return new TensorChain(Promise.resolve(crow).then((c) => c.chained('sparse_csr', [col, values, shape])));
  }

  /** A tensor from a `.npy` file of numbers (its dtype kept; pickled objects refused). */
  static async loadNpy(session: PythonSession, file: string, options: { device?: string } = {}): Promise<Tensor> {
    return new Tensor(session, await session.call<TensorMeta>('tensor.load_npy', { path: file, device: options.device }));
  }

  /** The tensor another bridge op makes and registers (Python: `tensors.register`), e.g. a
   *  column table read from a file. */
  static async fromOp(session: PythonSession, op: string, args: object): Promise<Tensor> {
    return new Tensor(session, await session.call<TensorMeta>(op, args));
  }

  /** Free many tensors in one bridge call (disposed ones and repeats are skipped). */
  static async disposeAll(tensors: Iterable<Tensor>): Promise<void> {
    const bySession = new Map<PythonSession, Set<number>>();
    for (const t of tensors) {
      if (t.disposed) continue;
      t.disposed = true;
      finalizer.unregister(t);
      const ids = bySession.get(t.session) ?? new Set<number>();
      bySession.set(t.session, ids.add(t.id));
    }
    for (const [session, ids] of bySession) if (session.alive) await session.call('tensor.free', { ids: [...ids] });
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

  /** Write this (dense) tensor to a `.npy` file in its own dtype, whole or not at all. */
  async saveNpy(file: string): Promise<void> {
    this.check('saveNpy');
    await this.session.call('tensor.save_npy', { id: this.id, path: file });
  }

  /** The value of a one-element tensor (bool as 0 or 1). */
  async item(): Promise<number> {
    return Number(await this.run('item', [this]));
  }

  // --- Shape and selection ------------------------------------------------------------------

  /** Matrix product (torch.matmul: batched and broadcasting). */
  matmul(other: TensorLike): TensorChain {
    return this.chained('matmul', [other]);
  }

  /** The transpose of a matrix (at most 2-D). */
  T(): TensorChain {
    return this.chained('t', []);
  }

  /** Swap dimensions `dim0` and `dim1`. */
  transpose(dim0: number, dim1: number): TensorChain {
    return this.chained('transpose', [dim0, dim1]);
  }

  /** Same data, new shape (one entry may be -1). */
  reshape(shape: readonly number[]): TensorChain {
    return this.chained('reshape', [shape]);
  }

  /** Entries `start` to `end` (exclusive) along `dim`, with Python's rules: negatives count from the end. */
  slice(dim: number, start: number, end?: number): TensorChain {
    return this.chained('slice', [dim, start, end ?? null]);
  }

  /** The entries at `indices` (an int64/int32 1-D tensor) along `dim`. */
  indexSelect(dim: number, indices: TensorLike): TensorChain {
    return this.chained('index_select', [dim, indices]);
  }

  /** torch.gather: out[i][j] = this[index[i][j]][j] along `dim` = 0, and so on. */
  gather(dim: number, index: TensorLike): TensorChain {
    return this.chained('gather', [dim, index]);
  }

  /** A new dimension of size 1 at `dim`. */
  unsqueeze(dim: number): TensorChain {
    return this.chained('unsqueeze', [dim]);
  }

  /** Dimension `dim` (of size 1) removed. */
  squeeze(dim: number): TensorChain {
    return this.chained('squeeze', [dim]);
  }

  /** A copy of this with `source` added at `index` along `dim`: out[index[i]] += source[i], repeats summed. */
  indexAdd(dim: number, index: TensorLike, source: TensorLike): TensorChain {
    return this.chained('index_add', [dim, index, source]);
  }

  /** The values sorted along `dim`, ascending (ties keep their order), and where they came from. */
  sort(dim = -1): Promise<{ values: Tensor; indices: Tensor }> {
    return this.pairOp('sort', [], { dim });
  }

  /** Indices that sort along `dim`, ascending; ties keep their order (stable). */
  argsort(dim = -1): TensorChain {
    return this.chained('argsort', [], { dim });
  }

  /** For a sparse CSR pattern (this): (a @ b) at the pattern's stored entries only, as a CSR matrix. */
  sampledMatmul(a: TensorLike, b: TensorLike): TensorChain {
    return this.chained('sampled_matmul', [a, b]);
  }

  /**
   * Weighted sums of rows of this (M, d), in bags: out[b] = Σ_e weights[e] · this[indices[e]]
   * over the entries e from offsets[b] to offsets[b + 1] − 1 (the last bag runs to the end);
   * torch's embedding_bag, mode "sum". A sparse (B × M) matrix times this, without CSR.
   */
  embeddingBag(indices: TensorLike, offsets: TensorLike, weights: TensorLike): TensorChain {
    return this.chained('embedding_bag', [indices, offsets, weights]);
  }

  /** The stored values of a sparse CSR matrix, row by row (1-D). */
  values(): TensorChain {
    return this.chained('values', []);
  }

  /** This where `condition` (bool) holds, else `other`. */
  where(condition: TensorLike, other: Operand): TensorChain {
    return new TensorChain(this.run('where', [condition, this, other]).then((meta) => Tensor.wrap(this.session, meta)));
  }

  // --- Elementwise --------------------------------------------------------------------------

  /** this + other (broadcasting). */
  add(other: Operand): TensorChain {
    return this.chained('add', [other]);
  }

  /** this − other (broadcasting). */
  sub(other: Operand): TensorChain {
    return this.chained('sub', [other]);
  }

  /** this × other (broadcasting). */
  mul(other: Operand): TensorChain {
    return this.chained('mul', [other]);
  }

  /** this ÷ other (true division, broadcasting). */
  div(other: Operand): TensorChain {
    return this.chained('div', [other]);
  }

  /** this ** exponent. */
  pow(exponent: number): TensorChain {
    return this.chained('pow', [exponent]);
  }

  /** −this. */
  neg(): TensorChain {
    return this.chained('neg', []);
  }

  /** |this|. */
  abs(): TensorChain {
    return this.chained('abs', []);
  }

  /** Square root (NaN below 0). */
  sqrt(): TensorChain {
    return this.chained('sqrt', []);
  }

  /** e ** this. */
  exp(): TensorChain {
    return this.chained('exp', []);
  }

  /** Natural logarithm. */
  log(): TensorChain {
    return this.chained('log', []);
  }

  /** Arc cosine in radians (angles from cosines: clamp to [-1, 1] first). */
  acos(): TensorChain {
    return this.chained('acos', []);
  }

  /** Limit values to [min, max]; either bound may be left out. */
  clamp(bounds: { min?: number; max?: number }): TensorChain {
    return this.chained('clamp', [], { min: bounds.min, max: bounds.max });
  }

  /** Running sum along `dim`. */
  cumsum(dim: number): TensorChain {
    return this.chained('cumsum', [dim]);
  }

  /** Boolean mask of this > other. */
  gt(other: Operand): TensorChain {
    return this.chained('gt', [other]);
  }

  /** Boolean mask of this < other. */
  lt(other: Operand): TensorChain {
    return this.chained('lt', [other]);
  }

  /** Boolean mask of this == other. */
  eq(other: Operand): TensorChain {
    return this.chained('eq', [other]);
  }

  // --- Reductions ---------------------------------------------------------------------------

  /** Sum over `dim`, or over everything. */
  sum(dim?: number, keepdim = false): TensorChain {
    return this.chained('sum', [], dim === undefined ? {} : { dim, keepdim });
  }

  /** Mean over `dim`, or over everything. */
  mean(dim?: number, keepdim = false): TensorChain {
    return this.chained('mean', [], dim === undefined ? {} : { dim, keepdim });
  }

  /** Largest value over `dim`, or over everything. */
  amax(dim?: number, keepdim = false): TensorChain {
    return this.chained('amax', [], { dim: dim ?? [], keepdim });
  }

  /** Smallest value over `dim`, or over everything. */
  amin(dim?: number, keepdim = false): TensorChain {
    return this.chained('amin', [], { dim: dim ?? [], keepdim });
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

  /** softmax along `dim`: exp(x) / Σ exp(x), computed stably. */
  softmax(dim: number): TensorChain {
    return this.chained('softmax', [dim]);
  }

  /** log Σ exp(x) over `dim`, computed stably. */
  logsumexp(dim: number, keepdim = false): TensorChain {
    return this.chained('logsumexp', [dim, keepdim]);
  }

  /** Counts of each value of a 1-D int64 tensor of values ≥ 0; at least `minlength` entries. */
  bincount(minlength = 0): TensorChain {
    return this.chained('bincount', [], { minlength });
  }

  /** Euclidean (L2) norm over `dim`, or over everything. */
  norm(dim?: number, keepdim = false): TensorChain {
    return this.chained('norm', [], { dim, keepdim });
  }

  /** this / ‖this‖ along `dim`; rows of norm below 1e-12 are divided by 1e-12 instead (torch's F.normalize). */
  normalize(dim = -1): TensorChain {
    return this.chained('normalize', [], { dim });
  }

  // --- Placement and lifetime ---------------------------------------------------------------

  /** A copy on `device` ('cpu', 'cuda', 'cuda:N'). */
  to(device: string): TensorChain {
    return this.chained('to', [device]);
  }

  /** A copy as `dtype`. */
  cast(dtype: DType): TensorChain {
    return this.chained('cast', [dtype]);
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

  private chained(op: string, operands: unknown[], kwargs: object = {}): TensorChain {
    return new TensorChain(this.run(op, [this, ...operands], kwargs).then((meta) => Tensor.wrap(this.session, meta)));
  }

  private async pairOp(op: string, operands: unknown[], kwargs: object = {}): Promise<{ values: Tensor; indices: Tensor }> {
    const pair = (await this.run(op, [this, ...operands], kwargs)) as { values: TensorMeta; indices: TensorMeta };
    return { values: Tensor.wrap(this.session, pair.values), indices: Tensor.wrap(this.session, pair.indices) };
  }

  /**
   * Run whitelisted `op` of tensors.py as op(*args, **kwargs). Tensor arguments (awaited first),
   * also inside an array argument, travel as {"$tensor": id}; everything else as plain JSON.
   */
  private async run(op: string, args: unknown[], kwargs: object = {}): Promise<unknown> {
    this.check(op);
    const encode = async (arg: unknown): Promise<unknown> => {
      if (Array.isArray(arg)) return Promise.all(arg.map(encode));
      if (!(arg instanceof Tensor || arg instanceof Promise || arg instanceof TensorChain)) return arg;
      const tensor = await arg;
      if (!(tensor instanceof Tensor)) throw new TypeError(`${op}: an operand promise resolved to ${String(tensor)}, not a Tensor`);
      tensor.check(op);
      if (tensor.session !== this.session) throw new Error(`${op}: tensors from two different Python sessions`);
      return { $tensor: tensor.id };
    };
    const encoded = await Promise.all(args.map(encode));
    this.check(op); // it may have been disposed while the operands were computed
    return this.session.call('tensor.op', { op, args: encoded, kwargs });
  }

  private check(op: string): void {
    if (this.disposed) throw new TensorDisposedError(this.id, op);
  }
}

/** The ops of a Tensor that make a tensor: on a TensorChain, each chains on the tensor being computed. */
const CHAINED = [
  'matmul',
  'T',
  'transpose',
  'reshape',
  'slice',
  'indexSelect',
  'gather',
  'unsqueeze',
  'squeeze',
  'indexAdd',
  'argsort',
  'sampledMatmul',
  'embeddingBag',
  'values',
  'where',
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'neg',
  'abs',
  'sqrt',
  'exp',
  'log',
  'acos',
  'clamp',
  'cumsum',
  'gt',
  'lt',
  'eq',
  'sum',
  'mean',
  'amax',
  'amin',
  'softmax',
  'logsumexp',
  'bincount',
  'norm',
  'normalize',
  'to',
  'cast',
] as const;
/** The ops of a Tensor that end a chain: their promise, once the tensor is there. */
const ENDING = ['toFloat32Array', 'saveNpy', 'item', 'sort', 'max', 'min', 'topk', 'dispose'] as const;
type ChainOps = { [K in (typeof CHAINED)[number]]: (...args: Parameters<Tensor[K]>) => TensorChain } & {
  [K in (typeof ENDING)[number]]: (...args: Parameters<Tensor[K]>) => ReturnType<Tensor[K]>;
};

/**
 * A tensor being computed: a promise of it (`await` gives the Tensor) on which every op of Tensor can
 * be called, so that `v.mul(v).neg().add(1).sqrt()` needs one await. Each op is still one bridge call,
 * made as soon as the tensor before it is there; every tensor of the chain is registered in the
 * running `tidy` scope, as an awaited op's is.
 */
// The chain's ops are Tensor's, added to the prototype below: the interface gives them their types.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface TensorChain extends ChainOps {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class TensorChain implements PromiseLike<Tensor> {
  constructor(private readonly tensor: Promise<Tensor>) {}

  then<A = Tensor, B = never>(
    onFulfilled?: ((value: Tensor) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.tensor.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<Tensor | B> {
    return this.tensor.catch(onRejected);
  }
}
for (const op of CHAINED) {
  Object.defineProperty(TensorChain.prototype, op, {
    value(this: TensorChain, ...args: unknown[]) {
      return new TensorChain(this.then((t) => (t[op] as (...a: unknown[]) => TensorChain)(...args)));
    },
  });
}
for (const op of ENDING) {
  Object.defineProperty(TensorChain.prototype, op, {
    value(this: TensorChain, ...args: unknown[]) {
      return this.then((t) => (t[op] as (...a: unknown[]) => Promise<unknown>)(...args));
    },
  });
}

/** The tensors made inside the innermost running `tidy`, per async context. */
const tidyScopes = new AsyncLocalStorage<Set<Tensor>>();

/**
 * Objects that hold tensors (not in plain fields of a plain object) say which with this method,
 * so that `tidy` keeps them when such an object is returned.
 */
export const heldTensors = Symbol('id3.heldTensors');
interface HoldsTensors {
  [heldTensors](): Iterable<Tensor>;
}

/** The Tensors in a value: itself, inside arrays and plain objects, or an object's `heldTensors`. */
function tensorsIn(value: unknown, found = new Set<Tensor>(), seen = new Set<object>()): Set<Tensor> {
  if (value === null || typeof value !== 'object' || seen.has(value)) return found;
  seen.add(value);
  if (value instanceof Tensor) found.add(value);
  else if (heldTensors in value) for (const t of (value as HoldsTensors)[heldTensors]()) found.add(t);
  else if (Array.isArray(value)) for (const v of value) tensorsIn(v, found, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) tensorsIn(v, found, seen);
  return found;
}

/**
 * Run `fn`, then free (in one bridge call) every tensor made while it ran, except those in its
 * result: a Tensor, arrays and plain objects holding them, or objects that name theirs with
 * `heldTensors` (tf.tidy, for tensors that live in Python). A long loop written as tidy passes holds only what each pass returns; the kept
 * tensors belong to the enclosing tidy, if any. On an error everything made is freed.
 *
 *   const G = await tidy(async () => (await X.matmul(X.T())).softmax(1));   // the product is freed
 */
export async function tidy<T>(fn: () => Promise<T>): Promise<T> {
  const made = new Set<Tensor>();
  let result: T;
  try {
    result = await tidyScopes.run(made, fn);
  } catch (err) {
    await Tensor.disposeAll(made);
    throw err;
  }
  const outer = tidyScopes.getStore();
  for (const kept of tensorsIn(result)) {
    if (made.delete(kept)) outer?.add(kept);
  }
  await Tensor.disposeAll(made);
  return result;
}
