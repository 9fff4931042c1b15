/** `id3 data inspect|convert` as a user meets them: the printout, JSON, a round trip, refusals, corrupt images. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DataConversion, DataInspection } from '../src/cli/data.ts';
import { pythonExecutable } from '../src/bridge/python-env.ts';
import { repoRoot, runCli } from './fixtures/processes.ts';

/** faces/{ann: 2 images, bob: 3 images, cy: 1 image} as 32 px JPEGs. */
const FIXTURE = `
import os, sys, torch
sys.path.insert(0, os.path.join(sys.argv[2], "python"))
from id3_torch.data.folders import encode_image
from id3_torch.data.parametric import render_images
root = sys.argv[1]
images, _ = render_images(1, torch.tensor([0, 0, 1, 1, 1, 2]), torch.arange(6), 32)
for n, (name, k) in enumerate([("ann", 0), ("ann", 1), ("bob", 0), ("bob", 1), ("bob", 2), ("cy", 0)]):
    os.makedirs(os.path.join(root, name), exist_ok=True)
    open(os.path.join(root, name, f"{k}.jpg"), "wb").write(encode_image(images[n]))
`;

const folder = mkdtempSync(path.join(tmpdir(), 'id3-data-'));
const faces = path.join(folder, 'faces');
execFileSync(pythonExecutable(), ['-c', FIXTURE, faces, repoRoot]);

describe('id3 data', () => {
  it('inspect prints counts, images per identity, size, and an empty folder as a problem', async () => {
    const withEmpty = path.join(folder, 'with-empty');
    execFileSync('cp', ['-r', faces, withEmpty]);
    mkdirSync(path.join(withEmpty, 'dee'));
    const { code, stdout, stderr } = await runCli(['data', 'inspect', withEmpty]);
    expect(stderr).toBe('');
    expect(code).toBe(1); // it found a problem
    expect((await runCli(['data', 'inspect', faces])).code).toBe(0);
    expect(stdout).toMatch(/^format +folders$/m);
    expect(stdout).toMatch(/^images +6$/m);
    expect(stdout).toMatch(/^identities +3$/m);
    expect(stdout).toMatch(/^images\/identity +min 1 · median 2 · max 3 · mean 2\.0$/m);
    expect(stdout).toMatch(/^image size +32×32 \(6 of 6 images checked\)$/m);
    expect(stdout).toMatch(/^encodings +jpeg 6$/m);
    expect(stdout).toContain(`problem          ${path.join(withEmpty, 'dee')}: identity folder holds no image`);
  });

  it('convert to a .rec: the insightface layout with the same counts, no temporaries', async () => {
    const rec = path.join(folder, 'train.rec');
    const converted = await runCli(['data', 'convert', faces, rec, '--json']);
    expect(converted.code).toBe(0);
    const result = JSON.parse(converted.stdout) as DataConversion;
    expect(result).toMatchObject({ format: 'recordio', images: 6, identities: 3, skippedImages: 0 });

    const inspected = await runCli(['data', 'inspect', rec, '--json']);
    const report = JSON.parse(inspected.stdout) as DataInspection;
    expect(report).toMatchObject({ format: 'recordio', layout: 'insightface', images: 6, identities: 3, problems: [] });
    expect(report.imagesPerIdentity).toEqual({ min: 1, median: 2, max: 3, mean: 2 });
    expect(
      readdirSync(folder)
        .filter((f) => f.includes('train'))
        .sort(),
    ).toEqual(['train.idx', 'train.rec']);
  });

  it('a corrupt image stops convert naming the file, or is skipped and listed', async () => {
    const broken = path.join(folder, 'broken');
    execFileSync('cp', ['-r', faces, broken]);
    execFileSync(pythonExecutable(), ['-c', `open(${JSON.stringify(path.join(broken, 'bob', '1.jpg'))}, 'r+b').truncate(60)`]);
    const inspected = await runCli(['data', 'inspect', broken, '--sample', '0']);
    expect(inspected.code).toBe(1);
    expect(inspected.stdout).toContain(`${path.join(broken, 'bob', '1.jpg')}: not a decodable JPEG/PNG image`);
    const stopped = await runCli(['data', 'convert', broken, path.join(folder, 'out')]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(`${path.join(broken, 'bob', '1.jpg')}: not a decodable JPEG/PNG image`);
    expect(existsSync(path.join(folder, 'out'))).toBe(false);
    const skipped = await runCli(['data', 'convert', broken, path.join(folder, 'out'), '--on-corrupt', 'skip']);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain(`skipped ${path.join(broken, 'bob', '1.jpg')}: not a decodable JPEG/PNG image`);
    expect(readdirSync(path.join(folder, 'out')).sort()).toEqual(['ann', 'bob', 'cy']);
    expect(readdirSync(path.join(folder, 'out', 'bob'))).toHaveLength(2);
  });

  it('a missing path and bad options are refused before Python starts', async () => {
    const missing = await runCli(['data', 'inspect', path.join(folder, 'nowhere')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`id3: ${path.join(folder, 'nowhere')}: no such file or folder`);
    const badSample = await runCli(['data', 'inspect', faces, '--sample', '-2']);
    expect(badSample.stderr.trim()).toBe('id3: --sample: expected an integer ≥ 0');
    const help = await runCli(['data', '--help']);
    expect(help.stdout).toMatch(/^\s+inspect \[options\] <path>/m);
    expect(help.stdout).toMatch(/^\s+convert \[options\] <src> <dst>/m);
  });
});
