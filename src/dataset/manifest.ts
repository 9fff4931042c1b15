/**
 * Manifests: one CSV row per image, the bookkeeping every later stage reads. Written by
 * TypeScript (csv-stringify) from the rows the Python side reports, atomically.
 */
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../util/files.ts';

export type Split = 'train' | 'val' | 'test';

/** The attributes s of an image, in the order every table and tensor holds them (python/id3_torch/data/attributes.py). */
export const ATTRIBUTE_NAMES = ['age', 'yaw', 'pitch', 'roll'] as const;

/** One image of the parametric face set: where it is, whose it is, and its true attributes. */
export interface ParametricManifestRow {
  /** Relative to the manifest's folder: `images/<identity>/<image>.png`. */
  path: string;
  identity: number;
  image: number;
  split: Split;
  age: number;
  yaw: number;
  pitch: number;
  roll: number;
}

export const PARAMETRIC_COLUMNS = ['path', 'identity', 'image', 'split', ...ATTRIBUTE_NAMES] as const;

export function writeManifest<Row extends object>(file: string, columns: readonly (keyof Row & string)[], rows: readonly Row[]): void {
  writeFileAtomic(file, stringify(rows as unknown as Record<string, unknown>[], { header: true, columns: [...columns] }));
}
