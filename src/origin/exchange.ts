/**
 * One HTTP request and its response as the origin's handlers see them: the method, the path exactly as sent
 * (still percent-encoded, without the query string, which may carry a signature) and a count of body bytes
 * for the access log. The small senders here keep HEAD honest: a HEAD answer carries the headers that the
 * GET would, Content-Length included, and no body.
 */
import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

/** A request being answered, with what the access log needs. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The request method, upper case. */
  readonly method: string;
  /** The path as sent, percent-encoded, without the query string. */
  readonly path: string;
  /** The query string's parameters. */
  readonly query: URLSearchParams;
  /** Body bytes sent so far. */
  bytes: number;
}

/** Makes an {@link Exchange} from a request, or returns null when its target is not a path. */
export function toExchange(req: IncomingMessage, res: ServerResponse): Exchange | null {
  let target = req.url ?? '';
  // a proxy may send the absolute form (RFC 9112 §3.2.2): only its path matters here
  const absolute = /^https?:\/\/[^/?#]*/i.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  if (!target.startsWith('/')) return null;

  const mark = target.indexOf('?');
  const path = mark < 0 ? target : target.slice(0, mark);
  const query = new URLSearchParams(mark < 0 ? '' : target.slice(mark + 1));
  return { req, res, method: (req.method ?? 'GET').toUpperCase(), path, query, bytes: 0 };
}

/** Answers with a complete body (none on HEAD, though Content-Length still tells its size). */
export function send(ex: Exchange, status: number, headers: OutgoingHttpHeaders, body: string | Buffer = ''): void {
  // 204 and 304 can carry neither a body nor its length (RFC 9110 §8.6), whatever a fault asks to send
  if (status === 204 || status === 304) {
    ex.res.writeHead(status, headers);
    ex.res.end();
    return;
  }
  const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  ex.res.writeHead(status, { ...headers, 'Content-Length': data.length });
  if (ex.method === 'HEAD' || data.length === 0) {
    ex.res.end();
    return;
  }
  ex.res.end(data);
  ex.bytes += data.length;
}

/** Answers with a line of plain text. */
export function sendText(ex: Exchange, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  send(ex, status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, `${text}\n`);
}

/** Answers with a JSON document. */
export function sendJson(ex: Exchange, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  send(ex, status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(value));
}

/** Reads a request body, or returns null when it is larger than `limit` bytes (the rest is drained unread). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
