/**
 * Configuration, read once from the environment and validated into typed objects; the rest of the code
 * trusts what it gets from here. Local and cloud runs differ only in these values (endpoints, credentials,
 * names): no step asks whether it runs locally.
 *
 * Temporal's own connection settings (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, TLS
 * files, profiles) are read by `@temporalio/envconfig`, as the Temporal CLI and the other SDKs read them.
 */
import os from 'node:os';
import path from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { z } from 'zod';
import { googleConfig, googleSchema, type GoogleConfig } from './google';

/** Thrown for a setting that is missing or malformed: its message names the variable and what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The folder of the project, where the package.json of `coleta` is. */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const stackSchema = z.object({
  COLETA_DATA_DIR: z.string().min(1).default(path.join(PROJECT_ROOT, '.data')),
  COLETA_TOOLS_DIR: z
    .string()
    .min(1)
    .default(path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'coleta', 'tools')),
  COLETA_TEMPORAL_PORT: port(7233),
  COLETA_TEMPORAL_UI_PORT: port(8233),
  COLETA_TEMPORAL_HTTP_PORT: port(7243),
  COLETA_TEMPORAL_METRICS_PORT: port(7235),
  COLETA_GCS_PORT: port(4443),
  COLETA_TRANSFER_GRPC_PORT: port(8091),
  COLETA_TRANSFER_REST_PORT: port(8092),
  COLETA_ORIGIN_PORT: port(8090),
  COLETA_BUCKET: z.string().default('coleta-raw'),
  COLETA_SAMPLE_SIZE: z.string().default('2MiB'),
  COLETA_SAMPLE_SEED: z.coerce.number().int().min(0).max(0xffffffff).default(46),
  COLETA_ORIGIN_KAGGLE_USERNAME: z.string().min(1).default('coleta'),
  COLETA_ORIGIN_KAGGLE_KEY: z.string().min(1).default('coleta-local-key'),
});

/** The versions of the Go-built tools, matching scripts/build-tools.sh. */
export const TOOL_VERSIONS = { temporal: '1.5.1', fakeGcsServer: '1.56.1' } as const;

/** Settings of the local stack: where its programs, state and logs are, and the ports they listen on. */
export interface StackConfig {
  dataDir: string;
  toolsDir: string;
  temporalBin: string;
  fakeGcsBin: string;
  ports: {
    temporal: number;
    temporalUi: number;
    temporalHttp: number;
    /** The dev server's Prometheus endpoint. */
    temporalMetrics: number;
    gcs: number;
    transferGrpc: number;
    transferRest: number;
    origin: number;
  };
  bucket: string;
  sample: { size: string; seed: number };
  originKaggle: { username: string; key: string };
}

/** Every port setting with its environment variable, for messages that name the variable. */
export const PORT_VARIABLES: Record<keyof StackConfig['ports'], string> = {
  temporal: 'COLETA_TEMPORAL_PORT',
  temporalUi: 'COLETA_TEMPORAL_UI_PORT',
  temporalHttp: 'COLETA_TEMPORAL_HTTP_PORT',
  temporalMetrics: 'COLETA_TEMPORAL_METRICS_PORT',
  gcs: 'COLETA_GCS_PORT',
  transferGrpc: 'COLETA_TRANSFER_GRPC_PORT',
  transferRest: 'COLETA_TRANSFER_REST_PORT',
  origin: 'COLETA_ORIGIN_PORT',
};

/** Reads the local stack's settings, refusing a malformed value or two services on one port. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const s = parseEnv(stackSchema, env);
  const ports = {
    temporal: s.COLETA_TEMPORAL_PORT,
    temporalUi: s.COLETA_TEMPORAL_UI_PORT,
    temporalHttp: s.COLETA_TEMPORAL_HTTP_PORT,
    temporalMetrics: s.COLETA_TEMPORAL_METRICS_PORT,
    gcs: s.COLETA_GCS_PORT,
    transferGrpc: s.COLETA_TRANSFER_GRPC_PORT,
    transferRest: s.COLETA_TRANSFER_REST_PORT,
    origin: s.COLETA_ORIGIN_PORT,
  };
  const seen = new Map<number, string>();
  for (const [key, value] of Object.entries(ports) as [keyof typeof ports, number][]) {
    const other = seen.get(value);
    if (other) {
      throw new ConfigError(`${PORT_VARIABLES[key]} and ${other} are both ${value}: each service needs a port`);
    }
    seen.set(value, PORT_VARIABLES[key]);
  }
  const bucketProblem = checkBucketName(s.COLETA_BUCKET);
  if (bucketProblem) throw new ConfigError(`COLETA_BUCKET: ${bucketProblem}`);
  const toolsDir = path.resolve(s.COLETA_TOOLS_DIR);
  return {
    dataDir: path.resolve(s.COLETA_DATA_DIR),
    toolsDir,
    temporalBin: path.join(toolsDir, `temporal-${TOOL_VERSIONS.temporal}`, 'temporal'),
    fakeGcsBin: path.join(toolsDir, `fake-gcs-server-${TOOL_VERSIONS.fakeGcsServer}`, 'fake-gcs-server'),
    ports,
    bucket: s.COLETA_BUCKET,
    sample: { size: s.COLETA_SAMPLE_SIZE, seed: s.COLETA_SAMPLE_SEED },
    originKaggle: { username: s.COLETA_ORIGIN_KAGGLE_USERNAME, key: s.COLETA_ORIGIN_KAGGLE_KEY },
  };
}

const runtimeSchema = z
  .object({
    COLETA_TASK_QUEUE: z.string().min(1).default('coleta'),
    COLETA_BUCKET: z.string().default('coleta-raw'),
    COLETA_WEB_UI_URL: z.url({ protocol: /^https?$/ }).optional(),
    COLETA_ORIGIN_URL: z.url({ protocol: /^https?$/ }).optional(),
    COLETA_KAGGLE_API_URL: z.url({ protocol: /^https?$/ }).default('https://www.kaggle.com/api/v1'),
    COLETA_ORIGIN_PORT: port(8090),
    COLETA_TEMPORAL_UI_PORT: port(8233),
    COLETA_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    COLETA_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    COLETA_ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    COLETA_ALERT_FORMAT: z.enum(['text', 'json']).default('text'),
  })
  .extend(googleSchema.shape);

/** Settings of the worker and the client: where Temporal is, which task queue, which bucket, which links. */
export interface RuntimeConfig {
  temporal: { connection: NativeConnectionOptions; namespace: string };
  taskQueue: string;
  bucket: string;
  /** Base of the Web UI links printed for runs, such as `http://127.0.0.1:8233`. */
  webUiUrl: string;
  /** The local origin, which the local presets name. */
  originUrl: string;
  /** The Kaggle API that the Kaggle presets use. */
  kaggleApiUrl: string;
  /** Where the Google APIs are: Google Cloud, or the local emulators (see `./google.ts`). */
  google: GoogleConfig;
  /** Where the worker serves its Prometheus metrics; no endpoint when absent. */
  metrics?: { host: string; port: number };
  /**
   * Where alerts go: a webhook that takes a JSON body. `text` posts `{"text": ...}`, which Slack, Mattermost,
   * Google Chat and Rocket.Chat incoming webhooks accept; `json` adds the alert's fields. The URL is a secret
   * (it holds the webhook's token): it is never logged, recorded or put in the workflow history.
   */
  alerts?: { webhookUrl: string; format: 'text' | 'json' };
}

