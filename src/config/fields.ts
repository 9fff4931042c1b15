/** Field builders whose error messages read as "expected ...": the loader appends "got ...". */
import { z } from 'zod';

export const positiveInt = () => {
  const error = 'expected a positive integer';
  return z.number({ error }).int({ error }).positive({ error });
};

export const nonNegativeInt = () => {
  const error = 'expected an integer ≥ 0';
  return z.number({ error }).int({ error }).nonnegative({ error });
};

export const intInRange = (min: number, max: number) => {
  const error = `expected an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

export const numberInRange = (min: number, max: number) => {
  const error = `expected a number from ${min} to ${max}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
};

/** A closed interval [lo, hi] inside [min, max]. */
export const interval = (min: number, max: number) =>
  z
    .tuple([numberInRange(min, max), numberInRange(min, max)], { error: `expected [low, high] within [${min}, ${max}]` })
    .refine(([lo, hi]) => lo <= hi, { error: 'expected [low, high] with low ≤ high' });
