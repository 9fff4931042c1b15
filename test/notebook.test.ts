/**
 * examples/id3.ipynb, executed as Jupyter executes it: nbclient (scripts/notebook-env.sh, from its lock)
 * with the Deno kernel (`deno jupyter --install`), on a toy run; any cell error fails the test. Its
 * outputs must hold the run's figures: the grids as inline PNGs, the accuracy in its table.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PythonSession } from '../src/bridge/session.ts';
import { resolveConfig } from '../src/config/load.ts';
import { runPipeline } from '../src/pipeline/runner.ts';
import type { EvaluateSummary } from '../src/pipeline/stages/evaluate.ts';
import { pngSize } from './fixtures/png.ts';
import { repoRoot } from './fixtures/processes.ts';
import { toyId3Config } from './fixtures/toy-id3.ts';

const EXECUTE = `
import sys, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
# iopub_timeout: how long outputs may trail a cell's reply; nbclient's 4 s lost an inline PNG on a loaded machine.
NotebookClient(notebook, kernel_name="deno", timeout=600, iopub_timeout=60, resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(notebook, sys.argv[2])
`;

interface Output {
  output_type: string;
  data?: Record<string, string | string[]>;
}

describe('examples/id3.ipynb', () => {
  it('executes under the Deno kernel on a finished run, its figures inline', async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), 'id3-ipynb-'));
    const runsDir = path.join(scratch, 'runs');
    const session = await PythonSession.start({ env: { OMP_NUM_THREADS: '1' } });
    let evaluation: EvaluateSummary;
    try {
      const made = await runPipeline(resolveConfig(toyId3Config(runsDir), 'test'), { session });
      evaluation = made.stages.evaluate!.record.summary as EvaluateSummary;
    } finally {
      await session.close();
    }
    // The kernel, as a user installs it, into a private Jupyter data folder.
    const deno = path.join(repoRoot, 'node_modules', '.bin', 'deno');
    execFileSync(deno, ['jupyter', '--install', '--force'], { env: { ...process.env, HOME: scratch }, stdio: 'ignore' });
    const python = execFileSync('bash', [path.join(repoRoot, 'scripts', 'notebook-env.sh')], { encoding: 'utf8' }).trim();
    const executed = path.join(scratch, 'executed.ipynb');
    await promisify(execFile)(
      python,
      ['-c', EXECUTE, path.join(repoRoot, 'examples', 'id3.ipynb'), executed, path.join(repoRoot, 'examples')],
      {
        timeout: 200_000,
        env: {
          ...process.env,
          JUPYTER_PATH: path.join(scratch, '.local', 'share', 'jupyter'),
          ID3_NOTEBOOK_RUN: path.join(runsDir, 'toy'),
          OMP_NUM_THREADS: '1',
        },
      },
    );

    const outputs = (JSON.parse(readFileSync(executed, 'utf8')) as { cells: { outputs?: Output[] }[] }).cells.flatMap(
      (c) => c.outputs ?? [],
    );
    expect(outputs.filter((o) => o.output_type === 'error')).toEqual([]);
    const pngs = outputs.flatMap((o) => (o.data?.['image/png'] ? [Buffer.from(String(o.data['image/png']), 'base64')] : []));
    expect(pngs).toHaveLength(3); // the model's samples, the generated set, the new identities
    expect(pngs.map((png) => png.subarray(1, 4).toString())).toEqual(['PNG', 'PNG', 'PNG']);
    const sampled = path.join(scratch, 'sampled.png');
    writeFileSync(sampled, pngs[2]!);
    expect(pngSize(sampled)).toEqual({ width: 4 * 32, height: 3 * 32 }); // 3 identities × 4 images, whole
    const tables = outputs.flatMap((o) => (o.data?.['text/markdown'] ? [[o.data['text/markdown']].flat().join('')] : []));
    const accuracy = evaluation.rows.find((r) => r.model === 'iresnet-small (train-fr)')!.accuracy;
    expect(tables.some((t) => t.includes(`| iresnet-small (train-fr) | held-out | ${Number((100 * accuracy).toPrecision(4))} |`))).toBe(
      true,
    );
    expect(tables.some((t) => /^\| variant \| bounds \|/.test(t) && t.includes('| tight |') && t.includes('| loose |'))).toBe(true);
  }, 300_000);
});
