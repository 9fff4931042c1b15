import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PythonError } from '../../src/bridge/errors.ts';
import { PythonSession } from '../../src/bridge/session.ts';
import { NpyRowWriter } from '../../src/bridge/npy.ts';
import { Tensor, TensorDisposedError, tidy, type TensorLike } from '../../src/bridge/tensor.ts';
import { transferDir, transferPrefix } from '../../src/bridge/transfer.ts';

let s: PythonSession;
let cuda = false;

beforeAll(async () => {
  s = await PythonSession.start();
  cuda = (await s.call<{ cudaAvailable: boolean }>('system.info')).cudaAvailable;
});
afterAll(() => s?.close());

/** A seeded stream of floats in [-1, 1), so that data is random yet reproducible. */
function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

const values = async (t: TensorLike) => Array.from(await (await t).toFloat32Array());
const leftovers = () => readdirSync(transferDir()).filter((name) => name.startsWith(transferPrefix));

describe('creation and metadata', () => {
  it('makes tensors of the asked shape, dtype and device', async () => {
    const z = await Tensor.zeros(s, [2, 3]);
    expect([z.shape, z.dtype, z.device]).toEqual([[2, 3], 'float32', 'cpu']);
    expect(await values(z)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await values(Tensor.ones(s, [2], { dtype: 'float64' }))).toEqual([1, 1]);
    expect(await values(Tensor.full(s, [3], 2.5))).toEqual([2.5, 2.5, 2.5]);
    expect((await Tensor.full(s, [3], 2)).dtype).toBe('float32');
    expect(await values(Tensor.eye(s, 2))).toEqual([1, 0, 0, 1]);
    const r = await Tensor.arange(s, 2, 8, { step: 2 });
    expect([r.dtype, await values(r.cast('float32'))]).toEqual(['int64', [2, 4, 6]]);
    expect((await Tensor.arange(s, 4)).shape).toEqual([4]);
    const ints = await Tensor.randint(s, 0, 5, [1000], { seed: 3 });
    expect(ints.dtype).toBe('int64');
    expect((await values(ints.cast('float32'))).every((v) => Number.isInteger(v) && v >= 0 && v < 5)).toBe(true);
    const u = await values(Tensor.rand(s, [1000], { seed: 3 }));
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it('gives equal data for equal seeds, and different data for different seeds', async () => {
    const a = await values(Tensor.randn(s, [50, 4], { seed: 1 }));
    const b = await values(Tensor.randn(s, [50, 4], { seed: 1 }));
    const c = await values(Tensor.randn(s, [50, 4], { seed: 2 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('builds small tensors from nested arrays', async () => {
    const m = await Tensor.fromArray(s, [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(m.shape).toEqual([2, 3]);
    expect(await values(m)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await Tensor.fromArray(s, [0, 2], { dtype: 'int64' })).dtype).toBe('int64');
    await expect(Tensor.fromArray(s, [[1, 2], [3]])).rejects.toThrow(/ragged/);
  });

  it('rejects unknown dtypes and devices', async () => {
    await expect(Tensor.zeros(s, [2], { dtype: 'complex64' as never })).rejects.toThrow(/ValueError: unknown dtype 'complex64'/);
    await expect(Tensor.zeros(s, [2], { device: 'tpu' })).rejects.toThrow(/ValueError: unknown device 'tpu'/);
    if (!cuda) await expect(Tensor.zeros(s, [2], { device: 'cuda:0' })).rejects.toThrow(/not available/);
  });
});

describe('ops against values computed in JS', () => {
  it('matmul agrees with a triple loop, through T() and promise operands', async () => {
    const [n, k, m] = [5, 7, 3];
    const a = randomFloats(n * k, 1);
    const b = randomFloats(m * k, 2); // stored as m×k, used transposed
    const A = await Tensor.fromFloat32Array(s, a, [n, k]);
    const B = await Tensor.fromFloat32Array(s, b, [m, k]);
    const C = await A.matmul(B.T());
    expect(C.shape).toEqual([n, m]);
    const got = await C.toFloat32Array();
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let sum = 0;
        for (let l = 0; l < k; l++) sum += a[i * k + l]! * b[j * k + l]!;
        expect(got[i * m + j]).toBeCloseTo(sum, 5);
      }
    }
    expect(await values(B.transpose(0, 1))).toEqual(await values(B.T()));
    expect((await A.reshape([k, -1])).shape).toEqual([k, n]);
  });

  it('normalize gives unit rows; norm and sum agree with JS', async () => {
    const data = randomFloats(40 * 6, 3);
    const X = await Tensor.fromFloat32Array(s, data, [40, 6]);
    const U = await X.normalize(1);
    const rows = await U.toFloat32Array();
    for (let i = 0; i < 40; i++) {
      let sq = 0;
      for (let j = 0; j < 6; j++) sq += rows[i * 6 + j]! ** 2;
      expect(Math.sqrt(sq)).toBeCloseTo(1, 5);
    }
    const norms = await values(X.norm(1));
    expect(norms[0]).toBeCloseTo(Math.hypot(...data.slice(0, 6)), 5);
    expect(await (await U.norm(1)).amin().then((t) => t.item())).toBeCloseTo(1, 5);
    expect(await (await X.sum()).item()).toBeCloseTo(
      data.reduce((a, b) => a + b, 0),
      3,
    );
    expect(await values(Tensor.zeros(s, [1, 3]).then((z) => z.normalize()))).toEqual([0, 0, 0]); // eps-safe
  });

  it('topk, max and min agree with a JS sort', async () => {
    const data = randomFloats(30, 4);
    const X = await Tensor.fromFloat32Array(s, data);
    const sorted = [...data.keys()].sort((i, j) => data[j]! - data[i]!);
    const { values: top, indices } = await X.topk(5);
    expect(await values(top)).toEqual(sorted.slice(0, 5).map((i) => data[i]));
    expect(await values(indices.cast('float32'))).toEqual(sorted.slice(0, 5));
    const low = await X.topk(2, 0, false);
    expect(await values(low.indices.cast('float32'))).toEqual(sorted.slice(-2).reverse());

    const M = await X.reshape([5, 6]);
    const max = await M.max(1);
    const min = await M.min(0);
    for (let i = 0; i < 5; i++) {
      const row = Array.from(data.slice(i * 6, i * 6 + 6));
      expect((await values(max.values))[i]).toBe(Math.max(...row));
      expect((await values(max.indices.cast('float32')))[i]).toBe(row.indexOf(Math.max(...row)));
    }
    expect(min.values.shape).toEqual([6]);
    expect(await (await M.amax()).item()).toBe(Math.max(...data));
  });

  it('does elementwise arithmetic with tensors, scalars and broadcasting', async () => {
    const x = [0.25, -0.5, 0.75, 1];
    const X = await Tensor.fromArray(s, x);
    const close = async (t: TensorLike, expected: number[]) => (await values(t)).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    await close(
      X.add(X),
      x.map((v) => 2 * v),
    );
    await close(
      X.sub(1),
      x.map((v) => v - 1),
    );
    await close(
      X.mul(X.neg()),
      x.map((v) => -v * v),
    );
    await close(
      X.div(4),
      x.map((v) => v / 4),
    );
    await close(
      X.pow(3),
      x.map((v) => v ** 3),
    );
    await close(
      X.abs().then((a) => a.sqrt()),
      x.map((v) => Math.sqrt(Math.abs(v))),
    );
    await close(
      X.exp().then((e) => e.log()),
      x,
    );
    await close(
      X.clamp({ min: 0, max: 0.5 }),
      x.map((v) => Math.min(Math.max(v, 0), 0.5)),
    );
    await close(X.acos(), x.map(Math.acos));
    await close(X.mean(), [x.reduce((a, b) => a + b) / 4]);
    const rows = await Tensor.fromArray(s, [
      [1, 2],
      [3, 4],
    ]);
    await close(rows.add(Tensor.fromArray(s, [10, 20])), [11, 22, 13, 24]);
    await close(rows.sum(0), [4, 6]);
    await close(rows.where(rows.gt(2), 0), [0, 0, 3, 4]);
  });

  it('slices and selects by index', async () => {
    const M = await Tensor.arange(s, 12).then((t) => t.reshape([3, 4]));
    expect(await values((await M.slice(0, 1, 3)).cast('float32'))).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await values((await M.slice(1, -2)).cast('float32'))).toEqual([2, 3, 6, 7, 10, 11]);
    const picked = await M.indexSelect(0, Tensor.fromArray(s, [2, 0], { dtype: 'int64' }));
    expect(await values(picked.cast('float32'))).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    const gathered = await M.gather(1, Tensor.fromArray(s, [[3], [0], [1]], { dtype: 'int64' }));
    expect(await values(gathered.cast('float32'))).toEqual([3, 4, 9]);
  });

  it('moves between devices', async (ctx) => {
    if (!cuda) ctx.skip();
    const X = await Tensor.randn(s, [64, 8], { seed: 5, device: 'cuda' });
    expect(X.device).toBe('cuda:0');
    const back = await X.normalize(1).then((u) => u.to('cpu'));
    expect(back.device).toBe('cpu');
    expect(await values(X.to('cpu').then((c) => c.normalize(1)))).toEqual(await values(back));
  });
});

describe('ops for the anchor solver against values computed in JS', () => {
  const close = (got: number[], expected: number[], digits = 5) => {
    expect(got.length).toBe(expected.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, digits));
  };

  it('softmax and logsumexp along a dimension, stable for large inputs', async () => {
    const rows = [
      [1, 2, 3],
      [1000, 1001, 999],
    ];
    const X = await Tensor.fromArray(s, rows);
    const expected = rows.flatMap((r) => {
      const m = Math.max(...r);
      const z = r.reduce((a, v) => a + Math.exp(v - m), 0);
      return r.map((v) => Math.exp(v - m) / z);
    });
    close(await values(X.softmax(1)), expected);
    const lse = rows.map((r) => Math.max(...r) + Math.log(r.reduce((a, v) => a + Math.exp(v - Math.max(...r)), 0)));
    close(await values(X.logsumexp(1)), lse, 3);
    expect((await X.logsumexp(1, true)).shape).toEqual([2, 1]);
  });

  it('unsqueeze, squeeze and cat', async () => {
    const a = await Tensor.fromArray(s, [
      [1, 2],
      [3, 4],
    ]);
    expect((await a.unsqueeze(1)).shape).toEqual([2, 1, 2]);
    expect((await a.unsqueeze(1).then((t) => t.squeeze(1))).shape).toEqual([2, 2]);
    const b = await Tensor.fromArray(s, [[5, 6]]);
    expect(await values(Tensor.cat([a, b, Promise.resolve(a)]))).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3, 4]);
    expect(await values(Tensor.cat([a, a], 1))).toEqual([1, 2, 1, 2, 3, 4, 3, 4]);
    await expect(Tensor.cat([])).rejects.toThrow(/no tensors/);
  });

  it('indexAdd sums repeated indices into a copy and leaves the input alone', async () => {
    const base = await Tensor.fromArray(s, [
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const index = await Tensor.fromArray(s, [2, 0, 2, 2], { dtype: 'int64' });
    const source = await Tensor.fromArray(s, [
      [1, 10],
      [2, 20],
      [3, 30],
      [4, 40],
    ]);
    expect(await values(base.indexAdd(0, index, source))).toEqual([3, 21, 2, 2, 11, 83]);
    expect(await values(base)).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('argsort (stable), bincount and cumsum', async () => {
    const data = [3, 1, 2, 1, 3, 0, 1];
    const X = await Tensor.fromArray(s, data, { dtype: 'int64' });
    const order = [...data.keys()].sort((i, j) => data[i]! - data[j]! || i - j); // JS's sort is stable too
    expect(await values((await X.argsort()).cast('float32'))).toEqual(order);
    expect(await values((await X.bincount(6)).cast('float32'))).toEqual([1, 3, 1, 2, 0, 0]);
    expect(await values((await X.cumsum(0)).cast('float32'))).toEqual([3, 4, 6, 7, 10, 10, 11]);
  });

  it('a sparse CSR pattern samples a product at its entries; CSR @ dense matches the dense product', async () => {
    const [n, d] = [4, 3];
    const a = randomFloats(n * d, 7);
    const A = await Tensor.fromFloat32Array(s, a, [n, d]);
    // rows 0: cols {1, 3}; 1: {0}; 2: {}; 3: {0, 2}
    const cols = [1, 3, 0, 0, 2];
    const crow = [0, 2, 3, 3, 5];
    const weights = [0.5, -1, 2, 0.25, 4];
    const long = (xs: number[]) => Tensor.fromArray(s, xs, { dtype: 'int64' });
    const pattern = await Tensor.sparseCsr(long(crow), long(cols), Tensor.ones(s, [5]), [n, n]);
    expect([pattern.layout, pattern.shape]).toEqual(['sparse_csr', [n, n]]);
    const dot = (i: number, j: number) => [0, 1, 2].reduce((sum, l) => sum + a[i * d + l]! * a[j * d + l]!, 0);
    const rowOf = [0, 0, 1, 3, 3];
    const sampled = await pattern.sampledMatmul(A, A.T());
    close(
      await values(sampled.values()),
      cols.map((j, e) => dot(rowOf[e]!, j)),
    );
    const P = await Tensor.sparseCsr(long(crow), long(cols), Tensor.fromArray(s, weights), [n, n]);
    const expected: number[] = new Array(n * d).fill(0);
    cols.forEach((j, e) => {
      for (let l = 0; l < d; l++) expected[rowOf[e]! * d + l]! += weights[e]! * a[j * d + l]!;
    });
    close(await values(P.matmul(A)), expected);
    // the same product as bags of weighted rows (row 2's bag is empty: zeros)
    close(await values(A.embeddingBag(long(cols), long(crow.slice(0, n)), Tensor.fromArray(s, weights))), expected);
    await expect(Tensor.sparseCsr(long(crow), long([1, 3, 0, 9, 2]), Tensor.ones(s, [5]), [n, n])).rejects.toThrow(/col_indices < ncols/);
    await expect(A.sampledMatmul(A, A.T())).rejects.toThrow(/must be a sparse CSR tensor/);
    expect(await s.call('system.ping')).toBeDefined(); // Python is still there
  });
});

describe('.npy files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'id3-npy-'));

  it('round-trip bit for bit in their dtype, as real .npy files', async () => {
    const data = randomFloats(60, 8);
    const X = await Tensor.fromFloat32Array(s, data, [20, 3]);
    const file = path.join(dir, 'x.npy');
    await X.saveNpy(file);
    const bytes = readFileSync(file);
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    expect(bytes.toString('latin1')).toMatch(/'descr': '<f4', 'fortran_order': False, 'shape': \(20, 3\)/);
    const back = await Tensor.loadNpy(s, file);
    expect([back.shape, back.dtype]).toEqual([[20, 3], 'float32']);
    expect(Buffer.from((await back.toFloat32Array()).buffer).equals(Buffer.from(data.buffer))).toBe(true);
    const ints = await Tensor.arange(s, 5);
    await ints.saveNpy(path.join(dir, 'i.npy'));
    const intsBack = await Tensor.loadNpy(s, path.join(dir, 'i.npy'));
    expect(intsBack.dtype).toBe('int64');
    expect(await values(intsBack.cast('float32'))).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuse what is not an array of numbers, naming the file', async () => {
    await expect(Tensor.loadNpy(s, path.join(dir, 'absent.npy'))).rejects.toThrow(/absent\.npy: no such file/);
    const junk = path.join(dir, 'junk.npy');
    writeFileSync(junk, 'not a numpy file');
    await expect(Tensor.loadNpy(s, junk)).rejects.toThrow(/junk\.npy: not a \.npy array of numbers/);
    const pattern = await Tensor.sparseCsr(
      Tensor.fromArray(s, [0, 0], { dtype: 'int64' }),
      Tensor.zeros(s, [0], { dtype: 'int64' }),
      Tensor.zeros(s, [0]),
      [1, 1],
    );
    await expect(pattern.saveNpy(path.join(dir, 'sparse.npy'))).rejects.toThrow(/only dense tensors/);
    expect(existsSync(path.join(dir, 'sparse.npy'))).toBe(false);
  });

  it('are written in row blocks under a temporary name, renamed when committed', async () => {
    const file = path.join(dir, 'rows.npy');
    const writer = await NpyRowWriter.create(s, file, [5, 2]);
    await writer.write(
      3,
      await Tensor.fromArray(s, [
        [6, 7],
        [8, 9],
      ]),
    );
    await writer.write(
      0,
      await Tensor.fromArray(s, [
        [0, 1],
        [2, 3],
        [4, 5],
      ]),
    );
    await expect(
      writer.write(
        4,
        await Tensor.fromArray(s, [
          [1, 1],
          [1, 1],
        ]),
      ),
    ).rejects.toThrow(/do not fit the array/);
    expect(existsSync(file)).toBe(false);
    const stranger = path.join(dir, 'stranger.txt');
    writeFileSync(stranger, 'not ours');
    await expect(s.call('tensor.npy_commit', { temporary: stranger, path: file })).rejects.toThrow(
      /is not a temporary \.npy file begun by npy_create/,
    );
    await expect(s.call('tensor.npy_abort', { temporary: stranger })).rejects.toThrow(/is not a temporary/);
    expect(existsSync(stranger)).toBe(true);
    await writer.commit();
    expect(await values(Tensor.loadNpy(s, file))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const aborted = await NpyRowWriter.create(s, path.join(dir, 'aborted.npy'), [2, 2]);
    await aborted.abort();
    expect(readdirSync(dir).filter((name) => name.includes('aborted'))).toEqual([]);
  });
});

describe('bulk transfer', () => {
  it('round-trips 1e6 float32 values bit for bit and leaves no files', async () => {
    const data = randomFloats(1_000_000, 6);
    data.set([NaN, -0, Infinity, -Infinity, 1e-45, 3.4e38], 0);
    const back = await (await Tensor.fromFloat32Array(s, data, [1000, 1000])).toFloat32Array();
    expect(Buffer.from(back.buffer).equals(Buffer.from(data.buffer))).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('cleans up when a transfer fails', async () => {
    await expect(Tensor.fromFloat32Array(s, new Float32Array(5), [2, 3])).rejects.toThrow(/invalid for input of size 5/);
    await expect((await Tensor.arange(s, 3)).toFloat32Array()).rejects.toThrow(/cast it to float32 first/);
    expect(leftovers()).toEqual([]);
  });
});

describe('errors and lifetime', () => {
  it("rejects a shape mismatch with a PythonError carrying torch's words", async () => {
    const a = await Tensor.ones(s, [2, 3]);
    const err = await a.matmul(Tensor.ones(s, [2, 3])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonError);
    expect((err as PythonError).message).toMatch(/RuntimeError: .*cannot be multiplied \(2x3 and 2x3\)/);
    await expect(a.add(Tensor.ones(s, [4]))).rejects.toThrow(/must match the size/);
  });

  it('frees on dispose, and a disposed tensor throws naming the op', async () => {
    const t = await Tensor.ones(s, [3]);
    const spy = vi.spyOn(s, 'call');
    await t.dispose();
    await t.dispose();
    const frees = spy.mock.calls.filter(([op]) => op === 'tensor.free').map(([, args]) => (args as { ids: number[] }).ids);
    spy.mockRestore();
    expect(frees.filter((ids) => ids.includes(t.id))).toEqual([[t.id]]); // once, though disposed twice
    await expect(s.call('tensor.op', { op: 'sum', args: [{ $tensor: t.id }] })).rejects.toThrow(/no tensor with id/);
    await expect(t.matmul(t)).rejects.toThrow(TensorDisposedError);
    await expect(t.sum()).rejects.toThrow('tensor #' + t.id + ' was disposed; it cannot be used in sum');
    await expect((await Tensor.ones(s, [3])).add(t)).rejects.toThrow(/cannot be used in add/);
    await expect(t.toFloat32Array()).rejects.toThrow(/toFloat32Array/);
  });

  it('tidy frees what its function made but did not return, in one call; nested tidies hand kept tensors out', async () => {
    const outside = await Tensor.ones(s, [4]);
    const spy = vi.spyOn(s, 'call');
    const made: Tensor[] = [];
    const result = await tidy(async () => {
      const a = await outside.add(1);
      const inner = await tidy(async () => {
        const b = await a.mul(2);
        made.push(b);
        return { kept: await b.add(1), list: [await b.sub(1)] };
      });
      made.push(a, inner.kept);
      return inner.list[0]!;
    });
    // The garbage collector may free earlier tests' tensors in a batch of its own meanwhile: leave those calls out.
    const madeIds = new Set(made.map((t) => t.id));
    const frees = spy.mock.calls
      .filter(([op]) => op === 'tensor.free')
      .map(([, args]) => (args as { ids: number[] }).ids)
      .filter((ids) => ids.some((id) => madeIds.has(id)));
    spy.mockRestore();
    expect(frees).toEqual([[made[0]!.id], [made[1]!.id, made[2]!.id]]); // inner: b; outer: a and inner.kept
    expect(await values(result)).toEqual([3, 3, 3, 3]);
    expect(await values(outside)).toEqual([1, 1, 1, 1]); // made before: not the tidy's
    await expect(s.call('tensor.op', { op: 'sum', args: [{ $tensor: made[0]!.id }] })).rejects.toThrow(/no tensor with id/);
    await expect(made[1]!.sum()).rejects.toThrow(TensorDisposedError);
    const failed: Tensor[] = [];
    await expect(
      tidy(async () => {
        failed.push(await outside.add(1));
        throw new Error('midway');
      }),
    ).rejects.toThrow('midway');
    await expect(failed[0]!.sum()).rejects.toThrow(TensorDisposedError);
  });

  it('chains ops with one await, each op one bridge call, and tidy frees every tensor of the chain', async () => {
    const v = await Tensor.fromArray(s, [0.6, 0.8, 0]);
    const spy = vi.spyOn(s, 'call');
    const result = await tidy(async () => v.mul(v).neg().add(1).sqrt()); // sqrt(1 − v²)
    const calls = spy.mock.calls.map(([op]) => op);
    // Ids only grow: a batch of the garbage collector's, freeing earlier tests' tensors, holds none above v's.
    const frees = spy.mock.calls
      .filter(([op]) => op === 'tensor.free')
      .map(([, args]) => (args as { ids: number[] }).ids)
      .filter((ids) => ids.some((id) => id > v.id));
    spy.mockRestore();
    expect(calls.filter((op) => op === 'tensor.op')).toHaveLength(4);
    expect(frees).toHaveLength(1);
    expect(frees[0]).toHaveLength(3); // v², −v², 1 − v²: made inside, not returned
    expect(frees[0]).not.toContain(result.id);
    (await values(result)).forEach((x, i) => expect(x).toBeCloseTo([0.8, 0.6, 1][i]!, 6));
    // A chain is an operand like a tensor, ends in a value, and rejects at the op that fails.
    expect(await v.mul(2).sub(v.mul(1)).sum().item()).toBeCloseTo(1.4, 6);
    await expect(v.reshape([2, 2]).add(1).sum()).rejects.toThrow(/shape '\[2, 2\]' is invalid/);
  });

  it('frees forgotten tensors in one batched call', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const live = () => s.call<number>('tensor.live');
    const spy = vi.spyOn(s, 'call');
    const before = await live();
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push((await Tensor.zeros(s, [2])).id); // the tensors are dropped at once
    const freed = () => new Set(spy.mock.calls.flatMap(([op, args]) => (op === 'tensor.free' ? (args as { ids: number[] }).ids : [])));
    for (let i = 0; i < 50 && !ids.every((id) => freed().has(id)); i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(ids.filter((id) => !freed().has(id))).toEqual([]);
    expect(spy.mock.calls.filter(([op]) => op === 'tensor.free').length).toBeLessThan(5);
    expect(await live()).toBeLessThanOrEqual(before);
    spy.mockRestore();
  });
});
