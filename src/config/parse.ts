/**
 * One config value checked against the schema, defaults filled in: the step below variants
 * (config/variants.ts expands a config's variants with it; config/load.ts adds that check).
 */
import { ConfigError, formatIssues } from './errors.ts';
import { Id3Config } from './schema.ts';

/** Validate a config value and fill in defaults, variants unexpanded; `defaultName` names a run that has no `name`. */
export function parseConfig(input: unknown, source: string, defaultName = 'run'): Id3Config {
  const named = isPlainObject(input) && input.name === undefined ? { ...input, name: defaultName } : input;
  const parsed = Id3Config.safeParse(named, { reportInput: true });
  if (!parsed.success) throw new ConfigError(source, formatIssues(parsed.error.issues, input));
  return parsed.data;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
