/**
 * Loading a config file: import the TypeScript module, validate its default export and its
 * variants, fill in defaults. Every failure is a ConfigError (config/errors.ts). The layers:
 * errors → parse → variants → load.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveId3FromAnywhere } from './id3-specifier.ts';
import { ConfigError } from './errors.ts';
import { parseConfig } from './parse.ts';
import type { Id3Config } from './schema.ts';
import { capacityProblems } from './capacity.ts';
import { fileProblems } from './files.ts';
import { expandVariants } from './variants.ts';

export interface LoadedConfig {
  /** Absolute path of the config file, or a label for a config given as an object. */
  source: string;
  config: Id3Config;
}

/** Why a config file could not be imported, whole: the transpiler's message with its file:line:column,
 *  and that line of the file with a caret under the column. */
function importProblem(err: unknown): string[] {
  const message = err instanceof Error ? err.message : String(err);
  const [first, ...rest] = message
    .split('\n')
    .map((line) => line.trimEnd())
    .filter(Boolean)
    .slice(0, 8);
  const lines = [`could not be imported: ${first ?? 'unknown error'}`, ...rest.map((line) => `  ${line}`)];
  const at = /([^\s:]+\.[cm]?[jt]s):(\d+):(\d+)/.exec(message);
  if (at) {
    try {
      const text = readFileSync(at[1]!, 'utf8').split('\n')[Number(at[2]) - 1];
      if (text !== undefined) lines.push(`  ${at[2]} | ${text}`, `  ${' '.repeat(at[2]!.length)} | ${' '.repeat(Number(at[3]))}^`);
    } catch {
      // the file named is not readable: the message alone
    }
  }
  return lines;
}

export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const source = path.resolve(file);
  if (!existsSync(source)) throw new ConfigError(source, ['file not found']);
  let module: { default?: unknown };
  resolveId3FromAnywhere();
  try {
    module = await import(pathToFileURL(source).href);
  } catch (err) {
    throw new ConfigError(source, importProblem(err));
  }
  if (module.default === undefined) {
    throw new ConfigError(source, ['expected `export default defineConfig({ ... })`, found no default export']);
  }
  const config = resolveConfig(module.default, source, path.basename(source).replace(/\.[cm]?[jt]s$/, ''));
  // Machine-dependent, so here (validate, run) and not in the schema: a config stays valid elsewhere.
  const machine = [...fileProblems(config, source), ...capacityProblems(config)];
  if (machine.length > 0)
    throw new ConfigError(
      source,
      machine.map(([at, problem]) => `${at}: ${problem}`),
    );
  return { source, config };
}

/** Validate a config value and fill in defaults; `defaultName` names a run that has no `name`. Its
 *  variants are expanded once, so that a bad variant is a bad config, found now. */
export function resolveConfig(input: unknown, source: string, defaultName = 'run'): Id3Config {
  const config = parseConfig(input, source, defaultName);
  if (config.variants) expandVariants(config, source);
  return config;
}

export { ConfigError, formatIssues } from './errors.ts';
