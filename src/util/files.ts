/** Files that are whole or absent: written to a temporary name, then renamed into place. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

let counter = 0;

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}-${counter++}`;
  writeFileSync(temporary, data);
  renameSync(temporary, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
