/**
 * Bulk tensor data between Node and Python. JSON lists would cost seconds per million numbers,
 * so data crosses as raw little-endian float32 bytes in a file (in RAM when /dev/shm is there),
 * and the READER deletes it (python/id3_torch/bridge/tensors.py `from_file` / `to_file`).
 */
import { accessSync, constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Transfer files of this process start with this: `${transferDir()}/${transferPrefix}N.f32`. */
export const transferPrefix = `id3-tensor-${process.pid}-`;

let dir: string | null = null;
let counter = 0;

/** /dev/shm when it exists and is writable (files there never touch a disk), else os.tmpdir(). */
export function transferDir(): string {
  if (dir === null) {
    // Float32Array uses the platform's byte order and the file format is little-endian.
    if (os.endianness() !== 'LE') throw new Error('tensor transfer needs a little-endian platform');
    try {
      accessSync('/dev/shm', constants.W_OK);
      dir = '/dev/shm';
    } catch {
      dir = os.tmpdir();
    }
  }
  return dir;
}

/** A fresh file name, unique across processes (pid) and within this one (counter). */
export function transferPath(): string {
  counter += 1;
  return path.join(transferDir(), `${transferPrefix}${counter}.f32`);
}

/**
 * Write `data` to a fresh transfer file and hand its path to `consume` (a bridge call whose
 * Python side reads and deletes it). The file is removed here only if that never happened.
 */
export async function sendFloat32<T>(data: Float32Array, consume: (file: string) => Promise<T>): Promise<T> {
  const file = transferPath();
  try {
    await writeAll(file, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return await consume(file);
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}

/**
 * Let `produce` (a bridge call) write a transfer file, then read it as float32 and delete it.
 */
export async function receiveFloat32(produce: (file: string) => Promise<unknown>): Promise<Float32Array> {
  const file = transferPath();
  try {
    await produce(file);
    return await readAll(file);
  } finally {
    // The reader deletes; `.part` is what a Python that died mid-write leaves (tensors.py).
    await Promise.all([rm(file, { force: true }), rm(`${file}.part`, { force: true })]);
  }
}

async function writeAll(file: string, bytes: Uint8Array): Promise<void> {
  // One handle and large writes: fs.promises.writeFile would split the data into 512 KiB writes.
  const handle = await open(file, 'wx');
  try {
    for (let done = 0; done < bytes.byteLength;) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, done);
      done += bytesWritten;
    }
  } finally {
    await handle.close();
  }
}

async function readAll(file: string): Promise<Float32Array> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size % 4 !== 0) throw new Error(`transfer file ${file} holds ${size} bytes, not whole float32 values`);
    // Not pooled, so offset 0 and 4-byte aligned; not zero-filled, since every byte is read over.
    const bytes = Buffer.allocUnsafeSlow(size);
    for (let done = 0; done < size;) {
      const { bytesRead } = await handle.read(bytes, done, size - done, done);
      if (bytesRead === 0) throw new Error(`transfer file ${file} ended after ${done} of ${size} bytes`);
      done += bytesRead;
    }
    return new Float32Array(bytes.buffer, bytes.byteOffset, size / 4);
  } finally {
    await handle.close();
  }
}
