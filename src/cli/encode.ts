/**
 * `id3 encode <images...>`: embeddings (and predicted age and pose) of face images or photos, with the
 * encoders of the config's `encoder` section (dlib by default: the one real encoder that installs offline).
 * Each image is detected and aligned to the encoder's framing unless it is already a crop in it (`--align auto`),
 * and the output says which was done; `--out file.npz` keeps the results of many images.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PythonSession } from '../bridge/session.ts';
import { EncoderConfig } from '../config/encoder.ts';
import { ConfigError } from '../config/errors.ts';
import { specOf } from '../pipeline/stages/encoder.ts';
import { action, UsageError } from './fail.ts';

interface EncodeOptions {
  encoder: string;
  path?: string;
  backbone?: string;
  framing?: string;
  align: string;
  out?: string;
  json?: boolean;
}

interface Encoded {
  encoder: { inputSize: number; embeddingSize: number; framing: string; normalization: string };
  /** framing: how the image was read, e.g. "aligned to arcface-112", "as given (already framed as dlib-150)", "no face found". */
  images: Array<{ file: string; found: boolean; framing: string; embedding: number[] | null; attributes: Record<string, number> | null }>;
}

const ALIGN_MODES = ['auto', 'always', 'never'];

const KINDS = ['dlib', 'arcface', 'adaface'];

/** The options as an `encoder` config section, checked by the config's own schema. */
export function encoderFromOptions(opts: EncodeOptions): EncoderConfig {
  const section = KINDS.includes(opts.encoder)
    ? {
        kind: opts.encoder,
        ...(opts.path ? { path: opts.path } : {}),
        ...(opts.backbone ? { backbone: opts.backbone } : {}),
        ...(opts.framing ? { framing: opts.framing } : {}),
      }
    : { kind: 'folder', path: opts.encoder };
  const parsed = EncoderConfig.safeParse(section);
  if (!parsed.success) {
    const flag = (key: PropertyKey | undefined) => (key === 'kind' || key === undefined ? '--encoder' : `--${String(key)}`);
    throw new ConfigError(
      'id3 encode',
      parsed.error.issues.map((i) => `${flag(i.path[0])}: ${i.message}`),
    );
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
    const head = image
      .embedding!.slice(0, 4)
      .map((x) => x.toFixed(4))
      .join(', ');
    console.log(
      `[${n}] ${files[n]} (${image.framing}): [${head}, …]  age ${a.age!.toFixed(0)}, yaw ${a.yaw!.toFixed(1)}°, pitch ${a.pitch!.toFixed(1)}°, roll ${a.roll!.toFixed(1)}°`,
    );
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
    .description('print the embeddings (and predicted age, pose) of face images or photos')
    .argument('<images...>', "JPEG/PNG files: photos, or square face crops in the encoder's framing")
    .option('--encoder <name>', `${KINDS.join(' | ')} | a train-fr folder`, 'dlib')
    .option('--path <checkpoint>', 'arcface/adaface: the checkpoint file')
    .option('--backbone <name>', 'arcface: iresnet50 | iresnet100; adaface: ir50 | ir101')
    .option('--framing <name>', 'how the images are cropped: arcface-112 (default) | dlib-150 | ffhq')
    .option(
      '--align <mode>',
      "auto: detect and align each image unless it is already a crop in the encoder's framing; always; never (every image a crop)",
      'auto',
    )
    .option('--out <file.npz>', 'also write embeddings (N × d, NaN rows where no face was found), files, found, framing and the attributes')
    .option('--json', "print JSON: the encoder's metadata, and per image file, found, framing, embedding, attributes")
    .action(
      action(async (images: string[], opts: EncodeOptions) => {
        for (const file of images) if (!existsSync(file)) throw new Error(`${file}: no such file`);
        if (!ALIGN_MODES.includes(opts.align))
          throw new UsageError(`encode: --align: expected ${ALIGN_MODES.join(', ')}, got ${opts.align}`);
        if (opts.out !== undefined && !opts.out.endsWith('.npz'))
          throw new UsageError(`encode: --out: expected a file ending in .npz, got ${opts.out}`);
        if (opts.out !== undefined && !existsSync(path.dirname(path.resolve(opts.out))))
          throw new UsageError(`encode: --out: no such folder ${path.dirname(opts.out)}`);
        const encoder = encoderFromOptions(opts);
        const session = await PythonSession.start();
        let result: Encoded;
        try {
          result = await session.call<Encoded>('encoders.encode', {
            encoder: specOf(encoder, process.cwd()),
            images: images.map((f) => path.resolve(f)),
            align: opts.align,
            ...(opts.out !== undefined ? { out: path.resolve(opts.out) } : {}),
          });
        } finally {
          await session.close();
        }
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else print(result, images);
      }),
    );
}
