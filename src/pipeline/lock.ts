/**
 * Lock files that say which live process holds a folder. A lock is created whole or not at all
 * (written under a temporary name, then hard-linked to its name: the link fails if the name
 * exists), and names its holder by PID and the process's start time, so that a lock left by a
 * dead process, or by one whose PID the system has since given to another, is taken over.
 */
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface LockHolder {
  pid: number;
  /** The process's start time (clock ticks since boot, /proc/<pid>/stat field 22); null where unknown. */
  startTime: string | null;
  /** What it is doing, for the message that refuses a second process: e.g. the run's name. */
  owner: string;
}

/** A folder another live process holds. */
export class LockedError extends Error {
  override name = 'LockedError';
}

/** The locks this process holds now (its own lock refuses it too: two runs of one notebook at once). */
const held = new Set<string>();

/** When `pid` started, as the kernel counts it; null off Linux or when the process is gone. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process a lock names still runs: the same PID and, where both are known, the same start. */
function holderAlive(holder: LockHolder): boolean {
  if (!pidAlive(holder.pid)) return false;
  const started = processStartTime(holder.pid);
  return holder.startTime === null || started === null || started === holder.startTime;
}

function readLock(file: string): LockHolder | null {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder> & { run?: string };
    if (typeof record.pid !== 'number') return null;
    return { pid: record.pid, startTime: record.startTime ?? null, owner: record.owner ?? record.run ?? '?' };
  } catch {
    return null; // absent or unreadable: nobody holds it
  }
}

/** The live process, this one included, that holds `file`; null when none does. */
export function lockHolder(file: string): LockHolder | null {
  const holder = readLock(file);
  if (!holder) return null;
  return (holder.pid === process.pid ? held.has(path.resolve(file)) : holderAlive(holder)) ? holder : null;
}

/**
 * Take `file` for this process, or throw LockedError(`refusal(holder)`) when a live process holds it.
 * A lock of a dead process (or of a PID now another process's) is taken over and `onTakeover`
 * told. Returns the release, which removes the lock only while it is still this process's.
 */
export function acquireLock(
  file: string,
  owner: string,
  refusal: (holder: LockHolder) => string,
  onTakeover: (holder: LockHolder) => void = () => {},
): () => void {
  const mine: LockHolder = { pid: process.pid, startTime: processStartTime(process.pid), owner };
  const release = () => {
    const holder = readLock(file);
    if (holder?.pid === process.pid && holder.startTime === mine.startTime) rmSync(file, { force: true });
    held.delete(path.resolve(file));
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const temporary = `${file}.tmp-${process.pid}`;
    writeFileSync(temporary, JSON.stringify(mine));
    try {
      linkSync(temporary, file); // atomic: fails when the name exists
      held.add(path.resolve(file));
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(temporary, { force: true });
    }
    const holder = lockHolder(file);
    if (holder) throw new LockedError(refusal(holder));
    const stale = readLock(file);
    if (stale) onTakeover(stale);
    rmSync(file, { force: true }); // a dead holder's, or a lock cut short: take it over
  }
  throw new LockedError(`could not take the lock ${file}: other processes keep taking it`);
}
