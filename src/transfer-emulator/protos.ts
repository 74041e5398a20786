/**
 * The Storage Transfer Service v1 and long-running operations protos, as the official clients ship them,
 * loaded once into one protobufjs root. Both fronts of the emulator use it: gRPC to encode and decode
 * messages, REST to map them to and from proto3 JSON. Inside the emulator a message is the plain object
 * protobufjs makes of it with {@link OBJECT_OPTIONS}: camelCase fields, enums as names, int64 as strings.
 */
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';

/** How messages become plain objects: the emulator's one internal shape. */
export const OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false };

/** The fully qualified names of the two services the emulator hosts on one port. */
export const SERVICES = {
  transfer: 'google.storagetransfer.v1.StorageTransferService',
  operations: 'google.longrunning.Operations',
} as const;

let cached: protobuf.Root | undefined;

/** The folders that hold the protos: the transfer client's own, and google-gax's common ones. */
function protoDirs(): string[] {
  const transferPackage = path.dirname(require.resolve('@google-cloud/storage-transfer/package.json'));
  const gaxPackage = path.dirname(require.resolve('google-gax/package.json'));
  return [path.join(transferPackage, 'build', 'protos'), path.join(gaxPackage, 'build', 'protos')];
}

/** The loaded root, with every message, enum and service of the two APIs resolved. */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const dirs = protoDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(['google/storagetransfer/v1/transfer.proto', 'google/longrunning/operations.proto'], {
    keepCase: false,
  });
  root.resolveAll();
  cached = root;
  return root;
}

/** A message type by its fully qualified name (`google.storagetransfer.v1.TransferJob`). */
export function messageType(name: string): protobuf.Type {
  return protoRoot().lookupType(name);
}

/** A service by its fully qualified name. */
export function service(name: string): protobuf.Service {
  return protoRoot().lookupService(name);
}
