/**
 * `id3 encode --encoder <name> <images...>`: embeddings (and predicted age and pose) of a few images,
 * with the encoders of the config's `encoder` section; `--align` detects and aligns photos first.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PythonSession } from '../bridge/session.ts';
import { EncoderConfig } from '../config/encoder.ts';
import { ConfigError } from '../config/errors.ts';
import { specOf } from '../pipeline/stages/encoder.ts';
import { action } from './fail.ts';

interface EncodeOptions {
  encoder: string;
  path?: string;
  backbone?: string;
  framing?: string;
  align?: boolean;
  json?: boolean;
}

interface Encoded {
  encoder: { inputSize: number; embeddingSize: number; framing: string; normalization: string };
  images: Array<{ file: string; found: boolean; embedding: number[] | null; attributes: Record<string, number> | null }>;
}

const KINDS = ['dlib', 'arcface', 'adaface'];

/** The options as an `encoder` config section, checked by the config's own schema. */
export function encoderFromOptions(opts: EncodeOptions): EncoderConfig {
  const section = KINDS.includes(opts.encoder)
    ? { kind: opts.encoder, ...(opts.path ? { path: opts.path } : {}), ...(opts.backbone ? { backbone: opts.backbone } : {}), ...(opts.framing ? { framing: opts.framing } : {}) }
    : { kind: 'folder', path: opts.encoder };
  const parsed = EncoderConfig.safeParse(section);
  if (!parsed.success) {
    const flag = (key: PropertyKey | undefined) => (key === 'kind' || key === undefined ? '--encoder' : `--${String(key)}`);
    throw new ConfigError('id3 encode', parsed.error.issues.map((i) => `${flag(i.path[0])}: ${i.message}`));
  }
  return parsed.data;
}

function distance(a: number[], b: number[]): number {
  return Math.sqrt(a.reduce((sum, x, i) => sum + (x - b[i]!) ** 2, 0));
}

function print(result: Encoded, files: string[]): void {
  const e = result.encoder;
  console.log(`encoder: ${e.embeddingSize}-d, ${e.inputSize} px, framing ${e.framing}, input ${e.normalization}`);
  const found = result.images.filter((i) => i.found);
  for (const [n, image] of result.images.entries()) {
    if (!image.found) {
      console.log(`[${n}] ${files[n]}: no face found`);
      continue;
    }
    const a = image.attributes!;
    const head = image.embedding!.slice(0, 4).map((x) => x.toFixed(4)).join(', ');
    console.log(`[${n}] ${files[n]}: [${head}, …]  age ${a.age!.toFixed(0)}, yaw ${a.yaw!.toFixed(1)}°, pitch ${a.pitch!.toFixed(1)}°, roll ${a.roll!.toFixed(1)}°`);
  }
  if (found.length > 1) {
    console.log('distances (L2 of unit embeddings):');
    for (const a of found) {
      const index = result.images.indexOf(a);
      console.log(`  [${index}] ${found.map((b) => distance(a.embedding!, b.embedding!).toFixed(3)).join('  ')}`);
    }
  }
}

export function makeEncodeCommand(): Command {
  return new Command('encode')
    .description('print the embeddings (and predicted age, pose) of a few face images')
    .argument('<images...>', 'JPEG/PNG files: square face crops in the encoder\'s framing, or photos with --align')
    .requiredOption('--encoder <name>', `${KINDS.join(' | ')} | a train-fr folder`)
    .option('--path <checkpoint>', 'arcface/adaface: the checkpoint file')
    .option('--backbone <name>', 'arcface: iresnet50 | iresnet100; adaface: ir50 | ir101')
    .option('--framing <name>', 'how the images are cropped: arcface-112 (default) | dlib-150 | ffhq')
    .option('--align', 'detect the face in each photo and align it first')
    .option('--json', 'print JSON: the encoder\'s metadata, and per image file, found, embedding, attributes')
    .action(
      action(async (images: string[], opts: EncodeOptions) => {
        for (const file of images) if (!existsSync(file)) throw new Error(`${file}: no such file`);
        const encoder = encoderFromOptions(opts);
        const session = await PythonSession.start();
        let result: Encoded;
        try {
          result = await session.call<Encoded>('encoders.encode', {
            encoder: specOf(encoder, process.cwd()),
            images: images.map((f) => path.resolve(f)),
            align: opts.align ?? false,
          });
        } finally {
          await session.close();
        }
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else print(result, images);
      }),
    );
}
