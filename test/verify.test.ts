/** `id3 verify` as a user meets it: a hand-worked pair file, the printout, JSON, the results CSV, errors. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pythonExecutable } from '../src/bridge/python-env.ts';
import { repoRoot, runCli } from './fixtures/processes.ts';

/**
 * 20 pairs of unit 2-D embeddings, 2 per fold: a same pair at squared distance 0.455 and a
 * different pair at 1.505, except fold 0's different pair, an impostor at 0.205. Every fold's
 * threshold is 0.46; fold 0 scores 1/2, the others 2/2: accuracy 0.95, std 0.15 (worked out in
 * python/tests/test_verification.py). With 10 different pairs no FAR below 0.1 admits an
 * impostor, so the TAR threshold is 0.205 and no genuine pair passes it: TAR 0.
 * e1 is scaled by 3: the command normalises what it is given.
 */
const HAND_WORKED = `
import math, sys
import numpy as np
d = [0.455, 0.205] + [0.455, 1.505] * 9
theta = np.arccos(1 - np.array(d) / 2)
e1 = np.tile([3.0, 0.0], (20, 1))
e2 = np.stack([np.cos(theta), np.sin(theta)], axis=1)
np.savez(sys.argv[1], e1=e1, e2=e2, same=np.array([1, 0] * 10, dtype=np.int8))
np.savez(sys.argv[2], e1=e1, e2=e2)
`;

const folder = mkdtempSync(path.join(tmpdir(), 'id3-verify-'));
execFileSync(pythonExecutable(), ['-c', HAND_WORKED, path.join(folder, 'hand.npz'), path.join(folder, 'no-flags.npz')]);
const HEADER = 'time,model,dataset,protocol,pairs,accuracy,std,threshold,tar@1e-3,tar@1e-4';

