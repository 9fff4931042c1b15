/**
 * The stage store: every stage's outputs live in `<runsDir>/.stages/<stage>/<key>/`, and a run's
 * `<runsDir>/<name>/<stage>` is a link to the folder of the key it uses. Runs whose stages have the
 * same key (the variants of a sweep, a config changed back) share one folder, so a stage is made
 * once. A folder no run links to any more is deleted when a run moves off it.
 *
 * While a stage runs, its folder holds `.lock` (pipeline/lock.ts): a second process that would
 * work in the same folder is refused instead of interleaving its writes with the first one's, and
 * a folder whose lock a live process holds is never deleted.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { acquireLock, lockHolder } from './lock.ts';
import type { StageName } from './stage.ts';

const LOCK = '.lock';

/** Characters of the key that name its folder: 80 bits, no collision in any one store. */
const KEY_CHARS = 20;

export function storeRoot(runsDir: string): string {
  return path.join(path.resolve(runsDir), '.stages');
}

/** The folder that holds a stage's outputs for a key. */
export function stageFolder(runsDir: string, stage: StageName, key: string): string {
  return path.join(storeRoot(runsDir), stage, key.slice(0, KEY_CHARS));
}

/** Where a link points, resolved; null when `link` is not a link. */
function linkTarget(link: string): string | null {
  try {
    if (!lstatSync(link).isSymbolicLink()) return null;
    return path.resolve(path.dirname(link), readlinkSync(link));
  } catch {
    return null;
  }
}

/** Folders of the store that some run of `runsDir` links to as its `stage`. */
function linkedFolders(runsDir: string, stage: StageName): Set<string> {
  const root = path.resolve(runsDir);
  const linked = new Set<string>();
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const target = linkTarget(path.join(root, entry.name, stage));
    if (target) linked.add(target);
  }
  return linked;
}

/**
 * Point `runDir/<stage>` at `folder` (creating the folder). A real folder left there by a version
 * of id3 before the store, or by hand, is moved into the store when it holds this key, and
 * removed otherwise. A store folder the link pointed to before is deleted if no run links to it
 * and no live process holds its lock.
 */
export function linkStage(runsDir: string, runDir: string, stage: StageName, folder: string, key: string): void {
  const link = path.join(runDir, stage);
  const previous = linkTarget(link);
  if (previous === folder) return;
  mkdirSync(path.dirname(folder), { recursive: true });
  if (previous === null && existsSync(link)) {
    if (!existsSync(folder) && recordKey(link) === key) renameSync(link, folder);
    else rmSync(link, { recursive: true, force: true });
  }
  mkdirSync(folder, { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(path.relative(runDir, folder), link, 'dir');
  if (
    previous &&
    previous.startsWith(storeRoot(runsDir) + path.sep) &&
    !linkedFolders(runsDir, stage).has(previous) &&
    !lockHolder(path.join(previous, LOCK))
  ) {
    rmSync(previous, { recursive: true, force: true });
  }
}

function recordKey(folder: string): string | null {
  try {
    return (JSON.parse(readFileSync(path.join(folder, 'stage.json'), 'utf8')) as { key?: string }).key ?? null;
  } catch {
    return null;
  }
}

/** Claim a stage folder for this process; returns the release function. A live process's lock
 *  refuses; a dead one's is taken over, and `onTakeover` says so. */
export function lockStage(folder: string, stage: StageName, run: string, onTakeover?: (message: string) => void): () => void {
  return acquireLock(
    path.join(folder, LOCK),
    run,
    (holder) =>
      `stage ${stage} is being made by process ${holder.pid} (run ${holder.owner}) in ${folder}; wait for it to finish, or stop it`,
    (holder) =>
      onTakeover?.(`stage ${stage}: the lock of process ${holder.pid} (run ${holder.owner}), which no longer runs, is taken over`),
  );
}
