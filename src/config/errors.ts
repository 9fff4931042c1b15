/**
 * How a config problem is told: a ConfigError names the file and lists one line per problem
 * ("dataset.identities: expected a positive integer, got -3"), never a stack trace.
 */
import type { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid config\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
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
