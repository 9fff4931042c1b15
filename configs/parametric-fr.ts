/**
 * The face-recognition proof on the parametric face set (CPU scale): the demo's recipe trained
 * longer on 3,000 rendered identities, verified on 200 held-out ones beside the raw-pixel
 * baseline on the same pairs. It shows that the set is a real recognition problem (pixels fail,
 * a trained model succeeds), and its encoder is the frozen identity encoder that the ID³ stages
 * use on this set.
 */
import { defineConfig } from 'id3';
import { faceRecognition } from './demo.ts';

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
  trainFr: { ...faceRecognition, epochs: 16, decayEpochs: [11, 14] },
  evaluate: { pairs: 6000 },
});