/** Reads the worker's and client's settings. */
export function loadRuntimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const s = parseEnv(runtimeSchema, env);
  const bucketProblem = checkBucketName(s.COLETA_BUCKET);
  if (bucketProblem) throw new ConfigError(`COLETA_BUCKET: ${bucketProblem}`);
  let connect;
  try {
    connect = loadClientConnectConfig({ overrideEnvVars: envRecord(env) });
  } catch (error) {
    throw new ConfigError(`Temporal connection settings: ${(error as Error).message}`);
  }
  return {
    temporal: { connection: connect.connectionOptions, namespace: connect.namespace ?? 'default' },
    taskQueue: s.COLETA_TASK_QUEUE,
    bucket: s.COLETA_BUCKET,
    webUiUrl: (s.COLETA_WEB_UI_URL ?? `http://127.0.0.1:${s.COLETA_TEMPORAL_UI_PORT}`).replace(/\/+$/, ''),
    originUrl: (s.COLETA_ORIGIN_URL ?? `http://127.0.0.1:${s.COLETA_ORIGIN_PORT}`).replace(/\/+$/, ''),
    kaggleApiUrl: s.COLETA_KAGGLE_API_URL.replace(/\/+$/, ''),
    google: googleConfig(s),
    ...(s.COLETA_METRICS_PORT ? { metrics: { host: s.COLETA_METRICS_HOST, port: s.COLETA_METRICS_PORT } } : {}),
    ...(s.COLETA_ALERT_WEBHOOK_URL
      ? { alerts: { webhookUrl: s.COLETA_ALERT_WEBHOOK_URL, format: s.COLETA_ALERT_FORMAT } }
      : {}),
  };
}

/**
 * Says what is wrong with a Cloud Storage bucket name, or returns undefined when it is valid. The rules are
 * Cloud Storage's: 3 to 63 characters (up to 222 with dots), lower-case letters, digits, dashes,
 * underscores and dots, starting and ending with a letter or digit, not an IP address, no "goog" prefix.
 */
export function checkBucketName(name: string): string | undefined {
  if (name.length < 3) return `bucket name "${name}" is shorter than 3 characters`;
  if (name.length > 222 || (!name.includes('.') && name.length > 63)) return `bucket name "${name}" is too long`;
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) {
    return (
      `bucket name "${name}" may hold only lower-case letters, digits, "-", "_" and ".", ` +
      'and must start and end with a letter or digit'
    );
  }
  if (name.split('.').some((part) => part.length === 0 || part.length > 63)) {
    return `bucket name "${name}" has an empty or over-long dot-separated part`;
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return `bucket name "${name}" looks like an IP address`;
  if (name.startsWith('goog') || /g[o0]{2}gle/.test(name)) {
    return `bucket name "${name}" may not start with "goog" or contain "google"`;
  }
  return undefined;
}

/** Settings whose values are secrets. */
const SECRET_VARIABLES = new Set(['COLETA_ALERT_WEBHOOK_URL', 'COLETA_ORIGIN_KAGGLE_KEY', 'KAGGLE_KEY']);

function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(blankless);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const variable = String(issue?.path[0] ?? 'environment');
  // a secret's value is never repeated, not even a malformed one
  const shown = SECRET_VARIABLES.has(variable) ? '(value not shown)' : JSON.stringify(env[variable] ?? '');
  throw new ConfigError(`${variable}=${shown}: ${issue?.message ?? 'invalid'}`);
}

function envRecord(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
