/**
 * Step 6 of a collection, documentation: writes the collection's record next to its data, as
 * `collection.json` (for machines) and `collection.md` (for people), whatever the outcome: a failed or
 * cancelled run documents as far as it got. Rewriting them is harmless, so retries are safe.
 */
import type { Bucket } from '@google-cloud/storage';
import { log } from '@temporalio/activity';
import { failure } from '../failures';
import type { CurrentState } from '../incremental';
import type { CollectionRecord, FileIntegrity } from '../record';
import type { GoogleClients } from './google-clients';

/** Where the record was written. */
export interface WrittenRecord {
  json: string;
  markdown: string;
  /** Whether the dataset's pointer now names this collection's copies, when the run asked to move it. */
  pointer?: 'moved' | 'conflict';
}

/** The pointer to move after a successful collection: written only if it is still at `generation`. */
export interface PointerUpdate {
  /** `gs://bucket/<prefix><dataset>/current.json`. */
  pointer: string;
  /** The generation the run read it at; 0 when there was none. */
  generation: number;
  state: CurrentState;
}

/** Makes the activity. */
export function makeWriteDocumentation(clients: GoogleClients) {
  return async function writeDocumentation(record: CollectionRecord, update?: PointerUpdate): Promise<WrittenRecord> {
    const bucket = clients.storage.bucket(record.sink.bucket);
    const json = `${record.sink.folder}collection.json`;
    const markdown = `${record.sink.folder}collection.md`;
    const write = () =>
      Promise.all([
        bucket.file(json).save(`${JSON.stringify(record, null, 2)}\n`, {
          resumable: false,
          contentType: 'application/json',
        }),
        bucket.file(markdown).save(renderMarkdown(record), { resumable: false, contentType: 'text/markdown' }),
      ]).catch((error: unknown) => {
        if ((error as { code?: number }).code === 404) {
          throw failure(
            'BucketNotFound',
            `bucket gs://${record.sink.bucket} does not exist: the record has nowhere to go`,
          );
        }
        throw error;
      });
    // the record before the pointer, so that the pointer never names copies whose record is missing
    await write();
    const pointer = update ? await movePointer(bucket, update) : undefined;
    if (pointer === 'conflict') {
      delete record.current;
      record.problems.push({
        step: 'documentation',
        at: new Date().toISOString(),
        problem: `another collection moved ${update?.pointer ?? 'the pointer'} while this one ran`,
        resolution:
          'this collection is complete and intact, but its copies are not marked current; ' +
          'the next run compares with the other collection',
      });
      await write();
    }
    log.info('record written', { collection: record.collectionId, outcome: record.outcome, pointer });
    return {
      json: `gs://${record.sink.bucket}/${json}`,
      markdown: `gs://${record.sink.bucket}/${markdown}`,
      ...(pointer ? { pointer } : {}),
    };
  };
}

/**
 * Writes the pointer if nobody has since the run read it (`ifGenerationMatch`, 0 meaning "none yet"). A retry
 * after a write whose answer was lost finds the pointer already naming this collection, and takes it as moved.
 */
async function movePointer(bucket: Bucket, update: PointerUpdate): Promise<'moved' | 'conflict'> {
  const file = bucket.file(update.pointer.slice(`gs://${bucket.name}/`.length));
  try {
    await file.save(`${JSON.stringify(update.state, null, 2)}\n`, {
      resumable: false,
      contentType: 'application/json',
      preconditionOpts: { ifGenerationMatch: update.generation },
    });
    return 'moved';
  } catch (error) {
    if ((error as { code?: number }).code !== 412) throw error;
    const [text] = await file.download();
    const now = JSON.parse(text.toString('utf8')) as Partial<CurrentState>;
    if (now.collectionId === update.state.collectionId) return 'moved';
    log.warn('the pointer was moved by another collection meanwhile', {
      pointer: update.pointer,
      by: now.collectionId,
    });
    return 'conflict';
  }
}

