/**
 * Keeps secrets out of logs, workflow history and documents. URLs are where they hide: signed URLs carry
 * their signature and credential in the query string, and a URL may carry a user and password.
 */

/** Query parameters that carry a signature, a credential or a token (matched without regard to case). */
const SECRET_PARAMETERS = [
  /^x-goog-(signature|credential)$/i,
  /^x-amz-(signature|credential|security-token)$/i,
  /^(signature|sig|googleaccessid|awsaccesskeyid|token|access_token|api_key|apikey|key|password|secret)$/i,
];

/** Says whether a query parameter's value must be kept secret. */
export function isSecretParameter(name: string): boolean {
  return SECRET_PARAMETERS.some((pattern) => pattern.test(name));
}

/**
 * Returns the URL with its user, password and secret query values replaced by `REDACTED`. Text that is not
 * a URL is returned as `<unparseable URL>` rather than as itself, since it may be a secret.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable URL>';
  }
  if (parsed.username) parsed.username = 'REDACTED';
  if (parsed.password) parsed.password = 'REDACTED';
  for (const name of [...parsed.searchParams.keys()]) {
    if (isSecretParameter(name)) parsed.searchParams.set(name, 'REDACTED');
  }
  return parsed.toString();
}

/** Says whether a URL carries a secret (a user or password, or a secret query parameter). */
export function urlHasSecret(url: string): boolean {
  try {
    const parsed = new URL(url);
    return Boolean(parsed.username || parsed.password) || [...parsed.searchParams.keys()].some(isSecretParameter);
  } catch {
    return false;
  }
}
