/**
 * What a finished stage made, recorded in its stage.json: every file's size, and the SHA-256 of
 * every file but images (the weights, tables and arrays later stages read; images are many and are
 * checked by size). A rerun compares sizes (a stat per file) before it reuses a stage; `--verify`
 * also recomputes the hashes. A stage whose outputs are missing or damaged is redone.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface StageOutputs {
  /** Relative path → size in bytes. */
  files: Record<string, number>;
  /** Relative path → SHA-256 (hex), for every file but images. */
  hashes: Record<string, string>;
}

/** Files that are the store's own bookkeeping, or temporaries of a writer, not outputs. */
const notAnOutput = (name: string) =>
  name === 'stage.json' || name.startsWith('.lock') || /\.tmp(-|$)/.test(name) || (name.startsWith('.') && name.endsWith('.tmp'));
const isImage = (name: string) => /\.(png|jpe?g)$/i.test(name);

function* walk(folder: string, prefix = ''): Generator<string> {
  for (const entry of readdirSync(path.join(folder, prefix), { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* walk(folder, relative);
    else if (entry.isFile() && !notAnOutput(entry.name)) yield relative;
  }
}

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

export function recordOutputs(folder: string): StageOutputs {
  const outputs: StageOutputs = { files: {}, hashes: {} };
  for (const relative of walk(folder)) {
    const file = path.join(folder, relative);
    outputs.files[relative] = statSync(file).size;
    if (!isImage(relative)) outputs.hashes[relative] = sha256Of(file);
  }
  return outputs;
}

/** A file of a finished stage that is not as it was made. */
export interface DamagedOutput {
  file: string;
  problem: string;
}

/** What is wrong with a finished stage's outputs (none: they are as recorded). `full`: recompute the hashes too. */
export function damagedOutputs(folder: string, outputs: StageOutputs, { full = false } = {}): DamagedOutput[] {
  const damaged: DamagedOutput[] = [];
  for (const [file, size] of Object.entries(outputs.files)) {
    let found: number;
    try {
      found = statSync(path.join(folder, file)).size;
    } catch {
      damaged.push({ file, problem: 'is missing' });
      continue;
    }
    if (found !== size) damaged.push({ file, problem: `has ${found} bytes, ${size} when made` });
    else if (full && outputs.hashes[file] && sha256Of(path.join(folder, file)) !== outputs.hashes[file]) {
      damaged.push({ file, problem: 'differs from what was made (SHA-256)' });
    }
  }
  return damaged;
}
