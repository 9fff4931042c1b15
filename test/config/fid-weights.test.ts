/** generate.fidInceptionWeights: refused at load when the file is not there, and hashed (not its path)
 *  into the generate stage's cache key only when set. */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, resolveConfig } from '../../src/config/load.ts';
import type { Id3ConfigInput } from '../../src/config/schema.ts';
import { stageKeys } from '../../src/pipeline/runner.ts';
import { generateStage } from '../../src/pipeline/stages/generate.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'id3-fid-config-'));
const weights = path.join(dir, 'pt_inception-2015-12-05-6726825d.pth');
writeFileSync(weights, 'stand-in bytes: only hashed here');

const generating = (generate: object = {}): Id3ConfigInput => ({
  name: 'fid',
  runsDir: path.join(dir, 'runs'),
  dataset: { kind: 'parametric' },
  encoder: { kind: 'train', recipe: {} },
  diffusion: {},
  anchors: {},
  generate,
});

/** A config file whose default export is `config`. */
function configFile(name: string, config: object): string {
  const file = path.join(dir, name);
  writeFileSync(file, `export default ${JSON.stringify(config)};\n`);
  return file;
}

async function loadProblems(file: string): Promise<string[]> {
  const err = await loadConfigFile(file).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message.startsWith(file)).toBe(true);
  return (err as ConfigError).problems;
}

describe('generate.fidInceptionWeights', () => {
  it('refuses a missing file at load, naming the field and the path', async () => {
    const missing = path.join(dir, 'nowhere', 'pt_inception-2015-12-05-6726825d.pth');
    const file = configFile('missing.ts', generating({ fidInceptionWeights: missing }));
    expect(await loadProblems(file)).toEqual([
      `generate.fidInceptionWeights: no such file ${missing} (pytorch-fid's Inception weights, pt_inception-2015-12-05-6726825d.pth, which you supply: id3 never downloads it)`,
    ]);
    // A folder is no weights file either.
    expect(await loadProblems(configFile('folder.ts', generating({ fidInceptionWeights: dir })))).toEqual([
      expect.stringMatching(new RegExp(`^generate\\.fidInceptionWeights: no such file ${dir} `)),
    ]);
  });

  it('refuses a variant that names a missing file, under the variant', async () => {
    const missing = path.join(dir, 'other.pth');
    const file = configFile('variant.ts', {
      ...generating({ fidInceptionWeights: weights }),
      variants: { other: { generate: { fidInceptionWeights: missing } }, same: { generate: { seed: 1 } } },
    });
    expect(await loadProblems(file)).toEqual([
      expect.stringMatching(new RegExp(`^variants\\.other\\.generate\\.fidInceptionWeights: no such file ${missing} `)),
    ]);
  });

  it('loads when the file is there; resolving alone never looks for it (a run folder reopens elsewhere)', async () => {
    const { config } = await loadConfigFile(configFile('present.ts', generating({ fidInceptionWeights: weights })));
    expect(config.generate?.fidInceptionWeights).toBe(weights);
    expect(resolveConfig(generating({ fidInceptionWeights: '/nowhere.pth' }), 'x.ts').generate?.fidInceptionWeights).toBe('/nowhere.pth');
    expect(resolveConfig(generating(), 'x.ts').generate).not.toHaveProperty('fidInceptionWeights');
  });

  it("enters the generate key as the file's SHA-256, and only when set", () => {
    const keyOf = (generate: object) => stageKeys(resolveConfig(generating(generate), 'x.ts'));
    const without = keyOf({});
    expect(generateStage.slice(resolveConfig(generating(), 'x.ts'))).not.toHaveProperty('fidInceptionWeights');
    expect(generateStage.slice(resolveConfig(generating({ fidInceptionWeights: weights }), 'x.ts'))).toMatchObject({
      fidInceptionWeights: { sha256: createHash('sha256').update('stand-in bytes: only hashed here').digest('hex') },
    });
    const withFid = keyOf({ fidInceptionWeights: weights });
    expect(withFid.generate).not.toBe(without.generate);
    expect({ ...withFid, generate: undefined, 'train-fr': undefined, evaluate: undefined, report: undefined }).toEqual({
      ...without,
      generate: undefined,
      'train-fr': undefined,
      evaluate: undefined,
      report: undefined,
    }); // the stages before generate keep their keys

    const moved = path.join(dir, 'moved.pth');
    copyFileSync(weights, moved);
    expect(keyOf({ fidInceptionWeights: moved }).generate).toBe(withFid.generate); // the bytes, not the path
    writeFileSync(moved, 'other bytes');
    expect(keyOf({ fidInceptionWeights: moved }).generate).not.toBe(withFid.generate);

    rmSync(moved); // gone after load: the key fails before the stage runs, naming the field and the path
    expect(() => keyOf({ fidInceptionWeights: moved })).toThrow(`generate.fidInceptionWeights: cannot read ${moved}`);
  });
});
