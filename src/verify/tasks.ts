/**
 * What a worker thread does with a task, kept apart from the thread's plumbing so that small inputs run the
 * same code in the main thread.
 *
 * A range task reads its byte range itself and cuts it at line boundaries: every range but the first starts
 * after the first line feed at or after its first byte, and every range ends with the first line feed at or
 * after its end (reading a little past it), so each line is scanned by exactly one range. The CRC32C is of
 * the exact raw range, not the cut one, so that the ranges' CRCs combine into the whole input's.
 *
 * A chunk task gets bytes that the main thread read in order and cut anywhere, without looking at them. The
 * worker scans the chunk's whole lines, from after its first line feed (from its first byte for chunk 0) to its
 * last, and sends back the bytes before and after them. The main thread joins the tail of each chunk with the
 * head of the next into the line they share (see `./verify.ts`).
 *
 * Either way the cut assumes no line feed inside a quoted field, as in the published files; a quoted field that
 * runs over a cut shows as a quoting violation rather than passing unseen.
 */
import { crc32c } from '@node-rs/crc32';
import { BlockScanner } from './scanner';
import { readRange } from './reading';
import type { ChunkResult, RangeResult, Sketches, TaskResult, VerifyTask } from './types';

/** Bytes read past a range's end at a time while looking for the end of its last line. */
const TAIL_BYTES = 64 * 1024;
const LF = 10;

/** Runs one task, adding distinct values to the thread's sketches. */
export async function runTask(task: VerifyTask, sketches: Sketches): Promise<TaskResult> {
  if (task.type === 'chunk') return runChunk(task, sketches);
  const scanner = new BlockScanner(task.index, sketches, { first: task.index === 0, failFast: task.failFast });

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
  const result: RangeResult = { block: scanner.finish(), crc32c: crc >>> 0 };
  return result;
}

/** Scans the whole lines of a chunk, and hands back the bytes before and after them. */
function runChunk(task: Extract<VerifyTask, { type: 'chunk' }>, sketches: Sketches): ChunkResult {
  const bytes = Buffer.from(task.buffer, 0, task.length);
  const scanner = new BlockScanner(task.index, sketches, { first: task.index === 0, failFast: task.failFast });
  const crc = task.crc32c ? crc32c(bytes) >>> 0 : 0;
  const first = bytes.indexOf(LF);
  if (first < 0) {
    // no line ends here: the whole chunk is part of a line that goes on, and is handed back as it is
    return {
      block: scanner.finish(),
      crc32c: crc,
      head: new Uint8Array(task.buffer, 0, task.length),
      tail: new Uint8Array(0),
      newline: false,
    };
  }
  // chunk 0 starts with a whole line (the header); the others with the end of a line begun before them
  const start = task.index === 0 ? 0 : first + 1;
  const end = bytes.lastIndexOf(LF) + 1;
  if (end > start) scanner.feed(bytes.subarray(start, end));
  // views of the chunk, which goes back to the main thread whole, to be filled again
  return {
    block: scanner.finish(),
    crc32c: crc,
    head: new Uint8Array(task.buffer, 0, start),
    tail: new Uint8Array(task.buffer, end, task.length - end),
    newline: true,
  };
}
