/** The `id3` command as a user meets it: help, validate, doctor. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from './fixtures/processes.ts';

const elsewhere = mkdtempSync(path.join(tmpdir(), 'id3-cli-'));
function configFile(name: string, text: string): string {
  const file = path.join(elsewhere, name);
  writeFileSync(file, text);
  return file;
}

describe('id3 CLI', () => {
  it('--help lists the commands', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const command of ['run', 'validate', 'verify', 'doctor']) expect(stdout).toMatch(new RegExp(`^\\s+${command} `, 'm'));
  });

  it('validate: a bad config exits 2 with one line per problem and no stack trace', async () => {
    const file = configFile(
      'bad.ts',
      "import { defineConfig } from 'id3';\nexport default defineConfig({ runsDir: '', dataset: { kind: 'parametric', identities: -3, batchSize: 0 } } as never);\n",
    );
    const { code, stdout, stderr } = await runCli(['validate', file]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([
      `${file}: invalid config`,
      '  runsDir: expected a folder path, got ""',
      '  dataset.identities: expected a positive integer, got -3',
      '  dataset.batchSize: expected a positive integer, got 0',
    ]);
  });

  it('validate --json: a config outside the repository that imports id3 resolves, named after its file', async () => {
    const file = configFile(
      'faces-small.ts',
      "import { defineConfig } from 'id3';\nexport default defineConfig({ dataset: { kind: 'parametric', identities: 12, valIdentities: 2, testIdentities: 2 } });\n",
    );
    const { code, stdout } = await runCli(['validate', '--json', file], { cwd: elsewhere });
    expect(code).toBe(0);
    const config = JSON.parse(stdout);
    expect(config.name).toBe('faces-small');
    expect(config.dataset).toMatchObject({ identities: 12, imagesPerIdentity: 16, resolution: 64 });
  });

  it('validate: a syntax error is shown with its file, line and column, and the line itself', async () => {
    const file = configFile(
      'typo.ts',
      "import { defineConfig } from 'id3';\nexport default defineConfig({\n  dataset: { kind: 'parametric' identities: 3 },\n});\n",
    );
    const { code, stderr } = await runCli(['validate', file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:3:32: ERROR: Expected "}" but found "identities"`);
    expect(stderr).toContain("3 |   dataset: { kind: 'parametric' identities: 3 },\n      |                                 ^");
  });

  it('validate: sizes this machine cannot hold are refused with the estimate', async () => {
    const file = configFile(
      'huge.ts',
      "export default { dataset: { kind: 'parametric', identities: 1e12 }, encoder: { kind: 'train', recipe: {} }, diffusion: {} };\n",
    );
    const { code, stderr } = await runCli(['validate', file]);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /dataset\.identities: 1000000000000 identities × 16 images at 64 px hold about 1\.97e\+8 GB decoded, which the diffusion trainer keeps in memory; this machine has [\d.]+ GB/,
    );
    expect(stderr).toMatch(/dataset\.identities: the images this config writes need about 1\.18e\+8 GB of disk; runs has [\d.]+ GB free/);
    // A runs folder in the kernel's proc file system (it made Node spin at 100 % CPU): nothing can be written there.
    const proc = configFile(
      'proc.ts',
      "export default { runsDir: '/proc/id3-runs', dataset: { kind: 'parametric', identities: 12, valIdentities: 1, testIdentities: 1 } };\n",
    );
    const refused = await runCli(['run', proc, '--quiet']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/of disk; \/proc\/id3-runs has 0\.00 GB free/);
  });

  it('a reader that stops early ends the command quietly (no EPIPE trace)', async () => {
    const child = spawn(
      'bash',
      ['-c', 'node bin/id3.js run configs/demo.ts --dry-run | head -1 > /dev/null; echo "status ${PIPESTATUS[0]}" >&2'],
      { cwd: repoRoot },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    await new Promise((resolve) => child.once('exit', resolve));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(stderr.trim()).toBe('status 0');
  });

  it('run: an unknown --force stage is refused by name', async () => {
    const { code, stderr } = await runCli(['run', 'configs/demo.ts', '--force', 'paint']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/argument 'paint' is invalid\. Allowed choices are prepare/);
  });

  it('doctor --json reports the Python side it really started', async () => {
    const { code, stdout } = await runCli(['doctor', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(true);
    expect(report.node).toBe(process.version);
    expect(report.python.packages.torch).toMatch(/^\d+\.\d+/);
    expect(report.python.executable).toMatch(/\.venv\/bin\/python$/);
    expect(typeof report.python.cudaAvailable).toBe('boolean');
    expect(report.python.gpus.length > 0).toBe(report.python.cudaAvailable);
    expect(report.nodePackages.pythonia).toBe('1.2.6');
    expect(report.disk.freeGiB).toBeGreaterThan(0);
  });

  it('doctor says what is wrong when Python is missing', async () => {
    const { code, stdout } = await runCli(['doctor'], { env: { ID3_PYTHON: '/nonexistent/python' } });
    expect(code).toBe(1);
    expect(stdout).toMatch(/python\s+NOT WORKING: /);
  });
});
