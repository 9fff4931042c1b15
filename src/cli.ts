/** The `id3` command line: one small factory per subcommand. */
import { Command } from 'commander';
import { makeDataCommand } from './cli/data.ts';
import { makeAnchorsCommand } from './cli/anchors.ts';
import { makeDoctorCommand } from './cli/doctor.ts';
import { makeEncodeCommand } from './cli/encode.ts';
import { makeRunCommand } from './cli/run.ts';
import { makeValidateCommand } from './cli/validate.ts';
import { makeVerifyCommand } from './cli/verify.ts';

// A reader that stops early (`id3 run --dry-run | head -1`) closes our stdout: end quietly, as Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

const program = new Command('id3')
  .description('ID³ synthetic face-recognition datasets: train, generate, and prove what they are worth')
  .addCommand(makeRunCommand())
  .addCommand(makeValidateCommand())
  .addCommand(makeVerifyCommand())
  .addCommand(makeEncodeCommand())
  .addCommand(makeDataCommand())
  .addCommand(makeDoctorCommand())
  .addCommand(makeAnchorsCommand())
  .showHelpAfterError();

await program.parseAsync(process.argv);
