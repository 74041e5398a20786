/**
 * Benchmark of the local sample generator: how fast one month's CSV is synthesised alone (in memory, one
 * thread, no I/O), and how fast the full generation writes it with its gzip and zip, how many cores it keeps
 * busy (its threads together: synthesis, the deflate's blocks, hashing and writing), the sizes of the files
 * and the peak resident memory. Writes into a temporary folder, removed afterwards.
 *
 * Usage: `node --import tsx bench/sample.ts [size]`, size as in `COLETA_SAMPLE_SIZE` (default 1GiB).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MONTHS } from '../src/dataset/schema';
import { Catalog } from '../src/sample/catalog';
import { generateSample, parseByteSize } from '../src/sample/generate';
import { MonthRows } from '../src/sample/rows';

const MONTH = '2019-Oct';
const SEED = 46;

function megabytesPerSecond(bytes: number, started: number): string {
  return ((bytes / 1e6 / (performance.now() - started)) * 1000).toFixed(1);
}

function peakRss(): string {
  // maxRSS is in kibibytes
  return `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;
}

async function main(): Promise<void> {
  const size = parseByteSize(process.argv[2] ?? '1GiB');
  const month = MONTHS.find((candidate) => candidate.name === MONTH);
  if (!month) throw new Error(`no month ${MONTH}`);
  console.log(`one month (${MONTH}) of ${(size / 1e6).toFixed(0)} MB of CSV, seed ${SEED}, ${os.cpus().length} CPUs`);

  // Step 1: synthesis alone, the CSV thrown away chunk by chunk
  let started = performance.now();
  const rows = new MonthRows(Catalog.build(SEED), month, SEED, size);
  const chunk = new Uint8Array(256 * 1024);
  while (rows.fill(chunk) > 0);
  console.log(
    `synthesis alone (one thread, no I/O): ${megabytesPerSecond(rows.bytes, started)} MB/s (${rows.rows} rows)`,
  );
  console.log(`peak RSS so far: ${peakRss()}`);

  // Step 2: the full generation, csv + gz + zip + manifest
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coleta-bench-sample-'));
  try {
    started = performance.now();
    const cpu = process.cpuUsage();
    const manifest = await generateSample({ root, seed: SEED, bytesPerMonth: size, months: [MONTH] });
    const [csv, gzip, zip] = manifest.files;
    const elapsed = performance.now() - started;
    const seconds = (elapsed / 1000).toFixed(1);
    const used = process.cpuUsage(cpu);
    // microseconds of CPU over milliseconds of wall time
    const cores = ((used.user + used.system) / 1000 / elapsed).toFixed(2);
    console.log(
      `full generation (csv + gz + zip): ${megabytesPerSecond(csv?.bytes ?? 0, started)} MB/s (${seconds} s, ` +
        `${cores} of ${os.cpus().length} cores busy)`,
    );
    for (const file of [csv, gzip, zip]) {
      if (!file) continue;
      const share = ((file.bytes / (csv?.bytes ?? 1)) * 100).toFixed(1);
      console.log(`  ${path.basename(file.path)}: ${file.bytes} bytes (${share} % of the CSV)`);
    }
    console.log(`peak RSS: ${peakRss()}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