describe('id3 verify', () => {
  it('prints accuracy ± std, threshold and TAR@FAR, and appends one row a run under one header', async () => {
    const printed = await runCli(['verify', '--embeddings', 'hand.npz'], { cwd: folder });
    expect(printed.stderr).toBe('');
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^pairs +20 \(hand\.npz\)$/m);
    expect(printed.stdout).toMatch(/^accuracy +95\.00% ± 15\.00% \(10-fold, thresholds 0:4:0\.01, squared L2, flip-sum\)$/m);
    expect(printed.stdout).toMatch(/^threshold +0\.460 /m);
    expect(printed.stdout).toMatch(/^TAR@FAR +1e-3: 0\.00%, 1e-4: 0\.00%$/m);
    expect(printed.stdout).toMatch(/^results +appended to verification\.csv$/m);

    const json = await runCli(['verify', '--embeddings', 'hand.npz', '--json', '--name', 'iresnet50'], { cwd: folder });
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result.pairs).toBe(20);
    expect(result.accuracy).toBeCloseTo(0.95, 12);
    expect(result.std).toBeCloseTo(0.15, 12);
    expect(result.threshold).toBeCloseTo(0.46, 12);
    expect(result.tarAtFar).toEqual({ '1e-3': 0, '1e-4': 0 });
    expect(result.folds.map((f: { accuracy: number }) => f.accuracy)).toEqual([0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(result.folds.every((f: { pairs: number }) => f.pairs === 2)).toBe(true);

    const lines = readFileSync(path.join(folder, 'verification.csv'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    const protocol = '"10-fold, thresholds 0:4:0.01, squared L2, flip-sum"';
    expect(lines[1]).toMatch(
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z,hand,hand\\.npz,${protocol},20,0\\.950000,0\\.150000,0\\.4600,0\\.000000,0\\.000000$`),
    );
    expect(lines[2]).toMatch(/,iresnet50,hand\.npz,.*,20,0\.950000,0\.150000,0\.4600,0\.000000,0\.000000$/);
  });

  it('names the file and the missing array', async () => {
    const { code, stdout, stderr } = await runCli(['verify', '--embeddings', 'no-flags.npz', '--results', 'r.csv'], { cwd: folder });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`ValueError: ${path.join(folder, 'no-flags.npz')}: missing array(s) same; it holds e1, e2`);
  });

  it('refuses a missing embeddings file and a results file with other columns, before starting Python', async () => {
    const missing = await runCli(['verify', '--embeddings', 'nowhere.npz'], { cwd: folder });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('id3: nowhere.npz: no such file');
    writeFileSync(path.join(folder, 'other.csv'), 'model,accuracy\nx,0.9\n');
    const foreign = await runCli(['verify', '--embeddings', 'hand.npz', '--results', 'other.csv'], { cwd: folder });
    expect(foreign.code).toBe(1);
    expect(foreign.stderr.trim()).toBe(
      `id3: other.csv: its header is "model,accuracy"; expected "${HEADER}" (choose another file with --results)`,
    );
    expect(readFileSync(path.join(folder, 'other.csv'), 'utf8')).toBe('model,accuracy\nx,0.9\n');
  });

  it('--pairs <.bin> --model <train-fr folder>: embeds the pair images with the model and scores them', async () => {
    // A .bin of 100 parametric-face pairs and an untrained small encoder with its card.
    const MAKE = `
import json, sys, torch
sys.path.insert(0, sys.argv[2])
from id3_torch.data import parametric
from id3_torch.data.verification_bin import write_verification_bin
from id3_torch.evaluation import make_pairs
from id3_torch.recognition.checkpoints import save_safetensors
from id3_torch.recognition.iresnet import build_backbone
identity = torch.arange(20).repeat_interleave(4)
pictures, _ = parametric.render_images(0, identity, torch.arange(4).repeat(20), 32)
pairs = make_pairs(identity.numpy(), total=100, seed=0)
images = torch.stack([pictures[i] for ab in zip(pairs.a, pairs.b) for i in ab])
write_verification_bin(sys.argv[1] + "/set.bin", images, torch.from_numpy(pairs.same), format="png")
torch.manual_seed(0)
backbone = build_backbone("iresnet-small", input_size=32, embedding_size=16, widths=(4, 4, 8, 8), layers=(1, 1, 1, 1))
save_safetensors(sys.argv[1] + "/backbone.safetensors", backbone)
json.dump({"backbone": "iresnet-small", "inputSize": 32, "embeddingSize": 16, "widths": [4, 4, 8, 8], "layers": [1, 1, 1, 1],
           "weights": "backbone.safetensors"}, open(sys.argv[1] + "/encoder.json", "w"))
`;
    execFileSync(pythonExecutable(), ['-c', MAKE, folder, path.join(repoRoot, 'python')]);
    const { code, stdout } = await runCli(['verify', '--pairs', 'set.bin', '--model', '.', '--json', '--results', 'model.csv'], {
      cwd: folder,
    });
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.pairs).toBe(100);
    expect(result.folds).toHaveLength(10);
    expect(result.accuracy).toBeGreaterThan(0);
    expect(result.accuracy).toBeLessThanOrEqual(1);
    const row = readFileSync(path.join(folder, 'model.csv'), 'utf8').trim().split('\n')[1]!;
    expect(row).toContain(`,set.bin,`); // the dataset column names the pair set
    expect(row).toContain(`,100,${result.accuracy.toFixed(6)},`);

    const alone = await runCli(['verify', '--pairs', 'set.bin'], { cwd: folder });
    expect(alone.code).toBe(1);
    expect(alone.stderr.trim()).toBe('id3: --pairs and --model go together');
  });

  it('--ijb <folder> --model: the IJB 1:1 protocol, equal to the library on the same folder, in its own results file', async () => {
    // A small IJB-C release (python/tests/ijb_helper.py) and an untrained 112-px encoder with its card; the
    // library's own result on them (python/id3_torch/evaluation/ops.py verify_ijb).
    const MAKE = `
import json, os, sys, torch
sys.path[:0] = [sys.argv[2], sys.argv[3]]
from ijb_helper import write_ijb_folder
from id3_torch.evaluation.ops import verify_ijb
from id3_torch.recognition.checkpoints import save_safetensors
from id3_torch.recognition.iresnet import build_backbone
write_ijb_folder(sys.argv[1] + "/IJBC", subjects=5, templates_each=2)
os.makedirs(sys.argv[1] + "/ijb-model")
torch.manual_seed(0)
backbone = build_backbone("iresnet-small", input_size=112, embedding_size=16, widths=(4, 4, 8, 8), layers=(1, 1, 1, 1))
save_safetensors(sys.argv[1] + "/ijb-model/backbone.safetensors", backbone)
json.dump({"backbone": "iresnet-small", "inputSize": 112, "embeddingSize": 16, "widths": [4, 4, 8, 8], "layers": [1, 1, 1, 1],
           "weights": "backbone.safetensors"}, open(sys.argv[1] + "/ijb-model/encoder.json", "w"))
print(json.dumps(verify_ijb(sys.argv[1] + "/IJBC", sys.argv[1] + "/ijb-model", device="cpu", detector_score=False)))
`;
    const made = execFileSync(
      pythonExecutable(),
      ['-c', MAKE, folder, path.join(repoRoot, 'python'), path.join(repoRoot, 'python', 'tests')],
      {
        encoding: 'utf8',
      },
    );
    const library = JSON.parse(made);
    const json = await runCli(['verify', '--ijb', 'IJBC', '--model', 'ijb-model', '--no-detector-score', '--json'], { cwd: folder });
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toEqual(library);
    expect(result.templates).toBe(10);
    expect(result.pairs).toBe(45);
    expect(Object.keys(result.tarAtFar)).toEqual(['1e-6', '1e-5', '1e-4', '1e-3', '1e-2', '1e-1']);

    const printed = await runCli(['verify', '--ijb', 'IJBC', '--model', 'ijb-model', '--name', 'small'], { cwd: folder });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^templates +10 in 45 pairs \(IJBC\) embedded by ijb-model$/m);
    expect(printed.stdout).toMatch(/^TAR@FAR +1e-6: \d+\.\d\d%, 1e-5: .*, 1e-1: \d+\.\d\d%$/m);
    expect(printed.stdout).toMatch(/^results +appended to verification-ijb\.csv$/m);
    const lines = readFileSync(path.join(folder, 'verification-ijb.csv'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('time,model,dataset,protocol,templates,pairs,tar@1e-6,tar@1e-5,tar@1e-4,tar@1e-3,tar@1e-2,tar@1e-1,auc');
    expect(lines[1]).toContain(`,ijb-model,IJBC,`);
    expect(lines[1]).toMatch(new RegExp(`,10,45,${result.tarAtFar['1e-6'].toFixed(6)},.*,${result.auc.toFixed(6)}$`));
    expect(lines[2]).toContain(',small,IJBC,');

    const alone = await runCli(['verify', '--ijb', 'IJBC'], { cwd: folder });
    expect(alone.stderr.trim()).toBe('id3: --ijb and --model go together');
    const wrong = await runCli(['verify', '--ijb', '.', '--model', 'ijb-model'], { cwd: folder });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('expected an IJB-B or IJB-C release folder with meta/ijbb_template_pair_label.txt');
  });
});
