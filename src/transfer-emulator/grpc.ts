/**
 * The gRPC front: `google.storagetransfer.v1.StorageTransferService` and `google.longrunning.Operations` on
 * one port, as the official clients expect them. Each method decodes its request with the shipped protos,
 * calls the core method of the same name, and encodes the answer; a method the core lacks answers
 * UNIMPLEMENTED naming it, and a {@link ServiceError} becomes the gRPC status of its code.
 */
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { Code, ServiceError } from './core/errors';
import { OBJECT_OPTIONS, service, SERVICES } from './protos';

/** The core, as the fronts call it: a method per RPC, by its lower-camel-case name. */
export type Core = Record<string, unknown>;

/** Starts the gRPC front on `host:port` (0 picks a free port); resolves to the server and its port. */
export async function startGrpcFront(
  core: Core,
  host: string,
  port: number,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  for (const name of Object.values(SERVICES)) {
    const { definition, implementation } = buildService(service(name), core);
    server.addService(definition, implementation);
  }
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, actual) =>
      error ? reject(error) : resolve(actual),
    ),
  );
  return { server, port: bound };
}

function buildService(definition: protobuf.Service, core: Core) {
  const serviceName = definition.fullName.replace(/^\./, '');
  const methods: Record<string, grpc.MethodDefinition<object, object>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of definition.methodsArray) {
    method.resolve();
    const requestType = method.resolvedRequestType as protobuf.Type;
    const responseType = method.resolvedResponseType as protobuf.Type;
    methods[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: object) => Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
      requestDeserialize: (bytes: Buffer) => requestType.toObject(requestType.decode(bytes), OBJECT_OPTIONS),
      responseSerialize: (value: object) => Buffer.from(responseType.encode(responseType.fromObject(value)).finish()),
      responseDeserialize: (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), OBJECT_OPTIONS),
    };
    const coreName = method.name.charAt(0).toLowerCase() + method.name.slice(1);
    implementation[method.name] = (
      call: grpc.ServerUnaryCall<object, object>,
      callback: grpc.sendUnaryData<object>,
    ) => {
      const handler = core[coreName];
      if (typeof handler !== 'function') {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${serviceName}.${method.name} is not emulated` });
        return;
      }
      Promise.resolve()
        .then(() => (core.beforeCall as ((method: string) => void) | undefined)?.call(core, method.name))
        .then(() => (handler as (request: object) => unknown).call(core, call.request))
        .then(
          (response) => callback(null, response as object),
          (error: unknown) => callback(toStatus(error)),
        );
    };
  }
  return { definition: methods as grpc.ServiceDefinition, implementation };
}

function toStatus(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof ServiceError) return { code: Code[error.code], details: error.message };
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}
