/**
 * Files a config names that must be on this machine before anything runs, checked when a config file
 * is loaded (validate, run): like capacity.ts, machine-dependent, so not in the schema (a config stays
 * valid elsewhere, and a finished run's config.json reopens without them). The stage that reads such a
 * file hashes it into its cache key, which fails too, but only once the run has started.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Id3Config } from './schema.ts';
import { expandVariants } from './variants.ts';

/** `[config path, file]` for every file this config names that must exist. */
function namedFiles(config: Id3Config): [string, string][] {
  const fid = config.generate?.fidInceptionWeights;
  return fid === undefined ? [] : [['generate.fidInceptionWeights', fid]];
}

const FILE_NOTES: Record<string, string> = {
  'generate.fidInceptionWeights':
    "pytorch-fid's Inception weights, pt_inception-2015-12-05-6726825d.pth, which you supply: id3 never downloads it",
};

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `[config path, problem]` for every named file that is not a file here, in the config and in each of its
 *  variants (a variant's only where it names another file than the base). */
export function fileProblems(config: Id3Config, source: string): [string, string][] {
  const problems: [string, string][] = [];
  const reported = new Set<string>();
  const check = (prefix: string, c: Id3Config) => {
    for (const [field, file] of namedFiles(c)) {
      const absolute = path.resolve(file);
      if (reported.has(absolute) || isFile(absolute)) continue;
      reported.add(absolute);
      problems.push([`${prefix}${field}`, `no such file ${absolute} (${FILE_NOTES[field] ?? 'a file this config names'})`]);
    }
  };
  check('', config);
  for (const { variant, config: variantConfig } of config.variants ? expandVariants(config, source) : [])
    check(`variants.${variant}.`, variantConfig);
  return problems;
}
