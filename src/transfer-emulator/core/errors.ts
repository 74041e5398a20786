/**
 * Errors of the emulated service, with the canonical codes the real service answers (google.rpc.Code). The
 * gRPC front sends the code as the status; the REST front maps it to the HTTP status and the JSON error body
 * that Google APIs use.
 */

/** The canonical codes the emulator answers with. */
export const Code = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** One canonical code's name. */
export type CodeName = keyof typeof Code;

/** The HTTP status each code maps to, as Google's REST APIs map them. */
export const HTTP_STATUS: Record<CodeName, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

/** An error the service answers with: a canonical code and a message for people. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly code: CodeName,
    message: string,
  ) {
    super(message);
  }
}

/** INVALID_ARGUMENT naming the field, in the proto's snake_case as the real service names it. */
export function invalidArgument(field: string, problem: string): ServiceError {
  return new ServiceError('INVALID_ARGUMENT', `${field}: ${problem}`);
}
