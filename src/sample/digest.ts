/**
 * Size, MD5 and CRC32C of a file, computed from its bytes as they are written, in the forms Cloud Storage
 * gives them (base64 of the MD5's 16 bytes, base64 of the CRC32C's 4 big-endian bytes), so that the manifest
 * can be compared with an object's metadata as is.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import { type SampleFile } from './layout.js';

/** The checksums of a byte stream, fed chunk by chunk. */
export class Digest {
  private readonly md5 = createHash('md5');
  private crc = 0;
  private bytes = 0;

  /** Bytes fed so far. */
  get size(): number {
    return this.bytes;
  }

  /** Feeds the next bytes. */
  update(data: Uint8Array): void {
    this.md5.update(data);
    this.crc = crc32c(data, this.crc);
    this.bytes += data.length;
  }

  /** Size and checksums of the bytes fed, as the manifest has them; the digest is finished by this call. */
  result(): Pick<SampleFile, 'bytes' | 'md5' | 'crc32c'> {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(this.crc >>> 0);
    return { bytes: this.bytes, md5: this.md5.digest('base64'), crc32c: crc.toString('base64') };
  }

  /** The manifest's entry for the bytes fed; the digest is finished by this call. */
  file(relativePath: string, rows: number): SampleFile {
    return { path: relativePath, ...this.result(), rows };
  }
}

/** A pass-through stream that feeds what passes to a {@link Digest}. */
export function digesting(digest: Digest, highWaterMark?: number): Transform {
  return new Transform({
    ...(highWaterMark === undefined ? {} : { highWaterMark }),
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      digest.update(chunk);
      callback(null, chunk);
    },
  });
}
