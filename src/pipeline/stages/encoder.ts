/**
 * encoder: the frozen identity encoder f of the ID³ stages. With `encoder.kind: 'train'` this
 * stage trains it, a face-recognition model on the prepared training split (the same job as
 * train-fr); other kinds name an encoder made elsewhere, and this stage does not run.
 *
 * `encoderSpec` is what every later stage hands to Python (`id3_torch.encoders.load_identity_encoder`),
 * and `encoderKey` what goes into their cache keys: for an encoder made elsewhere, the bytes of
 * its files, so that replacing them redoes what was made with them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { EncoderConfig, Id3Config } from '../../config/schema.ts';
import type { EncoderSpec } from '../../jobs/common.ts';
import type { Stage } from '../stage.ts';
import { describeRecipe, recipeSlice, summarizeTraining, trainFaceRecognition, type TrainFrSummary } from './train-fr.ts';
import { outputsOf } from './outputs-of.ts';

const encoderOf = (config: Id3Config): EncoderConfig => {
  if (!config.encoder) throw new Error('the config has no encoder section');
  return config.encoder;
};

const trainedRecipe = (config: Id3Config) => {
  const encoder = encoderOf(config);
  if (encoder.kind !== 'train') throw new Error(`encoder: kind ${encoder.kind} is not trained in the run`);
  return encoder.recipe;
};

/** The encoder as python/id3_torch/encoders/registry.py takes it (paths absolute). */
export function encoderSpec(config: Id3Config, runDir: string): EncoderSpec {
  return specOf(encoderOf(config), runDir);
}

/** One `encoder` section as the registry takes it; `runDir` is where a `train` encoder is trained. */
export function specOf(encoder: EncoderConfig, runDir: string): EncoderSpec {
  switch (encoder.kind) {
    case 'train':
      return { kind: 'folder', path: outputsOf(runDir).encoder.folder };
    case 'folder':
      return { kind: 'folder', path: path.resolve(encoder.path) };
    case 'dlib':
      return { kind: 'dlib', framing: encoder.framing };
    case 'arcface':
    case 'adaface':
      return { kind: encoder.kind, path: path.resolve(encoder.path), backbone: encoder.backbone, framing: encoder.framing };
  }
}

/** The installed @vladmandic/face-api's model/ folder, where the dlib descriptor's weights ship. */
export function faceApiModels(): { dir: string; version: string } {
  const packageJson = createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json');
  return {
    dir: path.join(path.dirname(packageJson), 'model'),
    version: (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version,
  };
}

export function fileDigest(file: string, field: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    throw new Error(`${field}: cannot read ${file}`);
  }
}

/** What identifies the encoder in a later stage's cache key (the encoder stage's own key, when
 *  trained here, enters through `after`). */
export function encoderKey(config: Id3Config): unknown {
  const encoder = encoderOf(config);
  switch (encoder.kind) {
    case 'train':
      return { kind: 'train' };
    case 'folder': {
      const folder = path.resolve(encoder.path);
      const card = path.join(folder, 'encoder.json');
      const weights = (JSON.parse(readFileSync(card, 'utf8')) as { weights: string }).weights;
      return { kind: 'folder', card: fileDigest(card, 'encoder.path'), weights: fileDigest(path.join(folder, weights), 'encoder.path') };
    }
    case 'dlib': {
      const models = faceApiModels();
      return {
        kind: 'dlib',
        framing: encoder.framing,
        weights: fileDigest(path.join(models.dir, 'face_recognition_model.bin'), 'encoder (face-api)'),
      };
    }
    case 'arcface':
    case 'adaface':
      return {
        kind: encoder.kind,
        backbone: encoder.backbone,
        framing: encoder.framing,
        weights: fileDigest(path.resolve(encoder.path), 'encoder.path'),
      };
  }
}

export const encoderStage: Stage<TrainFrSummary> = {
  name: 'encoder',
  version: 1,
  after: ['prepare'],
  enabled: (config) => config.encoder?.kind === 'train',
  slice: (config) => recipeSlice(trainedRecipe(config)),
  describe: (config) => `identity encoder: ${describeRecipe(trainedRecipe(config))}`,
  summarize: summarizeTraining,
  run: (context) =>
    trainFaceRecognition(trainedRecipe(context.config), context, {
      manifest: outputsOf(context.runDir).prepare.manifest,
      splits: ['train'],
      label: 'encoder',
    }),
};
