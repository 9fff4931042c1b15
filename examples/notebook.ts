/**
 * id3 as a notebook uses it (a Deno/TS Jupyter kernel: `npx deno jupyter --install`, then one cell per
 * block below), or as a script: `npx deno run -A examples/notebook.ts [runs/demo-id3]`.
 *
 * Open a finished run, read its results, sample new identities from its diffusion model, show them,
 * and sweep one generation setting, sharing every stage before it with the run.
 */
import { closeSession, openRun, sampleIdentities, sweep, type EvaluateSummary, type GenerateSummary } from 'id3';

type Deno = { args: string[]; jupyter?: { display(value: unknown, options?: { raw: boolean }): Promise<void> }; readFile(path: string): Promise<Uint8Array> };
const deno = (globalThis as { Deno?: Deno }).Deno;
const runDir = deno?.args[0] ?? process.argv[2] ?? 'runs/demo-id3';
/** Deno.jupyter exists in `deno jupyter` kernels only (elsewhere reading it throws). */
const jupyter = (() => {
  try {
    return deno?.jupyter;
  } catch {
    return undefined;
  }
})();

// --- A finished run: its config, its stages' summaries, its files --------------------------------
const run = openRun(runDir);
const evaluation = run.summary<EvaluateSummary>('evaluate');
console.table(evaluation.rows.map((r) => ({ model: r.model, pairs: r.benchmark, accuracy: (100 * r.accuracy).toFixed(2) })));
const generated = run.summary<GenerateSummary>('generate');
const judged = generated.statistics.judge ?? generated.statistics.f; // f's figures only when no judge is configured
console.log(
  `generated: ${generated.images} images of ${generated.identities} identities; identity consistency by ${judged.encoder}: ` +
    `${judged.identityConsistency.leaveOneOutCosine.toFixed(3)} (chance ${judged.identityConsistency.chanceCosine.toFixed(3)})`,
);

// --- New identities from the run's model ------------------------------------------------------------
const { grid } = await sampleIdentities(run, { identities: 3, images: 4, seed: 7 });
if (jupyter && deno) await jupyter.display({ 'image/png': btoa(String.fromCharCode(...(await deno.readFile(grid)))) }, { raw: true });
else console.log(`new identities: ${grid}`);

// --- A small sweep: [lb, ub] of the per-image plan; prepare, train and anchors are reused ----------
const swept = await sweep(run.config, {
  tight: { generate: { bounds: [0.8, 0.9] } },
  loose: { generate: { bounds: [0.5, 0.7] } },
});
console.table(swept.rows.map((r) => ({ variant: r.variant, bounds: r['generate.bounds'], 'judge consistency': r['judge consistency'] })));
console.log(`sweep table: ${swept.csv}`);
console.log(`result ${JSON.stringify({ grid, variants: swept.rows.map((r) => r.variant), reused: Object.values(swept.runs).map((r) => r.stages.train?.outcome) })}`);
await closeSession();
