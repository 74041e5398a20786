/**
 * The REST front: the HTTP/JSON mapping of the same methods, as the official clients' REST transport
 * (`fallback: true`) calls them. Routes come from the `google.api.http` rules in the shipped protos; the
 * long-running operations live under `transferOperations`, as the transfer client's own HTTP rules say.
 * Bodies are proto3 JSON both ways, enums as numbers when the client asks with `$alt=json;enum-encoding=int`.
 * Errors are Google's JSON error body, `{ error: { code, message, status } }`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromProto3JSON, toProto3JSON, type JSONObject, type JSONValue } from 'proto3-json-serializer';
import type protobuf from 'protobufjs';
import { HTTP_STATUS, ServiceError, type CodeName } from './core/errors';
import type { FaultTable } from './core/faults';
import type { Core } from './grpc';
import { OBJECT_OPTIONS, service, SERVICES } from './protos';

interface Route {
  verb: string;
  pattern: RegExp;
  /** The request fields that the path's variables fill, in order. */
  variables: string[];
  /** `*` (the whole body is the request), a field name, or undefined (no body). */
  body: string | undefined;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  coreName: string;
  methodName: string;
  fullName: string;
}

/** The transfer client's HTTP rules for the operations methods, which override the generic ones. */
const OPERATION_RULES: Record<string, { verb: string; path: string; body?: string }> = {
  GetOperation: { verb: 'get', path: '/v1/{name=transferOperations/**}' },
  ListOperations: { verb: 'get', path: '/v1/{name=transferOperations}' },
  CancelOperation: { verb: 'post', path: '/v1/{name=transferOperations/**}:cancel', body: '*' },
};

/** The admin endpoint of the fault table. */
export const FAULTS_PATH = '/emulator/v1/faults';

