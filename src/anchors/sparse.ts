/**
 * The layout of sparse N × M matrices with k stored entries in every row: "each anchor and its k
 * nearest", which the Tammes gradient and the exclusion zone use. Built once per neighbour
 * search; each matrix of that layout is then one bridge call.
 */
import { heldTensors, Tensor, tidy } from '../bridge/tensor.ts';

/** Where Pᵀ's entries come from: P's values in `order`, at CSR rows `crow` and columns `col`. */
interface TransposeLayout {
  order: Tensor;
  crow: Tensor;
  col: Tensor;
}

export class RowSparseLayout {
  private constructor(
    /** (N, k) int64: row i's columns, ascending (as CSR wants them: sorted and distinct). */
    readonly indices: Tensor,
    /** M. */
    readonly columns: number,
    private readonly crow: Tensor,
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
      if (!transpose) return { sorted, crow, col, pattern, transposed: null };
      if (columns !== n) throw new Error(`a transposable row-sparse layout must be square, got ${n} × ${columns}`);
      // Pᵀ row by row = P's entries sorted by column; the stable sort keeps their rows ascending.
      const order = await col.argsort();
      const rows = await (await (await Tensor.arange(session, n, undefined, { device })).unsqueeze(1)).add(Tensor.zeros(session, [1, k], { dtype: 'int64', device }));
      const transposed = {
        order,
        crow: await Tensor.cat([Tensor.zeros(session, [1], { dtype: 'int64', device }), (await col.bincount(n)).cumsum(0)]),
        col: await (await rows.reshape([-1])).indexSelect(0, order),
      };
      return { sorted, crow, col, pattern, transposed };
    });
    return new RowSparseLayout(parts.sorted, columns, parts.crow, parts.col, parts.pattern, parts.transposed);
  }

  /** The CSR matrix of this layout holding `values` (N·k, row by row as `indices`). */
  matrix(values: Tensor): Promise<Tensor> {
    return Tensor.sparseCsr(this.crow, this.col, values, [this.indices.shape[0]!, this.columns]);
  }

  /** The transpose of `matrix(values)`, as a CSR matrix (its reordered values are a tensor of
   *  their own: call this inside a `tidy`). */
  transposed(values: Tensor): Promise<Tensor> {
    const t = this.transpose;
    if (!t) throw new Error('this row-sparse layout was built without transpose');
    return Tensor.sparseCsr(t.crow, t.col, values.indexSelect(0, t.order), [this.columns, this.indices.shape[0]!]);
  }

  [heldTensors](): Tensor[] {
    const t = this.transpose;
    return [this.indices, this.crow, this.col, this.pattern, ...(t ? [t.order, t.crow, t.col] : [])];
  }

  dispose(): Promise<void> {
    return Tensor.disposeAll(this[heldTensors]());
  }
}