/** The record as a Markdown page. */
export function renderMarkdown(record: CollectionRecord): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(`# Collection ${record.collectionId}`, '');
  push(
    table([
      ['', ''],
      ['Dataset', `\`${record.datasetId}\``],
      [
        'Outcome',
        `**${record.outcome}**${record.failure ? ` in ${record.failure.step}: ${record.failure.message}` : ''}`,
      ],
      ['Started', record.startedAt],
      ['Ended', record.endedAt ?? '-'],
      ['Data', `\`gs://${record.sink.bucket}/${record.sink.dataPath}\``],
      ['Workflow', `\`${record.workflowId}\` run \`${record.runId}\``],
      ['Cloud APIs', record.target ?? '-'],
    ]),
    '',
  );
  if (record.outcome !== 'succeeded') {
    push(
      `> **Do not use this collection.** It did not finish with its data proven intact. ` +
        'Objects that failed the integrity check carry the metadata `coleta-integrity: failed`.',
      '',
    );
  }

  push('## Source', '');
  const source = record.source;
  if (!source) push('Source access did not finish.', '');
  else {
    const from =
      source.source.kind === 'kaggle'
        ? `Kaggle dataset \`${source.source.owner}/${source.source.slug}\`, version ${source.source.version}`
        : 'HTTP(S) URLs';
    push(`${from}, read ${source.accessedAt}; fingerprint \`${source.fingerprint}\`.`, '');
    push(
      table([
        ['File', 'URL', 'Bytes', 'MD5', 'CRC32C', 'ETag', 'Last modified'],
        ...source.files.map((file) => [
          file.name,
          file.url,
          String(file.size),
          file.md5 ?? '-',
          file.crc32c ?? '-',
          file.etag ?? '-',
          file.lastModified ?? '-',
        ]),
      ]),
      '',
    );
  }

  const changes = record.changes;
  if (changes) {
    push('## Changes since the last collection', '');
    const since = changes.previous
      ? `Compared with collection \`${changes.previous.collectionId}\` (\`${changes.previous.record}\`).`
      : 'The first collection of this dataset here: every file is new.';
    const what =
      changes.transferred === 0
        ? 'Nothing changed: no transfer job was made, and nothing was copied.'
        : `${changes.transferred} file(s) transferred, ${changes.unchanged} left as they were` +
          `${changes.full ? ' (--full: every file copied)' : ''}.`;
    push(`${since} ${what}`, '');
    push(table([['File', 'Change', 'Why'], ...changes.files.map((file) => [file.name, file.change, file.why])]), '');
    if (changes.removed.length > 0) {
      push(`No longer offered by the source (their copies stay): ${changes.removed.join(', ')}.`, '');
    }
  }
  if (record.current) {
    push('## Current copies', '');
    push(
      'The copy of each file that is current after this collection; unchanged files keep the copy an earlier ' +
        'collection made.',
      '',
    );
    push(
      table([
        ['File', 'Object', 'Collected by'],
        ...record.current.map((file) => [file.name, `\`${file.object}\``, file.collectionId]),
      ]),
      '',
    );
  }

  push('## Extraction', '');
  const transfer = record.transfer;
  push(
    table([
      ['', ''],
      ['Service agent', transfer.serviceAgent ?? '-'],
      ['Transfer job', transfer.jobName ? `\`${transfer.jobName}\`${transfer.adoptedJob ? ' (adopted)' : ''}` : '-'],
      [
        'Operation',
        transfer.operationName ? `\`${transfer.operationName}\`${transfer.adoptedOperation ? ' (adopted)' : ''}` : '-',
      ],
      ['URL list', transfer.urlList ? `\`${transfer.urlList}\`` : '-'],
      ['Status', transfer.status ?? '-'],
      ['Started', transfer.startTime ?? '-'],
      ['Ended', transfer.endTime ?? '-'],
      ['Polls', transfer.polls === undefined ? '-' : String(transfer.polls)],
      ...Object.entries(transfer.counters ?? {}).map(([name, value]) => [name, String(value)]),
    ]),
    '',
  );
  for (const breakdown of transfer.errorBreakdowns ?? []) {
    push(`- ${breakdown.errorCount} × ${breakdown.errorCode}`);
    for (const example of breakdown.examples) push(`  - ${example.url}: ${example.details.join(' ')}`);
  }
  if (transfer.errorBreakdowns?.length) push('');

  push('## Problems met', '');
  if (record.problems.length === 0) push('None.', '');
  else {
    push(
      table([
        ['When', 'Step', 'Problem', 'Resolution'],
        ...record.problems.map((problem) => [problem.at, problem.step, problem.problem, problem.resolution]),
      ]),
      '',
    );
  }

  push('## Preliminary transformations', '');
  push(
    record.transformations.length === 0
      ? 'None: the files are stored byte for byte as the source published them.'
      : record.transformations.map((item) => `- ${item}`).join('\n'),
    '',
  );

  push('## Integrity', '');
  if (!record.integrity) push('The integrity checks did not run.', '');
  else if (record.integrity.files.length === 0 && record.changes?.transferred === 0) {
    push(
      'Nothing was copied, so nothing was verified: each current copy was verified by the collection that made it.',
      '',
    );
  } else {
    push(`**${record.integrity.ok ? 'All files intact.' : 'Some files failed.'}**`, '');
    push(
      table([
        ['File', 'Present', 'Bytes', 'MD5', 'CRC32C', 'Header', 'Rows', 'Invalid rows', 'Result'],
        ...record.integrity.files.map((file) => [
          file.name,
          file.present ? 'yes' : 'no',
          `${file.size ?? '-'} of ${file.expectedSize}`,
          checksumCell(file, 'md5'),
          checksumCell(file, 'crc32c'),
          file.header ?? '-',
          String(file.rows ?? '-'),
          String(file.invalidRows ?? '-'),
          file.ok ? 'ok' : file.problems.join('; '),
        ]),
      ]),
      '',
    );
    for (const file of record.integrity.files) {
      for (const violation of file.violations ?? []) {
        push(`- ${file.name}: ${violation.count} × ${violation.kind} (${violation.meaning})`);
        for (const example of violation.examples) push(`  - line ${example.line}: \`${example.text}\``);
      }
    }
    push('');
    push('## Data profile', '');
    for (const file of record.integrity.files) {
      if (file.profile) push(...profileLines(file), '');
    }
  }
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

