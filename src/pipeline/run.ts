/** `run`: the library's entry point: a config file or object in, a finished run out. */
import { loadConfigFile, resolveConfig } from '../config/load.ts';
import type { Id3ConfigInput } from '../config/schema.ts';
import { runPipeline, type RunOptions, type RunResult } from './runner.ts';

/** Run the pipeline of a config file path or a config object (as `defineConfig` takes it). */
export async function run(config: string | Id3ConfigInput, options: RunOptions = {}): Promise<RunResult> {
  const resolved = typeof config === 'string' ? (await loadConfigFile(config)).config : resolveConfig(config, '(config object)');
  if (resolved.variants) throw new Error(`run: config ${resolved.name} has variants; run them with sweep(config)`);
  return runPipeline(resolved, options);
}
