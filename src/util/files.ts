/** Files that are whole or absent: written to a temporary name, then renamed into place. */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

let counter = 0;

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}-${counter++}`;
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, file);
  } catch (err) {
    rmSync(temporary, { force: true }); // a failed write (disk full) leaves nothing behind
    throw namingFile(err, file);
  }
}

/** A file-system error that names no file (ENOSPC from a write names none), made to name `file`. */
export function namingFile(err: unknown, file: string): unknown {
  const error = err as NodeJS.ErrnoException;
  if (error instanceof Error && error.code && !error.message.includes(file)) {
    error.message = `${file}: ${error.message}`;
    error.path ??= file;
  }
  return err;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** A file written in pieces under a temporary name, renamed into place by `commit`. */
export interface AtomicFileWriter {
  write(text: string): void;
  commit(): void;
  /** Remove the temporary file (after a failure); does nothing once committed. */
  abort(): void;
}

export function createAtomicWriter(file: string): AtomicFileWriter {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}-${counter++}`;
  const fd = openSync(temporary, 'w');
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return {
    write: (text) => {
      const bytes = Buffer.from(text, 'utf8');
      try {
        for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
      } catch (err) {
        throw namingFile(err, file);
      }
    },
    commit: () => {
      close();
      renameSync(temporary, file);
    },
    abort: () => {
      if (!open) return;
      close();
      rmSync(temporary, { force: true });
    },
  };
}
