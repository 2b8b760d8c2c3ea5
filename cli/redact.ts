// The database password must never reach the terminal, logs or CI output. Every line the CLI
// writes goes through redact(): known passwords are replaced wherever they appear (an error
// message from a driver may quote the connection string), and so is the password part of any
// connection string, known or not.

const secrets = new Set<string>();

/** Remembers the password of a connection string (and its URL-decoded form) for redact(). */
export function registerConnectionSecrets(connectionString: string | undefined): void {
  if (!connectionString) return;
  try {
    const url = new URL(connectionString);
    for (const raw of [url.password, url.searchParams.get("password") ?? ""]) addSecret(raw);
  } catch {
    // Not a URL (a bad flag): its user:password part, if any, is still caught by the pattern below.
    const match = /^[a-z]+:\/\/[^:/@\s]*:([^@\s]+)@/i.exec(connectionString);
    if (match?.[1]) addSecret(match[1]);
  }
}

function addSecret(raw: string): void {
  if (!raw) return;
  secrets.add(raw);
  try {
    secrets.add(decodeURIComponent(raw));
  } catch {
    // not valid percent-encoding: the raw form is enough
  }
}

// scheme://user:password@  →  scheme://user:***@ ; and password=… in a query string or key/value DSN.
// The upper-case placeholder PASSWORD (used in the CLI's own hints) is left alone.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)(?!PASSWORD@)[^@\s]*@/gi;
const PARAM_PASSWORD = /(\bpassword=)[^&\s]+/gi;

export function redact(text: string): string {
  let out = text.replace(URL_PASSWORD, "$1***@").replace(PARAM_PASSWORD, "$1***");
  // Longest first, so a password containing another one is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    // Very short passwords would blank out ordinary words; the patterns above still cover URLs.
    if (secret.length >= 3) out = out.replaceAll(secret, "***");
  }
  return out;
}

/** A connection string fit for display: user, host, port and database, never the password. */
export function displayUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    if (url.searchParams.has("password")) url.searchParams.set("password", "***");
    return url.toString();
  } catch {
    return "<unparseable connection string>";
  }
}
