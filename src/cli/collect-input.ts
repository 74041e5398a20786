/**
 * The flags of `coleta collect`, turned into a validated collection request. Kept apart from the command
 * itself, which loads the Temporal client, so that bad input is refused at once.
 */
import type { RuntimeConfig } from '../config';
import { InputError, validateCollectInput } from '../collection';
import { presets } from '../dataset/presets';
import type { SourceSpec } from '../source/types';
import type { CollectInput } from '../workflows';

/** The flags of `coleta collect`, as commander gives them. */
export interface CollectOptions {
  preset?: string;
  url?: string[];
  kaggle?: string;
  version?: string;
  file?: string[];
  dataset?: string;
  bucket?: string;
  prefix?: string;
  pollInterval?: string;
  deadline?: string;
  full?: boolean;
  wait: boolean;
  json?: boolean;
}

/** Turns the flags into a validated request; throws an {@link InputError} naming the bad flag. */
export function collectInputFromOptions(options: CollectOptions, config: RuntimeConfig): CollectInput {
  const sources = [options.preset, options.url, options.kaggle].filter((given) => given !== undefined);
  if (sources.length > 1) throw new InputError('give one source: --preset, --url or --kaggle');
  let source: SourceSpec;
  let datasetId = options.dataset;
  if (options.url) {
    source = { kind: 'http', urls: options.url };
    if (!datasetId) throw new InputError('--dataset: name the dataset that these URLs hold (such as my-dataset)');
  } else if (options.kaggle) {
    const [owner = '', slug = '', ...rest] = options.kaggle.split('/');
    if (!owner || !slug || rest.length > 0) throw new InputError(`--kaggle: "${options.kaggle}" is not owner/slug`);
    source = {
      kind: 'kaggle',
      apiUrl: config.kaggleApiUrl,
      owner,
      slug,
      ...(options.version !== undefined ? { version: parseVersion(options.version) } : {}),
      ...(options.file ? { files: options.file } : {}),
    };
    datasetId ??= slug
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 63);
  } else {
    const name = options.preset ?? 'local-sample';
    const all = presets(config);
    const preset = all.find((candidate) => candidate.name === name);
    if (!preset) {
      throw new InputError(`--preset: unknown preset "${name}"; known: ${all.map((p) => p.name).join(', ')}`);
    }
    source = preset.source;
    if (source.kind === 'kaggle') {
      if (options.version !== undefined) source = { ...source, version: parseVersion(options.version) };
      if (options.file) source = { ...source, files: options.file };
    } else if (options.version !== undefined || options.file) {
      throw new InputError(`--version and --file apply to Kaggle sources; preset "${name}" is plain HTTP`);
    }
    datasetId ??= preset.datasetId;
  }
  const pollIntervalMs =
    options.pollInterval === undefined ? undefined : parseDuration('--poll-interval', options.pollInterval);
  const deadlineMs = options.deadline === undefined ? undefined : parseDuration('--deadline', options.deadline);
  const transfer = {
    ...(pollIntervalMs !== undefined ? { pollIntervalMs } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
  };
  return validateCollectInput({
    datasetId,
    source,
    sink: { bucket: options.bucket ?? config.bucket, prefix: options.prefix ?? 'raw/' },
    ...(Object.keys(transfer).length > 0 ? { transfer } : {}),
    ...(options.full ? { full: true } : {}),
  });
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `500ms`, `10s`, `2m`, `1.5h` or `7d`, in milliseconds; throws naming `flag`. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  const ms = match ? Number(match[1]) * (DURATION_UNITS[match[2] as string] as number) : NaN;
  if (!match || !Number.isFinite(ms) || ms <= 0) {
    throw new InputError(`--${flag.replace(/^-+/, '')}: "${text}" is not a positive duration such as 30s, 5m or 2h`);
  }
  return Math.round(ms);
}

function parseVersion(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new InputError(`--version: "${text}" is not a positive whole number`);
  }
  return Number(text);
}
