/**
 * The demo: the pipeline at CPU scale on the parametric face set (faces the project renders
 * itself, with known identities and attributes), on a 2-core machine in about ten minutes.
 * It trains a small face-recognition model on 1,050 rendered identities and scores it on 100
 * held-out ones, beside the raw-pixel baseline on the same pairs.
 */
import { defineConfig } from 'id3';

export default defineConfig({
  name: 'demo',
  dataset: {
    kind: 'parametric',
    identities: 1200,
    imagesPerIdentity: 8,
    resolution: 32,
    valIdentities: 50,
    testIdentities: 100,
    seed: 0,
  },
  trainFr: {
    backbone: 'iresnet-small',
    inputSize: 32,
    embeddingSize: 128,
    head: 'cosface',
    s: 16,
    m: 0.2,
    epochs: 10,
    decayEpochs: [7, 9],
    warmupEpochs: 1,
    batchSize: 64,
  },
  evaluate: { pairs: 4000 },
});
