/**
 * ID³ at the paper's scale, with CASIA-WebFace as the diffusion model's training set (the paper's
 * comparison with DCFace): configs/ffhq.ts with another dataset, every other section shared. GPU only;
 * never run by this project, which had no GPU: the figures are estimates (docs/gpu.md).
 *
 * CASIA-WebFace as insightface distributes it: RecordIO of ~0.49M aligned 112×112 JPEGs of 10,575
 * identities, already in the ArcFace framing, so prepare neither detects nor aligns; it writes each image
 * out as a file, embeds it with f and predicts age and pose.
 *
 * Expects, relative to the working directory (docs/gpu.md, "Data layout"; you download them):
 *   data/faces_webface_112x112/train.rec, train.idx
 *   weights/arcface-r100/backbone.pth, data/benchmarks/{lfw,cfp_fp,cplfw,agedb_30,calfw}.bin (as ffhq.ts),
 *   and optionally data/IJB_release/IJBC/ (IJB-C 1:1, reported when present, as ffhq.ts)
 *
 * Estimated cost: as ffhq.ts (the same model, steps, set size and recipe), about 35–70 A100-hours; the
 * train stage holds the decoded set in host memory (≈ 18.5 GB).
 */
import { defineConfig } from 'id3';
import ffhq from './ffhq.ts';

export default defineConfig({
  ...ffhq,
  name: 'casia',
  dataset: {
    kind: 'recordio',
    rec: 'data/faces_webface_112x112/train.rec',
    align: false,
    framing: 'arcface-112',
    // 500 of the 10,575 identities held out: the conditions the guidance choice is scored on.
    valIdentities: 500,
    batchSize: 256,
  },
});