function checksumCell(file: FileIntegrity, algorithm: 'md5' | 'crc32c'): string {
  const value = algorithm === 'md5' ? file.md5 : file.crc32c;
  const checks = file.checksums.filter((check) => check.algorithm === algorithm);
  if (!value) return '-';
  const verdict = checks.length === 0 ? '' : checks.every((check) => check.match) ? ' ✓' : ' ✗';
  return `\`${value}\`${verdict}`;
}

function profileLines(file: FileIntegrity): string[] {
  const p = file.profile as {
    firstEventTime?: string | null;
    lastEventTime?: string | null;
    outOfOrderRows?: number;
    eventTypes?: Record<string, { rows: number; share: number }>;
    emptyValues?: Record<string, { rows: number; share: number }>;
    price?: { min: number | null; max: number | null; mean: number | null; nonPositiveRows: number };
    distinctUsers?: { estimate: number; relativeError: number };
    distinctSessions?: { estimate: number; relativeError: number };
    duplicateRows?: number;
  };
  const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
  const estimate = (value?: { estimate: number; relativeError: number }) =>
    value ? `about ${value.estimate} (± ${percent(value.relativeError)})` : '-';
  return [
    `### ${file.name}`,
    '',
    `- rows: ${file.rows ?? 0}; events from ${p.firstEventTime ?? '-'} to ${p.lastEventTime ?? '-'}, ` +
      `${p.outOfOrderRows ?? 0} out of time order`,
    `- event types: ${Object.entries(p.eventTypes ?? {})
      .map(([name, share]) => `${name} ${percent(share.share)}`)
      .join(', ')}`,
    `- empty values: ${
      Object.entries(p.emptyValues ?? {})
        .filter(([, share]) => share.rows > 0)
        .map(([name, share]) => `${name} ${percent(share.share)}`)
        .join(', ') || 'none'
    }`,
    `- price: min ${p.price?.min ?? '-'}, max ${p.price?.max ?? '-'}, mean ${
      p.price?.mean === null || p.price?.mean === undefined ? '-' : p.price.mean.toFixed(2)
    }, ${p.price?.nonPositiveRows ?? 0} rows at or below 0`,
    `- distinct users ${estimate(p.distinctUsers)}, sessions ${estimate(p.distinctSessions)}`,
    `- duplicate rows: ${p.duplicateRows ?? 0}`,
  ];
}

/** A Markdown table; the first row is the header. Pipes in cells are escaped. */
function table(rows: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const [head = [], ...body] = rows;
  return [
    `| ${head.map(escape).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ].join('\n');
}
