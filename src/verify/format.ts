/** The verifier's report as people read it: checksums, rows, violations with examples, and the profile. */
import { formatBytes, table } from '../cli/format';
import type { VerifyReport } from './types';

const percent = (share: number) => `${(share * 100).toFixed(share > 0 && share < 0.001 ? 4 : 2)} %`;

/** The report as text, ending with the verdict. */
export function formatReport(report: VerifyReport): string {
  const out: string[] = [];
  const size =
    report.packaging === 'none'
      ? formatBytes(report.bytes)
      : `${formatBytes(report.bytes)} ${report.packaging}, ${formatBytes(report.csvBytes)} of CSV`;
  out.push(`verified ${report.source} (${size}) in ${(report.elapsedMs / 1000).toFixed(1)} s`);
  out.push(`  split    ${report.parts} ${report.mode} over ${report.threads} thread${report.threads === 1 ? '' : 's'}`);
  out.push(`  crc32c   ${report.crc32c ?? '-'}`);
  out.push(`  md5      ${report.md5 ?? '- (not asked: --md5)'}`);
  for (const check of report.checks) {
    out.push(`  ${check.match ? 'matches' : 'MISMATCH'} ${check.algorithm} of ${check.from}: ${check.expected}`);
  }
  const format = report.format;
  out.push(
    `  rows     ${report.rows} (${report.lines} lines; header ${format.header}; ` +
      `${format.crlfLines} CR LF line ends; ${format.finalNewline ? 'ends with a line end' : 'no final line end'}; ` +
      `${format.quotedRows} rows with quotes)`,
  );

  if (report.violations.length > 0) {
    out.push('', `violations (${report.invalidRows} rows):`);
    for (const violation of report.violations) {
      out.push(`  ${violation.kind}: ${violation.count} (${violation.meaning})`);
      for (const example of violation.examples) {
        out.push(`    line ${example.line}: ${example.detail}  | ${example.text}`);
      }
    }
  }

  const profile = report.profile;
  out.push('', 'profile:');
  out.push(`  event_time   ${profile.firstEventTime ?? '-'} to ${profile.lastEventTime ?? '-'}`);
  if (profile.minEventTime !== profile.firstEventTime || profile.maxEventTime !== profile.lastEventTime) {
    out.push(`               (earliest ${profile.minEventTime ?? '-'}, latest ${profile.maxEventTime ?? '-'})`);
  }
  out.push(`  out of order ${profile.outOfOrderRows} rows`);
  const types = Object.entries(profile.eventTypes).map(([type, share]) => `${type} ${percent(share.share)}`);
  out.push(`  event_type   ${types.join(', ')}`);
  const price = profile.price;
  out.push(
    `  price        min ${price.min ?? '-'}, max ${price.max ?? '-'}, mean ${price.mean?.toFixed(2) ?? '-'}; ` +
      `${price.nonPositiveRows} rows <= 0`,
  );
  out.push(`  category_id  ${profile.categoryId.min ?? '-'} to ${profile.categoryId.max ?? '-'}`);
  const error = percent(profile.distinctUsers.relativeError);
  out.push(`  users        about ${profile.distinctUsers.estimate} distinct (standard error ${error})`);
  out.push(`  sessions     about ${profile.distinctSessions.estimate} distinct (standard error ${error})`);
  out.push(`  duplicates   ${profile.duplicateRows} rows equal to an earlier row of the same event_time`);
  out.push('', table([['column', 'empty', 'share'], ...emptyRows(report)]).replace(/^/gm, '  '));

  out.push('');
  if (report.ok) out.push('OK');
  else {
    out.push(
      `FAILED: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`,
      ...report.problems.map((p) => `  - ${p}`),
    );
  }
  return out.join('\n');
}

function emptyRows(report: VerifyReport): string[][] {
  return Object.entries(report.profile.emptyValues).map(([column, share]) => [
    column,
    String(share.rows),
    percent(share.share),
  ]);
}
