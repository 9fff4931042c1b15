/**
 * The demo: the whole pipeline at CPU scale on the parametric face set (faces the project
 * renders itself, with known identities and attributes). Runs on a 2-core machine.
 */
import { defineConfig } from 'id3';

export default defineConfig({
  name: 'demo',
  dataset: {
    kind: 'parametric',
    identities: 300,
    imagesPerIdentity: 16,
    resolution: 64,
    valIdentities: 30,
    testIdentities: 60,
    seed: 0,
  },
});
