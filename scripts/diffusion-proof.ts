/**
 * The CPU-scale proof of ID³'s identity-preserving loss (docs/diffusion.md):
 *
 *   npx tsx scripts/diffusion-proof.ts [configs/diffusion-proof.ts]
 *
 * 1. the config as it is (prepare, encoder f, train with the full loss);
 * 2. its twin with λ = 0 (w = 0: plain conditional diffusion), on the same f;
 * 3. an independent judge: the same face-recognition recipe with another seed;
 * 4. an attribute regressor on the training split;
 * then, for held-out (test) identities, samples of both models for their real (y, s) — plain
 * sampling, and the ID³ model also with the configured identity guidance in both gradient modes —
 * scored by f and by the judge. Prints a table; writes <run>/proof.json and proof.csv.
 */
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { getSession, closeSession } from '../src/bridge/index.ts';
import { loadConfigFile, resolveConfig } from '../src/config/load.ts';
import type { Id3Config } from '../src/config/schema.ts';
import { measureIdentityPreservation, samplerArgs, trainAttributeRegressor, type MeasureResult } from '../src/diffusion/jobs.ts';
import { encoderSpec } from '../src/pipeline/stages/encoder.ts';
import { runPipeline } from '../src/pipeline/runner.ts';
import { createReporter } from '../src/ui/reporter.ts';
import { writeFileAtomic } from '../src/util/files.ts';

const file = process.argv[2] ?? 'configs/diffusion-proof.ts';
const { config: id3 } = await loadConfigFile(file);
if (!id3.diffusion || id3.encoder?.kind !== 'train') throw new Error(`${file}: expected a diffusion section and encoder.kind 'train'`);
const reporter = createReporter(process.stdout.isTTY ? 'bars' : 'quiet');
const runDir = (c: Id3Config) => path.resolve(c.runsDir, c.name);

const withoutDiffusion = ({ diffusion: _d, ...rest }: Id3Config) => rest;
const baseline = resolveConfig(
  {
    ...id3,
    name: `${id3.name}-baseline`,
    encoder: { kind: 'folder', path: path.join(runDir(id3), 'encoder') },
    diffusion: { ...id3.diffusion, loss: { ...id3.diffusion?.loss, w: 0 } },
  },
  `${file} (λ = 0)`,
);
const judge = resolveConfig(
  {
    ...withoutDiffusion(id3),
    name: `${id3.name}-judge`,
    encoder: { kind: 'train', recipe: { ...id3.encoder.recipe, seed: id3.encoder.recipe.seed + 1 } },
  },
  `${file} (judge)`,
);
for (const c of [id3, baseline, judge]) await runPipeline(c, { reporter });

const session = await getSession();
const manifest = path.join(runDir(id3), 'prepare', 'manifest.csv');
const attributes = path.join(runDir(id3), 'attributes');
const regressor = await trainAttributeRegressor(session, {
  manifest,
  outDir: attributes,
  evalSplit: 'test',
  epochs: 6,
  batchSize: 64,
  lr: 3e-3,
  seed: 0,
  inputSize: id3.dataset.resolution,
  widths: [16, 32, 64],
  device: id3.device,
});
const sampler = samplerArgs(id3.diffusion.sampler);
const guidance = sampler.guidanceScale > 0 ? sampler.guidanceScale : 1;
const cases: Array<{ model: string; trainDir: string; guidanceScale: number; gradientMode: 'full' | 'detached' }> = [
  { model: 'ID³ (w = 0.5)', trainDir: path.join(runDir(id3), 'train'), guidanceScale: 0, gradientMode: 'detached' },
  { model: 'λ = 0', trainDir: path.join(runDir(baseline), 'train'), guidanceScale: 0, gradientMode: 'detached' },
  { model: 'ID³ (w = 0.5)', trainDir: path.join(runDir(id3), 'train'), guidanceScale: guidance, gradientMode: 'full' },
  { model: 'ID³ (w = 0.5)', trainDir: path.join(runDir(id3), 'train'), guidanceScale: guidance, gradientMode: 'detached' },
];
const rows = [];
const results: Array<MeasureResult & { model: string }> = [];
for (const c of cases) {
  const result = await measureIdentityPreservation(session, {
    trainDir: c.trainDir,
    manifest,
    split: 'test',
    perIdentity: 1,
    seed: 0,
    batchSize: 100,
    attributeRegressor: attributes,
    sampler: { ...sampler, guidanceScale: c.guidanceScale, gradientMode: c.gradientMode },
    judges: { judge: encoderSpec(judge, runDir(judge)) },
    outDir: path.join(
      runDir(id3),
      'proof',
      `${c.trainDir === path.join(runDir(id3), 'train') ? 'id3' : 'baseline'}-g${c.guidanceScale}-${c.gradientMode}`,
    ),
    device: id3.device,
  });
  results.push({ ...result, model: c.model });
  const { f, judge: j } = result.identity;
  rows.push({
    model: c.model,
    guidance: c.guidanceScale ? `γ ${c.guidanceScale} ${c.gradientMode}` : 'none',
    cosF: f!.identityCosine,
    cosJudge: j!.identityCosine,
    rank1F: f!.rank1,
    rank1Judge: j!.rank1,
    impostorJudge: j!.impostorCosine,
    genuineJudge: j!.genuineCosine,
    ageError: result.attributeError!.samples.age,
    yawError: result.attributeError!.samples.yaw,
    pitchError: result.attributeError!.samples.pitch,
    rollError: result.attributeError!.samples.roll,
    seconds: result.samplingSeconds,
  });
}
await closeSession();

const out = path.join(runDir(id3), 'proof.csv');
writeFileAtomic(out, stringify(rows, { header: true }));
writeFileAtomic(path.join(runDir(id3), 'proof.json'), JSON.stringify({ regressor, results }, null, 2));
const n = (x: number) => x.toFixed(3);
console.log(`identity preservation on ${results[0]!.identities} held-out identities (${out}):`);
console.log('model           guidance            cos f   cos judge  rank-1 f  rank-1 judge  error: age y / yaw° / pitch° / roll°');
for (const r of rows) {
  console.log(
    `${r.model.padEnd(15)} ${r.guidance.padEnd(18)} ${n(r.cosF)}   ${n(r.cosJudge)}      ${n(r.rank1F)}     ${n(r.rank1Judge)}         ` +
      `${[r.ageError, r.yawError, r.pitchError, r.rollError].map((x) => x.toFixed(1)).join(' / ')}`,
  );
}
const judged = results[0]!.identity.judge!;
console.log(
  `reference: real images of the same identity score cos ${n(judged.genuineCosine)} (judge), other identities ${n(judged.impostorCosine)}`,
);
console.log(
  `attribute regressor on real test images: ${Object.entries(regressor.meanAbsoluteError)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ')}`,
);
