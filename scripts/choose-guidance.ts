/**
 * Choose the guidance scale γ and gradient mode on the validation identities, by the judge:
 *
 *   npx tsx scripts/choose-guidance.ts configs/proof.ts [variant] [γ,γ,…]
 *
 * The method tunes γ on a validation set. Here f cannot be the referee (the guidance climbs f's
 * gradient, so f's figures rise with γ whether or not faces do), and the test identities must not be
 * read before the choice. So: the variant's pipeline up to `train` (with its judge and attribute
 * regressor), then for every γ (and, for γ > 0, both gradient modes) one sample per image of the
 * validation identities, conditioned on that image's (y, s), scored by the config's judge: rank-1
 * among the validation identities and identity cosine, beside f's (labelled: optimised by the
 * sampler) and the attribute errors. The choice: the largest judge rank-1, ties to the smaller γ.
 * Only then, the test identities: γ = 0 and the chosen γ measured the same way on them, once.
 * Writes <run>/guidance/choice.json and choice.csv; the config then states the chosen γ (the
 * choice is not applied by itself: a config says what it runs).
 */
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { closeSession, getSession } from '../src/bridge/index.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { expandVariants } from '../src/config/variants.ts';
import { measureIdentityPreservation, samplerArgs } from '../src/diffusion/jobs.ts';
import { judgeSpec } from '../src/pipeline/stages/judge.ts';
import { outputsOf } from '../src/pipeline/stages/outputs-of.ts';
import { runPipeline } from '../src/pipeline/runner.ts';
import { createReporter } from '../src/ui/reporter.ts';
import { writeFileAtomic } from '../src/util/files.ts';

const [file = 'configs/proof.ts', variantName, scaleList = '0,0.5,1,2,4,8'] = process.argv.slice(2);
const { config, source } = await loadConfigFile(file);
const variants = expandVariants(config, source);
const variant = variantName ? variants.find((v) => v.variant === variantName) : variants[0];
if (!variant) throw new Error(`${file}: no variant ${variantName} (expected one of ${variants.map((v) => v.variant).join(', ')})`);
const run = variant.config;
if (!run.diffusion || !run.judge) throw new Error(`${file}: expected a diffusion section and a judge`);
const scales = scaleList.split(',').map(Number);
if (scales.some((g) => !(g >= 0))) throw new Error(`expected scales as comma-separated numbers ≥ 0, got ${scaleList}`);

const reporter = createReporter(process.stdout.isTTY ? 'bars' : 'quiet');
await runPipeline(run, { reporter, only: ['prepare', 'encoder', 'judge', 'attributes', 'train'] });
reporter.close();
const runDir = path.resolve(run.runsDir, run.name);
const judge = judgeSpec(run, runDir)!;
const outputs = outputsOf(runDir);
const session = await getSession();
const sampler = samplerArgs(run.diffusion.sampler);
/** One sample per image of the split's identities at (γ, mode), judged: a row of the table. */
async function measure(split: 'val' | 'test', g: number, mode: 'detached' | 'full') {
  const result = await measureIdentityPreservation(session, {
    trainDir: outputs.train.folder, manifest: outputs.prepare.manifest, split, perIdentity: 1,
    sampler: { ...sampler, guidanceScale: g, gradientMode: mode }, seed: 0, batchSize: run.diffusion!.sampler.batchSize,
    attributeRegressor: outputs.attributes.folder, judges: { judge: judge.spec }, outDir: path.join(runDir, 'guidance', split, `g${g}-${mode}`),
    device: run.device,
  });
  const { f, judge: j } = result.identity;
  const row = {
    split, guidanceScale: g, gradientMode: g === 0 ? 'none' : mode, identities: result.identities,
    'judge rank-1': j!.rank1, 'judge cosine': j!.identityCosine, 'judge impostor cosine': j!.impostorCosine, 'judge genuine cosine': j!.genuineCosine,
    'f rank-1 (optimised)': f!.rank1, 'f cosine (optimised)': f!.identityCosine,
    ...Object.fromEntries(Object.entries(result.attributeError.samples).map(([k, v]) => [`${k} error`, v])),
    seconds: result.samplingSeconds,
  };
  console.log(Object.entries(row).map(([k, v]) => `${k} ${typeof v === 'number' ? +v.toFixed(3) : v}`).join(', '));
  return row;
}

const cases = scales.flatMap((g) => (g === 0 ? [{ g, mode: 'detached' as const }] : (['detached', 'full'] as const).map((mode) => ({ g, mode }))));
const rows = [];
const tested = [];
try {
  for (const { g, mode } of cases) rows.push(await measure('val', g, mode));
  const best = rows.reduce((a, b) => (b['judge rank-1'] > a['judge rank-1'] ? b : a));
  console.log(`chosen on ${best.identities} validation identities by the judge (${judge.name}): γ ${best.guidanceScale}, ${best.gradientMode} ` +
    `(judge rank-1 ${best['judge rank-1'].toFixed(3)}; unguided ${rows[0]!['judge rank-1'].toFixed(3)})`);
  tested.push(await measure('test', 0, 'detached'));
  if (best.guidanceScale > 0) tested.push(await measure('test', best.guidanceScale, best.gradientMode as 'detached' | 'full'));
  const out = path.join(runDir, 'guidance');
  writeFileAtomic(path.join(out, 'choice.csv'), stringify([...rows, ...tested], { header: true }));
  writeFileAtomic(path.join(out, 'choice.json'), JSON.stringify({ config: file, variant: variant.variant, judge: judge.name, val: rows, chosen: best, test: tested }, null, 2));
  console.log(`written: ${path.join(out, 'choice.csv')}`);
} finally {
  await closeSession();
}
