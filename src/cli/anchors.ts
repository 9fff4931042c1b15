/**
 * `id3 anchors`: identity anchors alone, for users who want only them. The options are the
 * config section `anchors` (checked by the same schema), the result an `.npy` file (N × d
 * float32) and the anchor report, printed or as JSON.
 */
import { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { designAnchors, type AnchorReport } from '../anchors/design.ts';
import { PythonSession } from '../bridge/session.ts';
import { Tensor, TensorChain } from '../bridge/tensor.ts';
import { AnchorsConfig } from '../config/anchors.ts';
import { formatIssues } from '../config/errors.ts';
import { createReporter } from '../ui/reporter.ts';
import { action, UsageError } from './fail.ts';

/** Each option of the command and the config field it sets. */
const FLAGS = {
  n: 'count',
  dim: 'dim',
  seed: 'seed',
  steps: 'steps',
  method: 'method',
  temperature: 'temperature',
  stepSize: 'stepSize',
  neighbours: 'neighbours',
  refreshEvery: 'refreshEvery',
  exclusionAngle: 'exclusionAngle',
  chunk: 'chunk',
} as const satisfies Record<string, keyof AnchorsConfig>;

type FlagValues = { [flag in keyof typeof FLAGS]?: string };
interface AnchorsOptions extends FlagValues {
  out: string;
  centres?: string;
  device: string;
  json?: boolean;
}

/** A number where the text is one, else the text (for the schema to refuse, naming the option). */
const numberOrText = (text: string): number | string => (Number.isFinite(Number(text)) && text.trim() !== '' ? Number(text) : text);

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The options as the config section, checked by its schema; problems name the options. */
function designFromOptions(opts: AnchorsOptions): AnchorsConfig & { dim: number } {
  const input: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(FLAGS) as [keyof typeof FLAGS, keyof AnchorsConfig][]) {
    const text = opts[flag];
    if (text === undefined) continue;
    input[field] = field === 'temperature' ? text.split(',').map(numberOrText) : field === 'method' ? text : numberOrText(text);
  }
  const flagOf = Object.fromEntries(Object.entries(FLAGS).map(([flag, field]) => [field, `--${kebab(flag)}`]));
  const problems: string[] = [];
  const parsed = AnchorsConfig.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    for (const line of formatIssues(parsed.error.issues, input)) problems.push(line.replace(/^(\w+)/, (field) => flagOf[field] ?? field));
  }
  if (opts.dim === undefined) problems.push('--dim: expected the dimension d of the anchors');
  if (opts.exclusionAngle !== undefined && opts.centres === undefined)
    problems.push('--exclusion-angle: expected --centres, the identity centres to keep away from');
  const folder = path.dirname(path.resolve(opts.out));
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    problems.push(`--out: expected a file in an existing folder, got ${opts.out}`);
  if (opts.centres !== undefined && !existsSync(opts.centres)) problems.push(`--centres: no such file ${opts.centres}`);
  if (problems.length > 0 || !parsed.success) throw new UsageError(`anchors: invalid options\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return parsed.data as AnchorsConfig & { dim: number };
}

function printReport(report: AnchorReport, out: string): void {
  const line = (label: string, value: string) => console.log(`${label.padEnd(25)}${value}`);
  const deg = (x: number) => `${x.toFixed(2)}°`;
  line(
    'anchors',
    `${report.count} in ${report.dim}-d, ${report.method}${report.steps ? ` (${report.steps} steps)` : ''}, seed ${report.seed} → ${out}`,
  );
  line('minimum angle', `${deg(report.minAngle)} (random start ${deg(report.start.minAngle)})`);
  line('mean nearest angle', `${deg(report.meanNearestAngle)} (random start ${deg(report.start.meanNearestAngle)})`);
  line('max / mean cosine', `${report.maxCosine.toFixed(4)} / ${report.meanCosine.toFixed(4)}`);
  if (report.training) {
    const zone =
      report.training.exclusionAngle === null
        ? ''
        : ` (exclusion zone ${deg(report.training.exclusionAngle)}${report.training.exclusionAutomatic ? ', auto' : ''})`;
    line('closest identity centre', `${deg(report.training.closestAngle)} of ${report.training.identities}${zone}`);
  }
  line('time', `${report.seconds.toFixed(1)} s on ${report.device}`);
}

export function makeAnchorsCommand(): Command {
  return new Command('anchors')
    .description('identity anchors on the unit sphere: the Tammes problem (maximise the minimum angle), written as an .npy file')
    .option('--n <N>', 'number of anchors')
    .option('--dim <D>', "dimension d (the identity encoder's embedding size)")
    .option('--seed <S>', 'seed of the random start (default 0)')
    .option('--steps <K>', 'projected gradient steps (default 200 up to 2,000 anchors, 100 above)')
    .option('--method <name>', 'tammes | random (default tammes)')
    .option('--temperature <first,last>', 'τ_0,τ_1 of the smooth minimum of angles, radians, annealed (default 0.1,0.001)')
    .option('--step-size <eta>', 'first step size η (default 0.1)')
    .option('--neighbours <k>', 'nearest anchors each one is pushed from (default 32)')
    .option('--refresh-every <steps>', 'steps between exact nearest-neighbour searches (default 5)')
    .option('--centres <file.npy>', 'identity centres (K × d) to report the closest approach to')
    .option(
      '--exclusion-angle <deg>',
      "keep every anchor at least this far from every centre (needs --centres); auto: the 5th percentile of the centres' nearest-neighbour angles",
    )
    .option('--chunk <rows>', 'rows per block of the exact searches (memory, not results; default 1024)')
    .option('--device <device>', 'cpu, cuda, cuda:N or auto', 'auto')
    .option('--out <file>', 'where the anchors go (N × d float32 .npy)', 'anchors.npy')
    .option('--json', 'print the report as JSON')
    .action(
      action(async (opts: AnchorsOptions) => {
        const design = designFromOptions(opts);
        const reporter = createReporter(opts.json ? 'quiet' : 'bars');
        const session = await PythonSession.start();
        let report: AnchorReport;
        try {
          const device =
            opts.device === 'auto'
              ? (await session.call<{ cudaAvailable: boolean }>('system.info')).cudaAvailable
                ? 'cuda'
                : 'cpu'
              : opts.device;
          const centres = opts.centres
            ? await new TensorChain(Tensor.loadNpy(session, path.resolve(opts.centres), { device })).cast('float32').normalize(1)
            : undefined;
          const designed = await designAnchors(session, design, { device, centres, onProgress: (p) => reporter.progress('anchors', p) });
          await designed.anchors.saveNpy(path.resolve(opts.out));
          report = designed.report;
        } finally {
          reporter.close();
          await session.close();
        }
        if (opts.json) console.log(JSON.stringify({ out: path.resolve(opts.out), ...report }, null, 2));
        else printReport(report, opts.out);
      }),
    );
}
