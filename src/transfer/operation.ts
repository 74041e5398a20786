/**
 * A transfer operation as the product reads it: the `google.longrunning.Operation` that the service returns,
 * with its `TransferOperation` metadata decoded from the `Any` (google-gax leaves it undecoded, and gives no
 * metadata at all for a failed operation through `op.promise()`), made into a {@link TransferReport} that
 * holds no secret: the transfer spec, whose URL list may be a signed URL, is left out, and the URLs of the
 * error breakdown are redacted.
 */
import { protos } from '@google-cloud/storage-transfer';
import { redactUrl } from '../redact';
import type { TransferReport } from '../record';

const { TransferOperation } = protos.google.storagetransfer.v1;

/** An operation's state: done or not, the report, and the error the service gave a failed one. */
export interface OperationState {
  done: boolean;
  report: TransferReport & { status: string };
  error?: { code: number; message: string };
}

/** Reads an operation returned by `getOperation` (or `runTransferJob`). */
export function readOperationState(operation: protos.google.longrunning.IOperation): OperationState {
  const any = operation.metadata as { value?: Uint8Array | null } | null | undefined;
  const decoded = TransferOperation.toObject(TransferOperation.decode(any?.value ?? new Uint8Array()), {
    enums: String,
    longs: Number,
  }) as {
    status?: string;
    startTime?: { seconds?: number; nanos?: number };
    endTime?: { seconds?: number; nanos?: number };
    counters?: Record<string, number>;
    errorBreakdowns?: {
      errorCode?: string;
      errorCount?: number;
      errorLogEntries?: { url?: string; errorDetails?: string[] }[];
    }[];
  };
  const report: OperationState['report'] = {
    operationName: operation.name ?? undefined,
    status: decoded.status ?? 'STATUS_UNSPECIFIED',
    counters: decoded.counters ?? {},
  };
  const start = timestamp(decoded.startTime);
  const end = timestamp(decoded.endTime);
  if (start) report.startTime = start;
  if (end) report.endTime = end;
  if (decoded.errorBreakdowns?.length) {
    report.errorBreakdowns = decoded.errorBreakdowns.map((breakdown) => ({
      errorCode: breakdown.errorCode ?? 'UNKNOWN',
      errorCount: breakdown.errorCount ?? 0,
      examples: (breakdown.errorLogEntries ?? []).map((entry) => ({
        url: redactUrl(entry.url ?? ''),
        details: entry.errorDetails ?? [],
      })),
    }));
  }
  const state: OperationState = { done: Boolean(operation.done), report };
  if (operation.error) {
    state.error = { code: operation.error.code ?? 2, message: operation.error.message ?? '' };
  }
  return state;
}

function timestamp(value: { seconds?: number; nanos?: number } | undefined): string | undefined {
  if (!value?.seconds) return undefined;
  return new Date(value.seconds * 1000 + Math.floor((value.nanos ?? 0) / 1e6)).toISOString();
}

/** The statuses an operation ends in. */
export const ENDED = new Set(['SUCCESS', 'FAILED', 'ABORTED']);
