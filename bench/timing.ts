/** The JSON of bench/timing.py's `compare`, and how a bench row names it. */

/** One clock: ours ÷ the reference in alternating rounds. */
export interface Comparison {
  ratio: number; // the median of the rounds' ratios
  ratios: number[];
  ours: number; // seconds (a step, a run), the median over rounds
  reference: number;
}

export type Clocks = { wall: Comparison; cpu: Comparison };

/** "median of 10 rounds, each 0.88–1.23": how far a single round could have misled. */
export function roundsLabel(c: Comparison): string {
  return `median of ${c.ratios.length} rounds, each ${Math.min(...c.ratios).toFixed(2)}–${Math.max(...c.ratios).toFixed(2)}`;
}
