/**
 * Where the stages' outputs are in a run folder: the one place a stage that reads another's files
 * learns their paths (each stage folder is runs/<name>/<stage>/, a link into the stage store).
 */
import path from 'node:path';

export function outputsOf(runDir: string) {
  const at = (...parts: string[]) => path.join(runDir, ...parts);
  return {
    prepare: { manifest: at('prepare', 'manifest.csv') },
    /** A model folder (encoder.json + weights): an encoder spec `{ kind: 'folder', path }`. */
    encoder: { folder: at('encoder') },
    judge: { folder: at('judge') },
    attributes: { folder: at('attributes') },
    train: { folder: at('train') },
    guidance: { choice: at('guidance', 'choice.json') },
    anchors: { anchors: at('anchors', 'anchors.npy'), centres: at('anchors', 'centres.npy') },
    generate: { manifest: at('generate', 'dataset', 'manifest.csv') },
    trainFr: { folder: at('train-fr') },
    run: { record: at('run.json') },
  };
}
