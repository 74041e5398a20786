/**
 * The MD5 and CRC32C of served objects, as Cloud Storage reports them in `x-goog-hash` and ETag. A URL list
 * hands the MD5 to Storage Transfer Service, which checks it, so these must be the bytes' true digests. They
 * cost a full read of the file, so each file is read once and the result kept for as long as its size and
 * modification time stay the same.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { crc32c } from '@node-rs/crc32';

/** The digests of one file. */
export interface Checksums {
  /** The 16 raw bytes of the MD5. */
  md5: Buffer;
  /** The CRC32C as an unsigned 32-bit integer. */
  crc32c: number;
}

/** Cloud Storage's `x-goog-hash` value: both digests, base64 of their big-endian bytes. */
export function googHash(sums: Checksums): string {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(sums.crc32c >>> 0);
  return `crc32c=${crc.toString('base64')},md5=${sums.md5.toString('base64')}`;
}

/** Digests of files, computed once per version of each file; concurrent requests share one read. */
export class ChecksumCache {
  private readonly entries = new Map<string, { version: string; sums: Promise<Checksums> }>();

  /** The digests of `file`, whose size and modification time identify the version wanted. */
  get(file: string, size: number, mtimeMs: number): Promise<Checksums> {
    const version = `${size}:${mtimeMs}`;
    const cached = this.entries.get(file);
    if (cached?.version === version) return cached.sums;

    const sums = computeChecksums(file, size);
    // a failed read is not cached: the next request tries again
    sums.catch(() => {
      if (this.entries.get(file)?.sums === sums) this.entries.delete(file);
    });
    this.entries.set(file, { version, sums });
    return sums;
  }
}

async function computeChecksums(file: string, size: number): Promise<Checksums> {
  const md5 = createHash('md5');
  let crc = 0;
  let read = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const bytes = chunk as Buffer;
    md5.update(bytes);
    crc = crc32c(bytes, crc);
    read += bytes.length;
  }
  // the file changed under us: digests of a mix of two versions must never be announced
  if (read !== size) throw new Error(`${file} changed while its checksums were computed`);
  return { md5: md5.digest(), crc32c: crc };
}
