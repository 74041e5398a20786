/**
 * The URL list that Storage Transfer Service copies from (`TsvHttpData-1.0`), and the object names the files
 * land under. The service's rules: the first line is exactly `TsvHttpData-1.0`; each other line is
 * `URL<TAB>size<TAB>md5` with the MD5 as base64 of the 16 bytes; URLs in UTF-8 lexicographic order. Size and
 * MD5 are written whenever the source published them, because the service then checks them itself.
 */

/** One file for the list. */
export interface UrlListItem {
  url: string;
  size?: number;
  md5?: string;
}

/** The list's text, sorted by URL in UTF-8 byte order (not JavaScript's UTF-16 order). */
export function formatUrlList(items: readonly UrlListItem[]): string {
  const sorted = [...items].sort((a, b) => Buffer.compare(Buffer.from(a.url), Buffer.from(b.url)));
  const lines = sorted.map((item) =>
    item.size === undefined && item.md5 === undefined
      ? item.url
      : `${item.url}\t${item.size ?? ''}${item.md5 === undefined ? '' : `\t${item.md5}`}`,
  );
  return `TsvHttpData-1.0\n${lines.map((line) => `${line}\n`).join('')}`;
}

/**
 * The object a URL lands as: `<sink path><host>/<path>`, the port and query dropped and the path
 * percent-decoded, as the service names what it copies.
 */
export function objectNameFor(url: string, sinkPath: string): string {
  const parsed = new URL(url);
  return `${sinkPath}${parsed.hostname}${decodeURIComponent(parsed.pathname)}`;
}
