/** trainFr.loader and trainFr.augment: what they accept, and which of them enter train-fr's cache key. */
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/config/load.ts';
import { recipeSlice } from '../../src/pipeline/stages/train-fr.ts';
import { canonicalJson } from '../../src/util/hash.ts';

const recipe = (trainFr: object) => resolveConfig({ dataset: { kind: 'parametric' }, trainFr }, 'x.ts').trainFr!;
const key = (trainFr: object) => canonicalJson(recipeSlice(recipe(trainFr)));

describe('trainFr.loader and trainFr.augment', () => {
  it('how images are decoded stays out of the cache key; what is sampled, skipped and augmented goes in', () => {
    const base = key({});
    expect(key({ loader: { mode: 'stream', workers: 8, memoryGiB: 64 } })).toBe(base); // both feeds give the same batches
    expect(key({ loader: { sampling: 'balanced' } })).not.toBe(base);
    expect(key({ loader: { onCorrupt: 'skip' } })).not.toBe(base);
    expect(key({ augment: { crop: 0.2 } })).not.toBe(base);
  });

  it('names the field and what it expected', () => {
    let problems: string[] = [];
    try {
      recipe({ loader: { workers: -1, sampling: 'pk' }, augment: { photometric: 2, cropScale: [0.9, 0.5] } });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'trainFr.augment.cropScale: expected [low, high] with low ≤ high',
      'trainFr.augment.photometric: expected a number from 0 to 1, got 2',
      'trainFr.loader.workers: expected an integer from 0 to 64, got -1',
      'trainFr.loader.sampling: expected one of "uniform"|"balanced", got "pk"',
    ]);
  });
});
