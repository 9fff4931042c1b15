/**
 * JSON text for the bridge. Non-finite floats travel as {"$float": "NaN" | "Infinity" |
 * "-Infinity"} in both directions (see python/id3_torch/bridge/jsonio.py).
 */

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

export function stringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $float: String(v) } : v));
}

export function parse(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const tag = (v as { $float?: unknown }).$float;
      if (keys.length === 1 && typeof tag === 'string' && tag in NON_FINITE) return NON_FINITE[tag];
    }
    return v;
  });
}
