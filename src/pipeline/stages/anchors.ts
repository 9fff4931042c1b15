/**
 * anchors: N identity anchors w_i on S^{d-1} (src/anchors/), d being the encoder's embedding
 * size. With an encoder, the training identity centres are computed first (Python job
 * `anchors.identity-centres`, `centres.npy`): the report gives the anchors' closest approach to
 * them, and `exclusionAngle` keeps every anchor that far from all of them.
 *
 * Writes anchors.npy (N × d float32, row i = identity i's anchor) and report.json. A killed
 * descent resumes from its last checkpoint (tammes.json + tammes-<step>.npy, at most a minute old).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runJob, type JobProgress } from '../../bridge/jobs.ts';
import { Tensor } from '../../bridge/tensor.ts';
import { folderCheckpoints } from '../../anchors/checkpoint.ts';
import { designAnchors, type AnchorReport } from '../../anchors/design.ts';
import type { AnchorsConfig } from '../../config/anchors.ts';
import type { Id3Config } from '../../config/schema.ts';
import { writeJsonAtomic } from '../../util/files.ts';
import { eventsLog } from '../events.ts';
import type { Stage, StageContext } from '../stage.ts';
import { encoderKey, encoderSpec } from './encoder.ts';
import { outputsOf } from './outputs-of.ts';
import { identityCentresJob } from '../../jobs/anchors.ts';

/** Paths relative to the run folder. */
export interface AnchorsSummary {
  anchors: string;
  report: string;
  /** The training identity centres, when there is an encoder. */
  centres: string | null;
  count: number;
  dim: number;
  minAngle: number;
  meanNearestAngle: number;
  /** The random start's minimum angle, for comparison. */
  startMinAngle: number;
  /** Closest approach of an anchor to a training identity centre, in degrees. */
  closestTrainingAngle: number | null;
}

const CHECKPOINT_SECONDS = 60;

const anchorsOf = (config: Id3Config): AnchorsConfig => {
  if (!config.anchors) throw new Error('anchors: the config has no anchors section');
  return config.anchors;
};

/** 'cpu' or 'cuda' for the run's device setting. */
export async function tensorDevice({ config, session }: StageContext): Promise<string> {
  if (config.device !== 'auto') return config.device;
  return (await session.call<{ cudaAvailable: boolean }>('system.info')).cudaAvailable ? 'cuda' : 'cpu';
}

export const anchorsStage: Stage<AnchorsSummary> = {
  name: 'anchors',
  // 2: the smooth minimum of angles at an annealed τ (src/anchors/tammes.ts)
  version: 2,
  after: ['prepare', 'encoder'],
  enabled: (config) => config.anchors !== undefined,
  // `chunk` changes memory and speed, not the anchors.
  slice: (config) => {
    const { chunk: _chunk, ...anchors } = anchorsOf(config);
    return { anchors, encoder: config.encoder ? encoderKey(config) : null };
  },
  describe: (config) => {
    const a = anchorsOf(config);
    const how = a.method === 'tammes' ? `Tammes descent, ${a.steps} steps` : 'random';
    const zone = a.exclusionAngle === 'auto' ? 'as far' : `≥ ${a.exclusionAngle}°`;
    const apart = a.exclusionAngle === 'auto' ? ' as most training identities are from each other' : '';
    return `${a.count} identity anchors (${how}, seed ${a.seed})${a.exclusionAngle ? `, ${zone} from every training identity${apart}` : ''}`;
  },
  outputLines: (s, here) => [`  anchors:  ${here(s.anchors)} (${s.count} × ${s.dim}; ${here(s.report)})`],
  summarize: (s) =>
    `${s.count} anchors in ${s.dim}-d: min angle ${s.minAngle.toFixed(2)}° (random start ${s.startMinAngle.toFixed(2)}°), ` +
    `mean nearest ${s.meanNearestAngle.toFixed(2)}°` +
    (s.closestTrainingAngle === null ? '' : `, closest training identity ${s.closestTrainingAngle.toFixed(2)}°`),

  async run(context: StageContext): Promise<AnchorsSummary> {
    const { config, runDir, dir, session, reporter, signal } = context;
    const a = anchorsOf(config);
    const anchorsFile = path.join(dir, 'anchors.npy');
    const reportFile = path.join(dir, 'report.json');
    const centresFile = path.join(dir, 'centres.npy');
    const eventsPath = path.join(dir, 'events.jsonl');
    const events = eventsLog(eventsPath); // for the descent, which runs here; Python jobs write their own
    const show = (p: JobProgress) => reporter.progress('anchors', p);
    const relative = (p: string) => path.relative(runDir, p);
    const summary = (report: AnchorReport): AnchorsSummary => ({
      anchors: relative(anchorsFile),
      report: relative(reportFile),
      centres: config.encoder ? relative(centresFile) : null,
      count: report.count,
      dim: report.dim,
      minAngle: report.minAngle,
      meanNearestAngle: report.meanNearestAngle,
      startMinAngle: report.start.minAngle,
      closestTrainingAngle: report.training?.closestAngle ?? null,
    });
    if (existsSync(anchorsFile) && existsSync(reportFile)) return summary(JSON.parse(readFileSync(reportFile, 'utf8')) as AnchorReport);

    const device = await tensorDevice(context);
    let dim = a.dim;
    let centres: Tensor | undefined;
    if (config.encoder) {
      const found = await runJob(
        session,
        identityCentresJob,
        {
          encoder: encoderSpec(config, runDir),
          manifest: outputsOf(runDir).prepare.manifest,
          split: 'train',
          out: centresFile,
          device: config.device,
        },
        { onProgress: show, signal, eventsPath },
      );
      if (dim !== undefined && dim !== found.embeddingSize) {
        throw new Error(`anchors.dim: ${dim}, but the encoder's embeddings have ${found.embeddingSize} dimensions`);
      }
      dim = found.embeddingSize;
      centres = await Tensor.loadNpy(session, centresFile, { device });
    }
    if (dim === undefined) throw new Error('anchors.dim: expected a dimension d (or an encoder section, whose embedding size it is)');

    const checkpoints = folderCheckpoints(session, dir, CHECKPOINT_SECONDS, device);
    try {
      const onProgress = (p: JobProgress) => {
        show(p);
        events(p);
      };
      const { anchors, report } = await designAnchors(session, { ...a, dim }, { device, centres, onProgress, signal, checkpoints });
      await anchors.saveNpy(anchorsFile);
      await anchors.dispose();
      writeJsonAtomic(reportFile, report);
      checkpoints.clear();
      return summary(report);
    } finally {
      await centres?.dispose();
    }
  },
};
