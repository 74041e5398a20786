/**
 * What a worker thread does with a task, kept apart from the thread's plumbing so that small inputs run the
 * same code in the main thread.
 *
 * A range task reads its byte range itself and cuts it at line boundaries: every range but the first starts
 * after the first line feed at or after its first byte, and every range ends with the first line feed at or
 * after its end (reading a little past it), so each line is scanned by exactly one range. The CRC32C is of
 * the exact raw range, not the cut one, so that the ranges' CRCs combine into the whole input's.
 *
 * The cut assumes no line feed inside a quoted field, as in the published files; a quoted field that runs
 * over a cut shows as a quoting violation rather than passing unseen.
 */
import { crc32c } from '@node-rs/crc32';
import { BlockScanner } from './scanner';
import { readRange } from './sources';
import type { BlockResult, RangeResult, Sketches, VerifyTask } from './types';

/** Bytes read past a range's end at a time while looking for the end of its last line. */
const TAIL_BYTES = 64 * 1024;
const LF = 10;

/** Runs one task, adding distinct values to the thread's sketches. */
export async function runTask(task: VerifyTask, sketches: Sketches): Promise<BlockResult | RangeResult> {
  const scanner = new BlockScanner(task.index, sketches, { first: task.index === 0, failFast: task.failFast });
  if (task.type === 'block') {
    scanner.feed(Buffer.from(task.buffer, 0, task.length));
    return scanner.finish();
  }

  // Step 1: the range itself, hashed whole, scanned from the first line that starts in it
  let crc = 0;
  let skipping = task.start > 0;
  for await (const chunk of readRange(task.source, task.start, task.end)) {
    if (scanner.stopped) break; // fail-fast: the CRC is then partial, and the report leaves it out
    crc = crc32c(chunk, crc);
    let from = 0;
    if (skipping) {
      const newline = chunk.indexOf(LF);
      if (newline < 0) continue;
      skipping = false;
      from = newline + 1;
    }
    scanner.feed(from === 0 ? chunk : chunk.subarray(from));
  }

  // Step 2: past the end, up to the line feed that ends the range's last line
  if (!skipping && !scanner.stopped) {
    let position = task.end;
    while (position < task.size) {
      const tailEnd = Math.min(task.size, position + TAIL_BYTES);
      let found = false;
      for await (const chunk of readRange(task.source, position, tailEnd)) {
        const newline = chunk.indexOf(LF);
        found = newline >= 0;
        scanner.feed(found ? chunk.subarray(0, newline + 1) : chunk);
        position += chunk.length;
        if (found) break;
      }
      if (found) break;
    }
  }
  return { block: scanner.finish(), crc32c: crc >>> 0 };
}
