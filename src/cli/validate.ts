import { Command } from 'commander';
import { loadConfigFile } from '../config/load.ts';
import { stageKeys } from '../pipeline/runner.ts';
import { action } from './fail.ts';

export function makeValidateCommand(): Command {
  return new Command('validate')
    .description('check a config file and print it resolved, with every default filled in')
    .argument('<config>', 'a config file')
    .option('--json', 'print only the resolved config as JSON')
    .action(
      action(async (file: string, opts: { json?: boolean }) => {
        const { config, source } = await loadConfigFile(file);
        if (opts.json) {
          console.log(JSON.stringify(config, null, 2));
          return;
        }
        console.log(`${source}: valid`);
        console.log(JSON.stringify(config, null, 2));
        console.log('stage keys:');
        for (const [stage, key] of Object.entries(stageKeys(config))) console.log(`  ${stage.padEnd(10)} ${key.slice(0, 16)}`);
      }),
    );
}
