/**
 * Checkpoints of a Tammes descent in a folder: `tammes-<step>.npy` (the anchors before that
 * step) and `tammes.json` naming it, written in that order, each whole or not at all; the older
 * anchors file is removed once the new JSON names the new one. A kill at any point leaves a
 * JSON that names a whole file.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { PythonSession } from '../bridge/session.ts';
import { Tensor } from '../bridge/tensor.ts';
import { writeJsonAtomic } from '../util/files.ts';
import type { Separation } from './neighbours.ts';
import type { TammesCheckpoints, TammesState } from './tammes.ts';

interface CheckpointRecord {
  step: number;
  /** The anchors file, relative to the folder. */
  anchors: string;
  start: Separation;
}

export function folderCheckpoints(
  session: PythonSession,
  dir: string,
  everySeconds: number,
  device?: string,
): TammesCheckpoints & { clear(): void } {
  const record = path.join(dir, 'tammes.json');
  const read = (): CheckpointRecord | null => (existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as CheckpointRecord) : null);
  return {
    everySeconds,
    async load(): Promise<TammesState | null> {
      const saved = read();
      if (!saved) return null;
      return { step: saved.step, start: saved.start, anchors: await Tensor.loadNpy(session, path.join(dir, saved.anchors), { device }) };
    },
    async save({ step, anchors, start }: TammesState): Promise<void> {
      const previous = read();
      const file = `tammes-${step}.npy`;
      await anchors.saveNpy(path.join(dir, file));
      writeJsonAtomic(record, { step, anchors: file, start } satisfies CheckpointRecord);
      if (previous && previous.anchors !== file) rmSync(path.join(dir, previous.anchors), { force: true });
    },
    /** Remove the checkpoint (the descent is done). */
    clear(): void {
      const saved = read();
      rmSync(record, { force: true });
      if (saved) rmSync(path.join(dir, saved.anchors), { force: true });
    },
  };
}
