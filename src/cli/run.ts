import { Command, Option } from 'commander';
import path from 'node:path';
import { closeSession } from '../bridge/index.ts';
import { loadConfigFile } from '../config/load.ts';
import { planRun, runPipeline, type RunResult } from '../pipeline/runner.ts';
import type { StageName } from '../pipeline/stage.ts';
import { STAGES } from '../pipeline/stages/index.ts';
import type { AnchorsSummary } from '../pipeline/stages/anchors.ts';
import type { EvaluateSummary } from '../pipeline/stages/evaluate.ts';
import type { PrepareSummary } from '../pipeline/stages/prepare.ts';
import type { TrainFrSummary } from '../pipeline/stages/train-fr.ts';
import { createReporter, type ReporterKind } from '../ui/reporter.ts';
import { action } from './fail.ts';

export function makeRunCommand(): Command {
  return new Command('run')
    .description('run the pipeline of a config file (reusing every stage whose inputs are unchanged)')
    .argument('<config>', 'a config file, e.g. configs/demo.ts')
    .addOption(new Option('--force <stages...>', 'redo these stages even if cached').choices(STAGES.map((s) => s.name)))
    .option('--dry-run', 'print the plan (which stages run, resume or are reused) and stop')
    .option('--quiet', 'print only the final summary')
    .option('--json', 'print JSON events, one a line, instead of progress bars')
    .action(
      action(async (file: string, opts: { force?: StageName[]; dryRun?: boolean; quiet?: boolean; json?: boolean }) => {
        const { config, source } = await loadConfigFile(file);
        if (opts.dryRun) {
          const plan = planRun(config, opts.force).map((p) => ({ stage: p.stage.name, action: p.action, key: p.key, plan: p.stage.describe(config) }));
          if (opts.json) console.log(JSON.stringify(plan, null, 2));
          else for (const p of plan) console.log(`${p.action.padEnd(7)} ${p.stage.padEnd(9)} ${p.key.slice(0, 12)}  ${p.plan}`);
          return;
        }
        const kind: ReporterKind = opts.json ? 'json' : opts.quiet ? 'quiet' : 'bars';
        const reporter = createReporter(kind);
        reporter.info(`id3 run ${config.name} (config ${path.relative(process.cwd(), source) || source})`);
        let result: RunResult;
        try {
          result = await runPipeline(config, { reporter, force: opts.force });
        } finally {
          reporter.close();
          await closeSession();
        }
        if (!opts.json) printWhereThingsWent(result);
      }),
    );
}

function printWhereThingsWent(result: RunResult): void {
  const here = (p: string) => path.relative(process.cwd(), path.resolve(result.dir, p)) || '.';
  console.log(`\nrun folder: ${here('.')} (config.json, run.json, one folder per stage)`);
  const prepare = result.stages.prepare?.record.summary as PrepareSummary | undefined;
  if (prepare) {
    console.log(`  images:   ${here(prepare.imagesDir)}`);
    console.log(`  manifest: ${here(prepare.manifest)}`);
    console.log(`  grid:     ${here(prepare.grid)}`);
  }
  const trainFr = result.stages['train-fr']?.record.summary as TrainFrSummary | undefined;
  if (trainFr) console.log(`  encoder:  ${here(trainFr.encoder)} (encoder.json, backbone.safetensors)`);
  const anchors = result.stages.anchors?.record.summary as AnchorsSummary | undefined;
  if (anchors) console.log(`  anchors:  ${here(anchors.anchors)} (${anchors.count} × ${anchors.dim}; ${here(anchors.report)})`);
  const evaluation = result.stages.evaluate?.record.summary as EvaluateSummary | undefined;
  if (evaluation) {
    console.log(`\nverification on ${evaluation.identities} held-out identities (${here(evaluation.table)}):`);
    const width = Math.max(...evaluation.rows.map((r) => r.model.length));
    for (const r of evaluation.rows) {
      console.log(`  ${r.model.padEnd(width)}  ${(100 * r.accuracy).toFixed(2).padStart(6)}% ± ${(100 * r.std).toFixed(2)}  (${r.pairs} pairs)`);
    }
  }
}
