/**
 * Loading a config file: import the TypeScript module, validate its default export, fill in
 * defaults. Every failure is a ConfigError that names the file and lists one line per problem
 * ("dataset.identities: expected a positive integer, got -3"), never a stack trace.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { resolveId3FromAnywhere } from './id3-specifier.ts';
import { Id3Config } from './schema.ts';
import { capacityProblems } from './capacity.ts';
import { fileProblems } from './files.ts';
import { expandVariants } from './variants.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid config\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export interface LoadedConfig {
  /** Absolute path of the config file, or a label for a config given as an object. */
  source: string;
  config: Id3Config;
}

/** Why a config file could not be imported, whole: the transpiler's message with its file:line:column,
 *  and that line of the file with a caret under the column. */
function importProblem(err: unknown): string[] {
  const message = err instanceof Error ? err.message : String(err);
  const [first, ...rest] = message.split('\n').map((line) => line.trimEnd()).filter(Boolean).slice(0, 8);
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
  if (machine.length > 0) throw new ConfigError(source, machine.map(([at, problem]) => `${at}: ${problem}`));
  return { source, config };
}

/** Validate a config value and fill in defaults; `defaultName` names a run that has no `name`. */
export function resolveConfig(input: unknown, source: string, defaultName = 'run'): Id3Config {
  const named = isPlainObject(input) && input.name === undefined ? { ...input, name: defaultName } : input;
  const parsed = Id3Config.safeParse(named, { reportInput: true });
  if (!parsed.success) throw new ConfigError(source, formatIssues(parsed.error.issues, input));
  if (parsed.data.variants) expandVariants(parsed.data, source); // a bad variant is a bad config, found now
  return parsed.data;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => {
    const where = issue.path.length ? issue.path.map(String).join('.') : '(config)';
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${where === '(config)' ? '' : `${where}.`}${key}: unknown key`).join('\n');
    }
    const found = valueAt(input, issue.path);
    const got = found === undefined ? 'nothing' : describe(found);
    // A refinement of a section, or of a value the user left to its default, says what it
    // expected; "got an object" or "got nothing" would add nothing.
    if (issue.code === 'custom') {
      return typeof found === 'object' || found === undefined ? `${where}: ${issue.message}` : `${where}: ${issue.message}, got ${got}`;
    }
    if (issue.code === 'invalid_union' && 'options' in issue) {
      return `${where}: expected one of ${(issue.options as unknown[]).map(describe).join(' | ')}, got ${got}`;
    }
    const expected = issue.message
      .replace(/^(Invalid input|Invalid option|Too small|Too big): /, '')
      .replace(/, received \w+$/, '')
      .replace(/^E/, 'e');
    return `${where}: ${expected}, got ${got}`;
  });
}

function valueAt(root: unknown, at: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of at) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return value.length <= 8 ? JSON.stringify(value) : `an array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
