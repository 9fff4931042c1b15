/**
 * The paper's ablation axes, on the demo's parametric face set, as one sweep:
 *
 *   npx tsx examples/ablation.ts                        # on configs/demo.ts (variant id3)
 *   npx tsx examples/ablation.ts configs/proof.ts 1     # on the proof's trained models, 1 seed a variant
 *
 * Each variant changes one thing of ID³ (configs/demo.ts, variant `id3`): the ID loss off (λ = 0),
 * the reversed-likelihood guidance off (γ = 0), random instead of Tammes anchors, and the per-image
 * cosine bounds [lb, ub] = [0.5, 0.7] instead of [0.7, 0.9]. Every stage a variant shares with
 * another (prepare, the encoder, the diffusion model of all but `no-id-loss`, the anchors) is made
 * once, and a finished demo's stages are reused. The result is one CSV (runs/ablation/sweep.csv):
 * a row per variant, with the generated set's card (identity consistency, separation, attribute
 * spread, leakage) and the verification accuracy of face recognition trained on it.
 * test/examples.test.ts runs the same sweep at toy size.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { closeSession, createReporter, sweep, type ConfigPatch, type Id3ConfigInput, type RunOptions } from 'id3';
import demo from '../configs/demo.ts';

export const variants: Record<string, ConfigPatch> = {
  id3: {},
  'no-id-loss': { diffusion: { loss: { w: 0 } } },
  'no-guidance': { diffusion: { sampler: { guidanceScale: 0 } }, guidance: null }, // no γ chosen: γ = 0
  'random-anchors': { anchors: { method: 'random' } },
  'bounds-0.5-0.7': { generate: { bounds: [0.5, 0.7] } },
};

/** The ablation sweep over `base` (a config without variants): runs it, returns its rows and CSV. */
export async function ablation(base: Id3ConfigInput, options: RunOptions = {}) {
  const result = await sweep(base, variants, options);
  console.table(
    result.rows.map((row) => ({
      variant: row.variant,
      'judge consistency': row['judge consistency'],
      'judge chance': row['judge chance'],
      'judge precision': row['judge precision'],
      'held-out accuracy': row[`held-out ${base.trainFr!.backbone} (train-fr)`],
    })),
  );
  console.log(`one row per variant, every column: ${result.csv}`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, seeds] = process.argv.slice(2);
  const config = file ? ((await import(pathToFileURL(path.resolve(file)).href)) as { default: Id3ConfigInput }).default : demo;
  const { variants: _variants, ...base } = config;
  const name = file ? `ablation-${base.name}` : 'ablation';
  const reporter = createReporter('bars');
  try {
    const started = performance.now();
    await ablation({ ...base, name, ...(seeds ? { seeds: Number(seeds) } : {}) }, { reporter });
    console.log(`${name}: ${((performance.now() - started) / 60_000).toFixed(1)} min`);
  } finally {
    reporter.close();
    await closeSession();
  }
}
