/**
 * Faults on demand, off by default, for testing what uses the service: errors for the next calls of a
 * method, a byte-rate limit on transfers, objects that fail to copy, and a service agent that lacks
 * permissions on a bucket. They are set through the admin endpoint of the REST front (`/emulator/v1/faults`)
 * or directly on this table, and each shows through the official client as the real service shows it.
 */
import { ServiceError, type CodeName } from './errors';

/** Errors for the next `times` calls of a method (by its RPC name, such as `RunTransferJob`). */
export interface MethodFault {
  method: string;
  code: 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED' | 'DEADLINE_EXCEEDED' | 'INTERNAL';
  times: number;
}

/** Everything that can be set. */
export interface FaultSettings {
  methods: MethodFault[];
  /** Bytes per second over all transfers; 0 or absent for no limit. */
  bytesPerSecond?: number;
  /** URLs whose copy fails, with the code recorded in the error breakdown. */
  objects: { url: string; code: 'NOT_FOUND' | 'PERMISSION_DENIED' | 'UNAVAILABLE' | 'DATA_LOSS'; message?: string }[];
  /** Permissions the transfer service agent lacks, by bucket (`storage.buckets.get`, `storage.objects.create`). */
  missingPermissions: Record<string, string[]>;
}

/** The permissions a transfer into a bucket needs, as `roles/storage.legacyBucketWriter` grants them. */
export const SINK_PERMISSIONS = [
  'storage.buckets.get',
  'storage.objects.create',
  'storage.objects.list',
  'storage.objects.get',
  'storage.objects.delete',
] as const;

const METHOD_CODES = new Set([
  'UNAVAILABLE',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
  'PERMISSION_DENIED',
]);
const OBJECT_CODES = new Set(['NOT_FOUND', 'PERMISSION_DENIED', 'UNAVAILABLE', 'DATA_LOSS']);

/** The faults in force. */
export class FaultTable {
  private settings: FaultSettings = { methods: [], objects: [], missingPermissions: {} };
  private nextSendAt = 0;

  /** What is set now. */
  list(): FaultSettings {
    return structuredClone(this.settings);
  }

  /** Replaces the faults of each kind given; throws an Error naming a malformed field. */
  set(input: unknown): FaultSettings {
    const value = (input ?? {}) as Record<string, unknown>;
    const next = this.list();
    if (value.methods !== undefined) next.methods = arrayOf(value.methods, 'methods').map(methodFault);
    if (value.bytesPerSecond !== undefined) {
      if (typeof value.bytesPerSecond !== 'number' || value.bytesPerSecond < 0) {
        throw new Error('bytesPerSecond: must be a number of bytes per second, 0 for no limit');
      }
      next.bytesPerSecond = value.bytesPerSecond;
    }
    if (value.objects !== undefined) next.objects = arrayOf(value.objects, 'objects').map(objectFault);
    if (value.missingPermissions !== undefined) next.missingPermissions = permissions(value.missingPermissions);
    this.settings = next;
    return this.list();
  }

  /** Turns every fault off. */
  clear(): void {
    this.settings = { methods: [], objects: [], missingPermissions: {} };
  }

  /** Throws the error set for the next call of `method`, counting it down. */
  beforeCall(method: string): void {
    const fault = this.settings.methods.find((candidate) => candidate.method === method && candidate.times > 0);
    if (!fault) return;
    fault.times -= 1;
    throw new ServiceError(fault.code as CodeName, `injected fault: ${fault.code} for ${method}`);
  }

  /** The failure set for copying a URL, if any. */
  objectFailure(url: string): { code: string; message: string } | undefined {
    const fault = this.settings.objects.find((candidate) => candidate.url === url);
    return fault && { code: fault.code, message: fault.message ?? `injected fault: ${fault.code} for this object` };
  }

  /** The permissions the service agent lacks on a bucket. */
  missing(bucket: string): string[] {
    return this.settings.missingPermissions[bucket] ?? [];
  }

  /** Waits as long as the byte-rate limit asks before `bytes` more may be sent; shared by all transfers. */
  async throttle(bytes: number): Promise<void> {
    const rate = this.settings.bytesPerSecond;
    if (!rate) return;
    const nowMs = Date.now();
    const start = Math.max(nowMs, this.nextSendAt);
    this.nextSendAt = start + (bytes / rate) * 1000;
    const wait = start - nowMs;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function arrayOf(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${field}: must be a list`);
  return value;
}

function methodFault(value: unknown, index: number): MethodFault {
  const fault = (value ?? {}) as Record<string, unknown>;
  if (typeof fault.method !== 'string' || !/^[A-Z][A-Za-z]+$/.test(fault.method)) {
    throw new Error(`methods[${index}].method: must be an RPC name such as RunTransferJob`);
  }
  if (typeof fault.code !== 'string' || !METHOD_CODES.has(fault.code)) {
    throw new Error(`methods[${index}].code: must be one of ${[...METHOD_CODES].join(', ')}`);
  }
  const times = fault.times ?? 1;
  if (typeof times !== 'number' || !Number.isInteger(times) || times < 1) {
    throw new Error(`methods[${index}].times: must be a whole number of calls, at least 1`);
  }
  return { method: fault.method, code: fault.code as MethodFault['code'], times };
}

function objectFault(value: unknown, index: number): FaultSettings['objects'][number] {
  const fault = (value ?? {}) as Record<string, unknown>;
  if (typeof fault.url !== 'string' || !fault.url) throw new Error(`objects[${index}].url: is required`);
  const code = fault.code ?? 'UNAVAILABLE';
  if (typeof code !== 'string' || !OBJECT_CODES.has(code)) {
    throw new Error(`objects[${index}].code: must be one of ${[...OBJECT_CODES].join(', ')}`);
  }
  return {
    url: fault.url,
    code: code as FaultSettings['objects'][number]['code'],
    ...(typeof fault.message === 'string' ? { message: fault.message } : {}),
  };
}

function permissions(value: unknown): Record<string, string[]> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('missingPermissions: must map bucket names to lists of permissions');
  }
  const result: Record<string, string[]> = {};
  for (const [bucket, list] of Object.entries(value)) {
    if (
      !Array.isArray(list) ||
      !list.every((item) => (SINK_PERMISSIONS as readonly string[]).includes(item as string))
    ) {
      throw new Error(`missingPermissions.${bucket}: must list permissions among ${SINK_PERMISSIONS.join(', ')}`);
    }
    result[bucket] = list as string[];
  }
  return result;
}
