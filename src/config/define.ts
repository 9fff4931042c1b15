import type { Id3ConfigInput } from './schema.ts';

/** Identity at run time: exists so that a config file gets types and completion. */
export function defineConfig(config: Id3ConfigInput): Id3ConfigInput {
  return config;
}
