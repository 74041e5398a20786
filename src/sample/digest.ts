/**
 * Size, MD5 and CRC32C of a file, computed from its bytes as they are written, in the forms Cloud Storage
 * gives them (base64 of the MD5's 16 bytes, base64 of the CRC32C's 4 big-endian bytes), so that the manifest
 * can be compared with an object's metadata as is.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
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

/** A file being written, with the {@link Digest} of what was written to it. */
export class DigestedFile {
  /** The checksums of the bytes written so far. */
  readonly digest = new Digest();
  private readonly handle: FileHandle;
  private closed = false;

  private constructor(handle: FileHandle) {
    this.handle = handle;
  }

  /** Creates (or empties) the file at `file` and opens it for writing. */
  static async create(file: string): Promise<DigestedFile> {
    return new DigestedFile(await open(file, 'w'));
  }

  /** Appends `data`, which must not change until the promise settles. */
  async write(data: Uint8Array): Promise<void> {
    this.digest.update(data);
    // a write may take fewer bytes than it was given; the rest goes in the next one
    for (let at = 0; at < data.length;) {
      const { bytesWritten } = await this.handle.write(data, at, data.length - at);
      at += bytesWritten;
    }
  }

  /** Closes the file; calling it again does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}
