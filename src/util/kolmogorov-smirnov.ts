/**
 * The one-sample Kolmogorov–Smirnov test against a continuous distribution function F:
 *
 *   D_n = sup_x |F_n(x) − F(x)| = max_i max(i/n − F(x_(i)), F(x_(i)) − (i−1)/n)
 *
 * over the sorted sample x_(1) ≤ … ≤ x_(n). The p-value is the Kolmogorov distribution's tail,
 * Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} exp(−2 k² λ²), at λ = (√n + 0.12 + 0.11/√n) · D_n (Stephens'
 * small-sample correction, accurate to a few percent for n ≥ 5). The critical value at level α
 * is the D with Q(λ(D)) = α (asymptotically c(α)/√n, c(0.05) = 1.3581).
 */

export interface KsTest {
  n: number;
  /** D_n. */
  statistic: number;
  /** P(D ≥ statistic) when the sample does come from F. */
  pValue: number;
}

/** Q_KS(λ): the probability that √n·D exceeds λ, asymptotically. */
export function kolmogorovTail(lambda: number): number {
  if (lambda < 0.2) return 1; // the series converges slowly there, and the value is 1 to 1e-9
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-16) break;
  }
  return Math.min(1, Math.max(0, sum));
}

const stephens = (n: number) => Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n);

export function ksTest(sample: ArrayLike<number>, cdf: (x: number) => number): KsTest {
  const n = sample.length;
  if (n === 0) throw new Error('ksTest: an empty sample');
  const sorted = Float64Array.from(sample).sort();
  let statistic = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]!);
    statistic = Math.max(statistic, (i + 1) / n - f, f - i / n);
  }
  return { n, statistic, pValue: kolmogorovTail(stephens(n) * statistic) };
}

/** The KS test of a sample against U[low, high]. */
export function ksUniform(sample: ArrayLike<number>, low: number, high: number): KsTest {
  if (!(high > low)) throw new Error(`ksUniform: expected low < high, got [${low}, ${high}]`);
  return ksTest(sample, (x) => Math.min(1, Math.max(0, (x - low) / (high - low))));
}

/** The D_n above which the test rejects at level `alpha` (bisection on the tail). */
export function ksCriticalValue(n: number, alpha = 0.05): number {
  let [lo, hi] = [0, 1];
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (kolmogorovTail(stephens(n) * mid) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
