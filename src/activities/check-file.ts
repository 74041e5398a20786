/**
 * Step 5 of a collection, integrity checks, for one file (the workflow runs one such activity per file, in
 * parallel, across however many workers serve the task queue):
 *
 * - the object is in the sink with the size the source published;
 * - its MD5 and CRC32C, computed from its bytes by the verifier in one streamed pass, equal what Cloud
 *   Storage computed and what the source published (where it did);
 * - the CSV's header is the dataset's, and every row is checked against the schema, with the data profiled.
 *
 * A file that fails is reported, not thrown: the workflow records every file's result, then fails the run
 * without retries. The object stays where it landed (raw data is never deleted) and is marked with the
 * custom metadata `coleta-integrity: failed`, so that anyone who reads it sees it is not to be trusted; the
 * collection's record says the same.
 *
 * Each check counts the file (`coleta_files_verified`, by result) and its rows (`coleta_rows_verified`), and
 * records how fast it was verified (`coleta_verification_throughput_mb_per_second`), tagged with the dataset.
 */
import { performance } from 'node:perf_hooks';
import { heartbeat, log } from '@temporalio/activity';
import { datasetMeter, METRICS } from '../metrics';
import type { ChecksumComparison, FileIntegrity } from '../record';
import type { SourceFile } from '../source/types';
import { verify } from '../verify/verify';
import type { GoogleClients } from './google-clients';

/** What to check. */
export interface CheckFileInput {
  bucket: string;
  /** `gs://bucket/object`, as the launch named it. */
  object: string;
  file: SourceFile;
  /** The run's dataset, for the metrics' `dataset` tag; read from the run's search attributes when absent. */
  datasetId?: string;
}

/** Examples of each violation kind kept in the record. */
const EXAMPLES_KEPT = 3;

/** Makes the activity. */
export function makeCheckFile(clients: GoogleClients, threads: number | undefined) {
  // One verification at a time in a worker: each takes every core it is given, and the workflow checks all the
  // files at once, so that more workers check more files in parallel. The others wait, heartbeating.
  let queue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const turn = queue.then(fn, fn);
    queue = turn.catch(() => undefined);
    return turn;
  };

  return async function checkFile(input: CheckFileInput): Promise<FileIntegrity> {
    const { file } = input;
    const objectName = input.object.slice(`gs://${input.bucket}/`.length);
    const object = clients.storage.bucket(input.bucket).file(objectName);
    const result: FileIntegrity = {
      name: file.name,
      object: input.object,
      present: false,
      expectedSize: file.size,
      checksums: [],
      problems: [],
      ok: false,
    };
    const meter = await datasetMeter(input.datasetId);
    const filesVerified = meter.createCounter(METRICS.filesVerified, 'files', 'Files checked, by result');
    let metadata: { size?: string | number; md5Hash?: string; crc32c?: string };
    try {
      [metadata] = await object.getMetadata();
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
      result.problems.push(`${input.object} is not in the bucket`);
      filesVerified.add(1, { result: 'failed' });
      return result;
    }
    result.present = true;
    result.size = Number(metadata.size ?? 0);
    if (result.size !== file.size) {
      result.problems.push(`size is ${result.size} bytes, the source published ${file.size}`);
    }

    // The verifier streams the object once: checksums, header, every row, the profile. It compares its
    // checksums with the object's metadata (Cloud Storage's) itself; the source's are compared below.
    const beat = setInterval(() => heartbeat({ object: input.object }), 5000);
    let report;
    let seconds = 0;
    try {
      report = await oneAtATime(async () => {
        // timed from the turn's start: the wait for the worker's other verifications is not the file's speed
        const started = performance.now();
        const verified = await verify(input.object, {
          md5: true,
          ...(threads ? { threads } : {}),
          storage: {
            projectId: clients.config.projectId,
            ...(clients.config.storageEndpoint ? { apiEndpoint: clients.config.storageEndpoint } : {}),
          },
        });
        seconds = (performance.now() - started) / 1000;
        return verified;
      });
    } finally {
      clearInterval(beat);
    }
    meter.createCounter(METRICS.rowsVerified, 'rows', 'Rows checked against the schema').add(report.rows);
    if (seconds > 0) {
      meter
        .createHistogram(
          METRICS.verificationThroughput,
          'float',
          'MB/s',
          'How fast each file was verified: its stored bytes, in MB (10^6 bytes), per second',
        )
        .record(result.size / 1e6 / seconds);
    }
    result.md5 = report.md5 ?? undefined;
    result.crc32c = report.crc32c ?? undefined;
    const comparisons: ChecksumComparison[] = report.checks.map((check) => ({
      algorithm: check.algorithm,
      expectedFrom: 'storage',
      expected: check.expected,
      actual: check.actual,
      match: check.match,
    }));
    for (const [algorithm, published] of [
      ['md5', file.md5],
      ['crc32c', file.crc32c],
    ] as const) {
      const actual = algorithm === 'md5' ? report.md5 : report.crc32c;
      if (published && actual) {
        comparisons.push({
          algorithm,
          expectedFrom: 'source',
          expected: published,
          actual,
          match: published === actual,
        });
      }
    }
    result.checksums = comparisons;
    for (const mismatch of comparisons.filter((comparison) => !comparison.match)) {
      const expectedBy = mismatch.expectedFrom === 'source' ? 'the source published' : 'Cloud Storage computed';
      result.problems.push(
        `${mismatch.algorithm.toUpperCase()} of the bytes is ${mismatch.actual}, ${expectedBy} ${mismatch.expected}`,
      );
    }
    result.packaging = report.packaging;
    result.header = report.format.header;
    result.rows = report.rows;
    result.invalidRows = report.invalidRows;
    result.violations = report.violations.map((violation) => ({
      kind: violation.kind,
      meaning: violation.meaning,
      count: violation.count,
      examples: violation.examples
        .slice(0, EXAMPLES_KEPT)
        .map((example) => ({ line: example.line, text: example.text })),
    }));
    result.profile = report.profile as unknown as Record<string, unknown>;
    for (const problem of report.problems) {
      if (!result.problems.includes(problem) && !/checksum|CRC32C|MD5/i.test(problem)) result.problems.push(problem);
    }
    result.ok = result.problems.length === 0;
    filesVerified.add(1, { result: result.ok ? 'intact' : 'failed' });

    if (!result.ok) {
      log.warn('integrity check failed', { object: input.object, problems: result.problems });
      result.marked = await object
        .setMetadata({ metadata: { 'coleta-integrity': 'failed' } })
        .then(() => true)
        .catch((error: unknown) => {
          log.warn('the object could not be marked', { object: input.object, error: String(error) });
          return false;
        });
    }
    return result;
  };
}
