/** A full disk: a TypeScript write fails naming the file it was writing, and leaves no temporary behind. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeJsonAtomic } from '../src/util/files.ts';

const small = path.join(mkdtempSync(path.join(tmpdir(), 'id3-full-')), 'small');
mkdirSync(small);
const mounted =
  process.getuid?.() === 0 &&
  (() => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', small]);
      return true;
    } catch {
      return false;
    }
  })();
afterAll(() => {
  if (mounted) execFileSync('umount', [small]);
});

describe('a full disk', () => {
  it.runIf(mounted)('writeJsonAtomic names the file and leaves nothing', () => {
    const file = path.join(small, 'run.json');
    expect(() => writeJsonAtomic(file, { filler: 'x'.repeat(100_000) })).toThrow(`${file}: ENOSPC: no space left on device`);
    expect(readdirSync(small)).toEqual([]);
  });
});
