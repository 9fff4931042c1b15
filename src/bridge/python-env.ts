/** Where the project's Python lives, and the folder that holds the id3_torch package. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const pythonPackageDir = path.join(projectRoot, 'python');

/** `ID3_PYTHON` if set, else the environment that `npm run setup` made in `.venv`. */
export function pythonExecutable(): string {
  const fromEnv = process.env.ID3_PYTHON;
  if (fromEnv) return fromEnv;
  const venvPython = path.join(projectRoot, '.venv', 'bin', 'python');
  if (!existsSync(venvPython)) {
    throw new Error(
      `no Python environment at ${venvPython}: run \`npm run setup\` (or set ID3_PYTHON to a Python with the packages of requirements.txt)`,
    );
  }
  return venvPython;
}
