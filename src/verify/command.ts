/**
 * `coleta verify <path or gs://bucket/object>`: runs the verifier on one input and prints its report, as
 * text or `--json`. Exit codes: 0 when the input passes, 1 for violations or a checksum mismatch, 2 for bad
 * input (refused by the caller's error handling, with one line).
 */
import { InputError } from '../collection';
import { formatReport } from './format';
import { verify } from './verify';

/** The flags of `coleta verify`, as commander gives them. */
export interface VerifyCommandOptions {
  json?: boolean;
  threads?: string;
  md5?: boolean;
  failFast?: boolean;
  expectMd5?: string;
  expectCrc32c?: string;
}

const MD5_BASE64 = /^[A-Za-z0-9+/]{22}==$/;
const CRC32C_BASE64 = /^[A-Za-z0-9+/]{6}==$/;

/** Runs `coleta verify`; returns the exit code. Bad flags or input throw an `InputError`. */
export async function runVerifyCommand(
  target: string,
  options: VerifyCommandOptions,
  out: (text: string) => void = console.log,
): Promise<number> {
  // by default, the verifier's own choice for the input (see `VerifyOptions.threads`)
  let threads: number | undefined;
  if (options.threads !== undefined) {
    if (!/^\d+$/.test(options.threads) || Number(options.threads) < 1 || Number(options.threads) > 256) {
      throw new InputError(`--threads: "${options.threads}" is not a whole number from 1 to 256`);
    }
    threads = Number(options.threads);
  }
  if (options.expectMd5 !== undefined && !MD5_BASE64.test(options.expectMd5)) {
    throw new InputError(`--expect-md5: "${options.expectMd5}" is not a base64 MD5 (24 characters ending in ==)`);
  }
  if (options.expectCrc32c !== undefined && !CRC32C_BASE64.test(options.expectCrc32c)) {
    throw new InputError(
      `--expect-crc32c: "${options.expectCrc32c}" is not a base64 CRC32C (8 characters ending in ==)`,
    );
  }
  const report = await verify(target, {
    ...(threads !== undefined ? { threads } : {}),
    md5: options.md5 === true,
    failFast: options.failFast === true,
    ...(options.expectMd5 !== undefined ? { expectMd5: options.expectMd5 } : {}),
    ...(options.expectCrc32c !== undefined ? { expectCrc32c: options.expectCrc32c } : {}),
  });
  out(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}
