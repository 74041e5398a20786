/**
 * What a collection reads from: the description of a source (plain HTTP(S) URLs or a Kaggle dataset) and
 * the source manifest that source access makes of it. Types only, so that workflow code can import them.
 */

/** Public HTTP(S) URLs, one per file, such as REES46's monthly files. */
export interface HttpSourceSpec {
  kind: 'http';
  urls: string[];
}

/** A Kaggle dataset, resolved through the Kaggle API v1 with the worker's credentials. */
export interface KaggleSourceSpec {
  kind: 'kaggle';
  /** The Kaggle API base, such as `https://www.kaggle.com/api/v1`. */
  apiUrl: string;
  owner: string;
  slug: string;
  /** The dataset version; the current one when absent. */
  version?: number;
  /** The files to collect, by name (`2019-Oct.csv`); all of the version's files when absent. */
  files?: string[];
}

/** Where a collection reads from. */
export type SourceSpec = HttpSourceSpec | KaggleSourceSpec;

/** How a file's bytes are packed: as published, before any decompression. */
export type Packaging = 'gzip' | 'zip' | 'none';

/** One file the source offers, as source access found it. Holds no secret. */
export interface SourceFile {
  /** The file's name at the source (`2019-Oct.csv.gz`, or `2019-Oct.csv` for a Kaggle file). */
  name: string;
  /**
   * A stable URL of the file without secrets: the file's own URL for HTTP sources, the Kaggle API's download
   * URL for Kaggle files (which answers with a fresh signed URL each time it is asked).
   */
  url: string;
  /** Bytes, as the server's Content-Length says. */
  size: number;
  /** MD5 the source publishes (Content-MD5 or x-goog-hash), base64 of the 16 bytes. */
  md5?: string;
  /** CRC32C the source publishes (x-goog-hash), base64 of the 4 big-endian bytes. */
  crc32c?: string;
  /** The ETag, quotes included, as the server sends it. */
  etag?: string;
  /** Last-Modified, as ISO 8601. */
  lastModified?: string;
  /** Whether the server answered a Range request with 206 Partial Content. */
  acceptsRanges: boolean;
  /** The Content-Type the server sends. */
  contentType?: string;
  /** How the bytes are packed. */
  packaging: Packaging;
  /** Bytes of the CSV inside, when the source says (Kaggle's `totalBytes`). */
  uncompressedSize?: number;
}

/** What the source offers, exactly, before anything is copied. */
export interface SourceManifest {
  datasetId: string;
  /** The source, secret-free: for Kaggle, the version that was resolved. */
  source: { kind: 'http' } | { kind: 'kaggle'; apiUrl: string; owner: string; slug: string; version: number };
  files: SourceFile[];
  /** Sum of the files' sizes. */
  totalBytes: number;
  /** SHA-256 (hex) over each file's URL, size, ETag and checksums: equal manifests, equal fingerprints. */
  fingerprint: string;
  /** When source access ran (ISO 8601). */
  accessedAt: string;
}
