/**
 * Time-limited URLs shaped like Cloud Storage V4 signed URLs, as Kaggle's downloads redirect to. The query
 * carries the same `X-Goog-*` parameters, so code that inspects, redacts or logs such URLs meets the real
 * thing; the signature itself is an HMAC-SHA256 with a secret of this origin, since there is no service
 * account key to sign with RSA. Clients treat the URL as opaque, so nothing downstream can tell.
 *
 * The signed string covers the path (percent-encoded, as sent), X-Goog-Date and X-Goog-Expires. The host is
 * left out on purpose: the same URL must verify whether it reaches us directly or through publicBaseUrl.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The algorithm Cloud Storage names in a V4 signed URL. */
export const SIGNING_ALGORITHM = 'GOOG4-RSA-SHA256';
/** Cloud Storage refuses V4 signed URLs valid for longer than seven days. */
export const MAX_TTL_SECONDS = 604_800;

const CREDENTIAL_ACCOUNT = 'coleta-origin@localhost';

/** What a signed URL's query tells about it. */
export type Verdict = 'valid' | 'missing' | 'mismatch' | 'expired';

/** Signs and verifies the origin's time-limited URLs. */
export class UrlSigner {
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds: number,
  ) {}

  /** The query string (without `?`) that makes `path` readable for the configured time from `now`. */
  sign(path: string, now: Date = new Date()): string {
    const date = googDate(now);
    const expires = String(this.ttlSeconds);
    const query = new URLSearchParams({
      'X-Goog-Algorithm': SIGNING_ALGORITHM,
      'X-Goog-Credential': `${CREDENTIAL_ACCOUNT}/${date.slice(0, 8)}/auto/storage/goog4_request`,
      'X-Goog-Date': date,
      'X-Goog-Expires': expires,
      'X-Goog-SignedHeaders': 'host',
    });
    query.set('X-Goog-Signature', this.signature(path, date, expires));
    return query.toString();
  }

  /** Checks the signature first (a forged expiry must not read as merely expired), then the expiry. */
  verify(path: string, query: URLSearchParams, now: Date = new Date()): Verdict {
    const signature = query.get('X-Goog-Signature');
    if (signature === null) return 'missing';

    const date = query.get('X-Goog-Date') ?? '';
    const expires = query.get('X-Goog-Expires') ?? '';
    const issued = parseGoogDate(date);
    if (
      issued === null ||
      !/^[1-9][0-9]{0,6}$/.test(expires) ||
      query.get('X-Goog-Algorithm') !== SIGNING_ALGORITHM ||
      query.get('X-Goog-SignedHeaders') !== 'host' ||
      !/^[0-9a-f]{64}$/.test(signature)
    ) {
      return 'mismatch';
    }
    const expected = Buffer.from(this.signature(path, date, expires), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'mismatch';

    const expiresAt = issued.getTime() + Number(expires) * 1000;
    return now.getTime() >= expiresAt ? 'expired' : 'valid';
  }

  private signature(path: string, date: string, expires: string): string {
    return createHmac('sha256', this.secret).update(`${path}\n${date}\n${expires}`).digest('hex');
  }
}

/** `YYYYMMDDTHHMMSSZ`, the basic ISO 8601 form that X-Goog-Date uses. */
export function googDate(time: Date): string {
  return time
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

function parseGoogDate(value: string): Date | null {
  const parts = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!parts) return null;
  const [, year, month, day, hour, minute, second] = parts.map(Number);
  if (year === undefined || month === undefined || day === undefined) return null;
  const time = Date.UTC(year, month - 1, day, hour ?? 0, minute ?? 0, second ?? 0);
  return Number.isNaN(time) ? null : new Date(time);
}
