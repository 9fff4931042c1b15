/** Pieces several job contracts share. */
import { z } from 'zod';
import { Framing } from '../config/encoder.ts';

/** The config's `device` as Python resolves it (auto = cuda when available). */
export const Device = z.enum(['auto', 'cpu', 'cuda']);

/** An absolute path, made by the TypeScript side. */
export const FilePath = () => z.string().min(1);

/** A number as the bridge carries it: NaN and ±Infinity included (src/bridge/json.ts); z.number() refuses
 *  them. Exported to JSON Schema as "number" (src/jobs/index.ts), which Python's NaN is. */
export const float = () => z.custom<number>((v) => typeof v === 'number', { error: 'expected a number' });

export const count = () => z.number().int().nonnegative();

/** A face encoder as python/id3_torch/encoders/registry.py `load_identity_encoder` takes it. */
export const EncoderSpec = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('folder'), path: FilePath() }),
  z.strictObject({ kind: z.literal('dlib'), framing: Framing }),
  z.strictObject({ kind: z.enum(['arcface', 'adaface']), path: FilePath(), backbone: z.string(), framing: Framing }),
]);
export type EncoderSpec = z.infer<typeof EncoderSpec>;

/** Held-out real images of the prepared manifest: its test split, else val. */
export const HeldOutReal = z.strictObject({ manifest: FilePath(), split: z.enum(['test', 'val']) });

/** One attribute's figures for a value per attribute: age, yaw, pitch, roll (python/id3_torch/data/attributes.py). */
export const perAttribute = <T extends z.ZodType>(value: T) => z.strictObject({ age: value, yaw: value, pitch: value, roll: value });

/** Images left out because they do not decode; the first 100 listed. */
export const Skipped = z.array(z.looseObject({ index: count(), where: z.string(), problem: z.string() }));
