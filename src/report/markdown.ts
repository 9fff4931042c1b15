/** Tables as markdown, for reports and sweep summaries. */

export type Cell = string | number | boolean | null | undefined;

function format(value: Cell): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+$/, '');
  return String(value).replace(/\|/g, '\\|');
}

/** A GitHub-flavoured markdown table of `rows`, one column per entry of `columns`. */
export function markdownTable(columns: readonly string[], rows: readonly Record<string, Cell>[]): string {
  const lines = [`| ${columns.map((c) => format(c)).join(' | ')} |`, `|${columns.map(() => ' --- |').join('')}`];
  for (const row of rows) lines.push(`| ${columns.map((c) => format(row[c])).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}
