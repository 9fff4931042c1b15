/**
 * The face-recognition proof on the parametric face set (CPU scale, about ten minutes on two
 * cores): an iResNet trained on 3,000 rendered identities, verified on 200 held-out ones, beside
 * the raw-pixel baseline on the same pairs. It shows that the set is a real recognition problem
 * (pixels fail, a trained model succeeds), and its encoder is the frozen identity encoder that
 * the ID³ stages use on this set.
 */
import { defineConfig } from 'id3';

export default defineConfig({
  name: 'parametric-fr',
  dataset: {
    kind: 'parametric',
    identities: 3300,
    imagesPerIdentity: 8,
    resolution: 32,
    valIdentities: 100,
    testIdentities: 200,
  },
  trainFr: {
    backbone: 'iresnet-small',
    inputSize: 32,
    embeddingSize: 128,
    head: 'cosface',
    s: 16,
    m: 0.2,
    epochs: 16,
    decayEpochs: [11, 14],
    warmupEpochs: 1,
    batchSize: 64,
  },
  evaluate: { pairs: 6000 },
});
