/**
 * Readiness and setup of a Temporal server: health over gRPC, and the project's search attributes. The dev
 * server's `--search-attribute` flag registers attributes only in a new database, so they are added here
 * through the operator service, which works on a kept database and on a real cluster alike.
 */
import { Connection } from '@temporalio/client';
import { grpc, temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../search-attributes';

/** Says whether the Temporal frontend at `address` answers its health check as serving. */
export async function temporalServing(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    const response = await connection.healthService.check({});
    return response.status === grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING;
  } finally {
    await connection.close();
  }
}

/** Registers the project's search attributes in a namespace, adding only those it lacks; returns those added. */
export async function registerSearchAttributes(address: string, namespace = 'default'): Promise<string[]> {
  const connection = await Connection.connect({ address, connectTimeout: 5000 });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = SEARCH_ATTRIBUTES.filter((attribute) => !known.has(attribute.name));
    if (missing.length === 0) return [];
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((attribute) => [attribute.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
    return missing.map((attribute) => attribute.name);
  } finally {
    await connection.close();
  }
}
