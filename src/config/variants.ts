/**
 * Variants: named patches of a config. A patch is merged into the base config key by key
 * (objects recursively; values and arrays replaced), and each result is a config of its own,
 * named `<base>-<variant>`, checked like any config (a problem is reported under
 * `variants.<variant>`). A top-level section set to null is left out: `{ generate: null, trainFr:
 * { data: 'real' } }` is a reference trained on real faces beside the synthetic variants.
 */
import type { ConfigPatch, Id3Config } from './schema.ts';
import { ConfigError } from './errors.ts';
import { parseConfig } from './parse.ts';

export interface Variant {
  variant: string;
  patch: ConfigPatch;
  config: Id3Config;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `base` with `patch` merged in; neither is changed. */
export function applyPatch<T>(base: T, patch: unknown): T {
  if (!isObject(base) || !isObject(patch)) return (patch === undefined ? base : patch) as T;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) merged[key] = applyPatch(merged[key], value);
  return merged as T;
}

/** A section the patch sets to null is left out (e.g. a real-data reference without `generate`). */
function withoutRemovedSections<T extends object>(config: T, patch: Record<string, unknown>): T {
  return Object.fromEntries(Object.entries(config).filter(([key]) => patch[key] !== null)) as T;
}

/** The dotted paths a patch sets ("train.loss.idWeight"), leaves only; a section it removes (null) is no field. */
export function patchPaths(patch: unknown, prefix = ''): string[] {
  if (patch === null && !prefix.includes('.')) return [];
  if (!isObject(patch)) return [prefix];
  return Object.entries(patch).flatMap(([key, value]) => patchPaths(value, prefix ? `${prefix}.${key}` : key));
}

/** The value at a dotted path of a config. */
export function valueAtPath(config: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((value, key) => (isObject(value) ? value[key] : undefined), config);
}

/** Every variant of `config`, resolved; all problems of all variants in one ConfigError. */
export function expandVariants(config: Id3Config, source: string, variants = config.variants ?? {}): Variant[] {
  const { variants: _variants, ...base } = config;
  const problems: string[] = [];
  const resolved: Variant[] = [];
  for (const [variant, patch] of Object.entries(variants)) {
    const forbidden = ['name', 'runsDir', 'variants'].filter((key) => key in patch);
    if (forbidden.length) {
      problems.push(...forbidden.map((key) => `variants.${variant}.${key}: a variant cannot set ${key}`));
      continue;
    }
    try {
      resolved.push({
        variant,
        patch: patch as ConfigPatch,
        config: parseConfig({ ...withoutRemovedSections(applyPatch(base, patch), patch), name: `${config.name}-${variant}` }, source),
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems.map((problem) => `variants.${variant}: ${problem}`));
    }
  }
  if (problems.length) throw new ConfigError(source, problems);
  return resolved;
}
