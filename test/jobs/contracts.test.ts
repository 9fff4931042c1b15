/**
 * The job contracts (src/jobs/): the JSON Schemas Python checks are the ones the zod contracts export,
 * both sides know the same job kinds, and arguments off a contract are refused on each side, naming the field.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkJobArgs, runJob } from '../../src/bridge/jobs.ts';
import { pythonExecutable, pythonPackageDir } from '../../src/bridge/python-env.ts';
import { PythonSession } from '../../src/bridge/session.ts';
import { trainJob } from '../../src/jobs/diffusion.ts';
import { contractsFileText, JOBS } from '../../src/jobs/index.ts';

let session: PythonSession;
beforeAll(async () => {
  session = await PythonSession.start();
});
afterAll(async () => {
  await session.close();
});

/** What src/pipeline/stages/train.ts sends, at toy size. */
const trainArgs = () => ({
  manifest: '/tmp/none/manifest.csv',
  outDir: '/tmp/none/train',
  encoder: { kind: 'folder' as const, path: '/tmp/none/encoder' },
  device: 'cpu' as const,
  model: { channels: 16, channelMults: [1, 2] },
  conditioning: {},
  schedule: {},
  loss: { w: 0.5 },
  training: { steps: 6, batchSize: 8 },
});

describe('job contracts', () => {
  it('python/id3_torch/jobs/contracts.json is what the zod contracts export (npm run contracts)', () => {
    const committed = readFileSync(path.join(pythonPackageDir, 'id3_torch', 'jobs', 'contracts.json'), 'utf8');
    expect(committed, 'contracts.json is stale: run `npm run contracts`').toBe(contractsFileText());
  });

  it('TypeScript and Python know the same job kinds, each with a contract', () => {
    const python = JSON.parse(
      execFileSync(
        pythonExecutable(),
        [
          '-c',
          'import json; from id3_torch.jobs import job_kinds, contracts; print(json.dumps([sorted(job_kinds()), contracts.contract_kinds()]))',
        ],
        { env: { ...process.env, PYTHONPATH: pythonPackageDir, ID3_BRIDGE_TESTING: '0' }, encoding: 'utf8' },
      ),
    ) as [string[], string[]];
    const kinds = JOBS.map((j) => j.kind).sort();
    expect(new Set(kinds).size).toBe(kinds.length);
    expect(python[0]).toEqual(kinds);
    expect(python[1]).toEqual(kinds);
  });

  it('arguments off the contract are refused before they are sent, naming the field', async () => {
    const args = trainArgs();
    expect(checkJobArgs(trainJob, args).training.steps).toBe(6); // defaults filled: what Python receives
    const bad = { ...args, training: { ...args.training, steps: 0 } };
    await expect(runJob(session, trainJob, bad)).rejects.toThrow(/job train, argument training\.steps: .*(>0|> ?0|positive)/i);
    await expect(runJob(session, trainJob, { ...args, encoder: { kind: 'folder' } } as never)).rejects.toThrow(
      /job train, argument encoder\.path/,
    );
  });

  it('Python refuses the same arguments on entry, naming the field, and accepts what TypeScript sends', async () => {
    const sent = checkJobArgs(trainJob, trainArgs());
    const start = (args: object) => session.call('job.start', { kind: 'train', args });
    await expect(start({ ...sent, training: { ...sent.training, steps: 0 } })).rejects.toThrow(
      /job train, argument training\.steps: 0 is less than or equal to the minimum of 0/,
    );
    const { manifest: _manifest, ...noManifest } = sent;
    await expect(start(noManifest)).rejects.toThrow(/job train, argument \(the arguments\): 'manifest' is a required property/);
    await expect(start({ ...sent, extra: 1 })).rejects.toThrow(/Additional properties are not allowed \('extra' was unexpected\)/);
    // Whole arguments pass the contract and reach the job, which fails on the missing manifest file instead.
    const id = await start(sent);
    let reply: { state: string; error?: { message: string } };
    do reply = await session.call('job.poll', { id });
    while (reply.state === 'running');
    expect(reply.state).toBe('failed');
    expect(reply.error!.message).toMatch(/manifest\.csv/);
  });
});
