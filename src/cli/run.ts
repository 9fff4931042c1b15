import { Command, Option } from 'commander';
import path from 'node:path';
import { closeSession } from '../bridge/index.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Id3Config } from '../config/schema.ts';
import { expandVariants } from '../config/variants.ts';
import { sweep, type SweepResult } from '../pipeline/sweep.ts';
import { markdownTable } from '../report/markdown.ts';
import { planRun, runPipeline, type RunResult, type StageSelection } from '../pipeline/runner.ts';
import { STAGES } from '../pipeline/stages/index.ts';
import { createReporter, type ReporterKind } from '../ui/reporter.ts';
import { action } from './fail.ts';

const stageNames = STAGES.map((s) => s.name);

interface RunFlags extends StageSelection {
  dryRun?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export function makeRunCommand(): Command {
  return new Command('run')
    .description('run the pipeline of a config file (reusing every stage whose inputs are unchanged)')
    .argument('<config>', 'a config file, e.g. configs/demo.ts')
    .addOption(new Option('--force <stages...>', 'redo these stages, and the stages that read them, even if cached').choices(stageNames))
    .addOption(new Option('--from <stage>', 'redo this stage and every stage after it').choices(stageNames))
    .addOption(new Option('--only <stages...>', 'run only these stages (the stages before them must be made already)').choices(stageNames))
    .option('--dry-run', 'print the plan (which stages run, resume or are reused) and stop')
    .option('--verify', 'before reusing a stage, check the SHA-256 of its outputs (a rerun always checks their sizes)')
    .option('--quiet', 'print only the final summary')
    .option('--json', 'print JSON events, one a line, instead of progress bars')
    .action(
      action(async (file: string, opts: RunFlags) => {
        const { config, source } = await loadConfigFile(file);
        const selection: StageSelection = { force: opts.force, from: opts.from, only: opts.only, verify: opts.verify };
        const variants = config.variants ? expandVariants(config, source) : null;
        if (opts.dryRun) {
          const planOf = (c: Id3Config) =>
            planRun(c, selection).map((p) => ({ stage: p.stage.name, action: p.action, key: p.key, plan: p.stage.describe(c) }));
          const plans = variants ? variants.map((v) => ({ variant: v.variant, run: v.config.name, stages: planOf(v.config) })) : null;
          if (opts.json) console.log(JSON.stringify(plans ?? planOf(config), null, 2));
          else if (plans) for (const p of plans) printPlan(p.stages, `variant ${p.variant} (run ${p.run})`);
          else printPlan(planOf(config));
          return;
        }
        const kind: ReporterKind = opts.json ? 'json' : opts.quiet ? 'quiet' : 'bars';
        const reporter = createReporter(kind);
        reporter.info(`id3 run ${config.name} (config ${path.relative(process.cwd(), source) || source})`);
        let result: RunResult | SweepResult;
        try {
          result = variants
            ? await sweep(config, config.variants, { reporter, ...selection })
            : await runPipeline(config, { reporter, ...selection });
        } finally {
          reporter.close();
          await closeSession();
        }
        if (opts.json) return;
        if ('rows' in result) printSweep(result);
        else printWhereThingsWent(result);
      }),
    );
}

function printPlan(stages: { stage: string; action: string; key: string; plan: string }[], title?: string): void {
  if (title) console.log(title);
  for (const p of stages) console.log(`${title ? '  ' : ''}${p.action.padEnd(7)} ${p.stage.padEnd(9)} ${p.key.slice(0, 12)}  ${p.plan}`);
}

function printSweep(result: SweepResult): void {
  const here = (p: string) => path.relative(process.cwd(), p) || '.';
  console.log(`\n${result.rows.length} variants (${here(result.csv)}, ${here(result.markdown)}):\n`);
  console.log(markdownTable(result.columns, result.rows));
  if (result.verification) {
    const seeds = result.rows[0]?.seeds;
    console.log(
      `\nverification accuracy, % (the encoder is trained on the real faces; train-fr on each variant's data${seeds ? `; mean over ${seeds} seeds` : ''}):\n`,
    );
    console.log(markdownTable(result.verification.columns, result.verification.rows));
  }
  if (result.margins.length) console.log(`\n${result.margins.join('\n')}`);
}

function printWhereThingsWent(result: RunResult): void {
  const here = (p: string) => path.relative(process.cwd(), path.resolve(result.dir, p)) || '.';
  console.log(`\nrun folder: ${here('.')} (config.json, run.json, one folder per stage)`);
  for (const stage of STAGES) {
    const summary = result.stages[stage.name]?.record.summary;
    if (summary && stage.outputLines) for (const line of stage.outputLines(summary as never, here)) console.log(line);
  }
}
