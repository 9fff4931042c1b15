/**
 * The layout of sparse N × M matrices with k stored entries in every row: "each anchor and its k
 * nearest", which the Tammes gradient and the exclusion zone use. Built once per neighbour
 * search. Products with a dense matrix go through embedding_bag (weighted sums of gathered rows),
 * 3–4× faster than torch's CSR @ dense on a CPU (measured at N = 10,000, k = 32, d = 512).
 */
import { heldTensors, Tensor, tidy, type TensorChain } from '../bridge/tensor.ts';

/** Where Pᵀ's entries come from: P's values in `order`, at columns `col`, row r's from `offsets[r]`. */
interface TransposeLayout {
  order: Tensor;
  offsets: Tensor;
  col: Tensor;
}

export class RowSparseLayout {
  private constructor(
    /** (N, k) int64: row i's columns, ascending (as CSR wants them: sorted and distinct). */
    readonly indices: Tensor,
    /** M. */
    readonly columns: number,
    /** Where each row's entries begin in `col` (N). */
    private readonly offsets: Tensor,
    private readonly col: Tensor,
    /** The layout's CSR matrix of ones, for `sampledMatmul`. */
    readonly pattern: Tensor,
    private readonly transpose: TransposeLayout | null,
  ) {}

  /**
   * The layout with row i's entries at columns `indices[i]` ((N, k) int64, distinct in each
   * row, any order). `transpose` also prepares `transposed` (for square layouts).
   */
  static async build(indices: Tensor, columns: number, { transpose = false } = {}): Promise<RowSparseLayout> {
    const [n, k] = indices.shape as [number, number];
    const { session, device } = indices;
    const parts = await tidy(async () => {
      const sorted = (await indices.sort(1)).values;
      const crow = await Tensor.arange(session, 0, n * k + 1, { step: k, device });
      const col = await sorted.reshape([-1]); // entry e = i·k + j sits at (i, col[e])
      const pattern = await Tensor.sparseCsr(crow, col, Tensor.ones(session, [n * k], { device }), [n, columns]);
      const offsets = await crow.slice(0, 0, n);
      if (!transpose) return { sorted, offsets, col, pattern, transposed: null };
      if (columns !== n) throw new Error(`a transposable row-sparse layout must be square, got ${n} × ${columns}`);
      // Pᵀ row by row = P's entries sorted by column; the stable sort keeps their rows ascending.
      const order = await col.argsort();
      const rows = await Tensor.arange(session, n, undefined, { device })
        .unsqueeze(1)
        .add(Tensor.zeros(session, [1, k], { dtype: 'int64', device }));
      const counts = await col.bincount(n); // entries per column = per row of Pᵀ
      const transposed = {
        order,
        offsets: await Tensor.cat([Tensor.zeros(session, [1], { dtype: 'int64', device }), counts.cumsum(0).slice(0, 0, n - 1)]),
        col: await rows.reshape([-1]).indexSelect(0, order),
      };
      return { sorted, offsets, col, pattern, transposed };
    });
    return new RowSparseLayout(parts.sorted, columns, parts.offsets, parts.col, parts.pattern, parts.transposed);
  }

  /** P @ X for the matrix P of this layout holding `values` (N·k, row by row as `indices`); X is (M, d). */
  times(values: Tensor, X: Tensor): TensorChain {
    return X.embeddingBag(this.col, this.offsets, values);
  }

  /** Pᵀ @ X (X is (N, d)), for a square layout built with `transpose` (call inside a `tidy`: the
   *  reordered values are a tensor of their own). */
  transposedTimes(values: Tensor, X: Tensor): TensorChain {
    const t = this.transpose;
    if (!t) throw new Error('this row-sparse layout was built without transpose');
    return X.embeddingBag(t.col, t.offsets, values.indexSelect(0, t.order));
  }

  [heldTensors](): Tensor[] {
    const t = this.transpose;
    return [this.indices, this.offsets, this.col, this.pattern, ...(t ? [t.order, t.offsets, t.col] : [])];
  }

  dispose(): Promise<void> {
    return Tensor.disposeAll(this[heldTensors]());
  }
}