/** Starts the REST front on `host:port` (0 picks a free port), with the admin endpoint of `faults`. */
export async function startRestFront(
  core: Core,
  faults: FaultTable,
  host: string,
  port: number,
): Promise<{ server: http.Server; port: number }> {
  const routes = buildRoutes();
  const server = http.createServer((request, response) => {
    if (new URL(request.url ?? '/', 'http://emulator').pathname === FAULTS_PATH) {
      void handleFaults(faults, request, response);
    } else {
      void handle(core, routes, request, response);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function buildRoutes(): Route[] {
  const routes: Route[] = [];
  for (const name of Object.values(SERVICES)) {
    const definition = service(name);
    for (const method of definition.methodsArray) {
      method.resolve();
      const rule = OPERATION_RULES[method.name] ?? httpRule(method);
      if (!rule || (name === SERVICES.operations && !OPERATION_RULES[method.name])) continue;
      const variables: string[] = [];
      const source = rule.path.replace(
        /\{([a-z_.]+)(?:=([^}]*))?\}|[.*+?^$()|[\]\\:]/g,
        (match, field?: string, template?: string) => {
          if (!field) return `\\${match}`;
          variables.push(camel(field));
          const inner = (template ?? '*')
            .split('/')
            .map((part) => (part === '**' ? '.+' : part === '*' ? '[^/]+' : part))
            .join('/');
          return `(${inner})`;
        },
      );
      routes.push({
        verb: rule.verb.toUpperCase(),
        pattern: new RegExp(`^${source}$`),
        variables,
        body: rule.body,
        requestType: method.resolvedRequestType as protobuf.Type,
        responseType: method.resolvedResponseType as protobuf.Type,
        coreName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
        methodName: method.name,
        fullName: `${definition.fullName.replace(/^\./, '')}.${method.name}`,
      });
    }
  }
  return routes;
}

function httpRule(method: protobuf.Method): { verb: string; path: string; body?: string } | undefined {
  const options = (method.parsedOptions ?? []) as Record<string, Record<string, string>>[];
  const rule = options.find((option) => option['(google.api.http)'])?.['(google.api.http)'];
  if (!rule) return undefined;
  const verb = ['get', 'post', 'patch', 'put', 'delete'].find((candidate) => rule[candidate]);
  return verb ? { verb, path: rule[verb] as string, body: rule.body } : undefined;
}

async function handle(core: Core, routes: Route[], request: http.IncomingMessage, response: http.ServerResponse) {
  const url = new URL(request.url ?? '/', 'http://emulator');
  const numericEnums = (url.searchParams.get('$alt') ?? '').includes('enum-encoding=int');
  try {
    const body = await readBody(request);
    const pathname = decodeURIComponent(url.pathname);
    let matched: { route: Route; values: string[] } | undefined;
    for (const route of routes) {
      const match = route.verb === request.method ? route.pattern.exec(pathname) : null;
      if (match) {
        matched = { route, values: match.slice(1) };
        break;
      }
    }
    if (!matched) throw new ServiceError('NOT_FOUND', `no method answers ${request.method} ${url.pathname}`);
    const { route, values } = matched;

    const json: JSONObject = {};
    for (const [key, value] of url.searchParams) if (!key.startsWith('$')) setPath(json, key, value);
    if (route.body === '*') Object.assign(json, body);
    else if (route.body) json[camel(route.body)] = body;
    route.variables.forEach((field, index) => setPath(json, field, values[index] ?? ''));

    let message: protobuf.Message | null;
    try {
      message = fromProto3JSON(route.requestType, json);
    } catch (error) {
      throw new ServiceError(
        'INVALID_ARGUMENT',
        `the request body does not fit ${route.requestType.name}: ${(error as Error).message}`,
      );
    }
    const handler = core[route.coreName];
    if (typeof handler !== 'function') throw new ServiceError('UNIMPLEMENTED', `${route.fullName} is not emulated`);
    (core.beforeCall as ((method: string) => void) | undefined)?.call(core, route.methodName);
    const internal = route.requestType.toObject(message ?? route.requestType.create(), OBJECT_OPTIONS);
    const result = (await (handler as (request: object) => unknown).call(core, internal)) as object;
    const encoded = toProto3JSON(route.responseType.fromObject(result), { numericEnums });
    send(response, 200, encoded);
  } catch (error) {
    const code: CodeName = error instanceof ServiceError ? error.code : 'INTERNAL';
    const message = error instanceof Error ? error.message : String(error);
    send(response, HTTP_STATUS[code], { error: { code: HTTP_STATUS[code], message, status: code } });
  }
}

/** GET lists the faults, POST sets those given (JSON), DELETE clears them all. */
async function handleFaults(faults: FaultTable, request: http.IncomingMessage, response: http.ServerResponse) {
  try {
    if (request.method === 'GET') return send(response, 200, faults.list() as unknown as JSONValue);
    if (request.method === 'DELETE') {
      faults.clear();
      return send(response, 200, faults.list() as unknown as JSONValue);
    }
    if (request.method === 'POST') {
      const body = await readBody(request);
      try {
        return send(response, 200, faults.set(body) as unknown as JSONValue);
      } catch (error) {
        throw new ServiceError('INVALID_ARGUMENT', (error as Error).message);
      }
    }
    throw new ServiceError('INVALID_ARGUMENT', `${request.method ?? ''} is not GET, POST or DELETE`);
  } catch (error) {
    const code: CodeName = error instanceof ServiceError ? error.code : 'INTERNAL';
    send(response, HTTP_STATUS[code], {
      error: { code: HTTP_STATUS[code], message: (error as Error).message, status: code },
    });
  }
}

function readBody(request: http.IncomingMessage): Promise<JSONValue> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', reject);
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text) as JSONValue);
      } catch {
        reject(new ServiceError('INVALID_ARGUMENT', 'the request body is not JSON'));
      }
    });
  });
}

function send(response: http.ServerResponse, status: number, body: JSONValue): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** Sets `a.b.c` in a JSON object, creating the objects on the way. */
function setPath(target: JSONObject, dotted: string, value: JSONValue): void {
  const parts = dotted.split('.').map(camel);
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node = (next && typeof next === 'object' && !Array.isArray(next) ? next : (node[part] = {})) as JSONObject;
  }
  node[parts[parts.length - 1] as string] = value;
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}
