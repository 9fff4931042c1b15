/**
 * Sizes that cannot fit this machine, refused before anything runs: the images a config renders and
 * generates against the free disk of its runs folder, and the decoded training images (which the
 * diffusion trainer holds in memory) against the machine's memory. Estimates, to catch a typo
 * (`identities: 1e12`) at `validate` rather than in torch's allocator hours later.
 */
import { existsSync, statfsSync } from 'node:fs';
import { totalmem } from 'node:os';
import path from 'node:path';
import type { Id3Config } from './schema.ts';

/** An image on disk: a PNG of about 0.6 byte a pixel channel, and never less than a file-system block. */
const imageBytes = (resolution: number) => Math.max(4096, resolution * resolution * 3 * 0.6);

const gigabytes = (bytes: number) => `${(bytes / 1e9).toPrecision(3)} GB`;

function freeDisk(folder: string): number {
  let existing = path.resolve(folder);
  while (!existsSync(existing)) existing = path.dirname(existing);
  const stats = statfsSync(existing);
  return stats.bavail * stats.bsize;
}

/** `[config path, problem]` for every size that cannot fit; none when the config fits. */
export function capacityProblems(config: Id3Config): [string, string][] {
  const problems: [string, string][] = [];
  const d = config.dataset;
  let disk = 0;
  if (d.kind === 'parametric') {
    const images = d.identities * d.imagesPerIdentity;
    disk += images * imageBytes(d.resolution);
    const decoded = images * d.resolution * d.resolution * 3;
    if (config.diffusion && decoded > totalmem()) {
      problems.push([
        'dataset.identities',
        `${d.identities} identities × ${d.imagesPerIdentity} images at ${d.resolution} px hold about ${gigabytes(decoded)} decoded, which the diffusion trainer keeps in memory; this machine has ${gigabytes(totalmem())}`,
      ]);
    }
  }
  if (config.generate && config.anchors) disk += config.anchors.count * config.generate.imagesPerIdentity * imageBytes(d.resolution);
  const free = freeDisk(config.runsDir);
  if (disk > free) {
    problems.push([
      d.kind === 'parametric' ? 'dataset.identities' : 'generate.imagesPerIdentity',
      `the images this config writes need about ${gigabytes(disk)} of disk; ${config.runsDir} has ${gigabytes(free)} free`,
    ]);
  }
  return problems;
}
