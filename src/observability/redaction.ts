/**
 * What must never reach a log line: broker tokens, API keys, secrets, passwords, session cookies.
 * Two layers, because each misses what the other catches: pino `redact` paths cover the known
 * shapes (request headers, top-level and one-level-deep fields) at serialisation cost close to
 * zero; `scrubDeep` catches the same key names at any depth in objects our own code logs.
 */

export const REDACTED = '[REDACTED]';

/** Header names (lower case, as Node gives them) that carry credentials. */
export const SECRET_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'access-token',
  'x-access-token',
  'x-auth-token',
] as const;

/** Field names that carry credentials, in the spellings the code base and the broker use. */
export const SECRET_FIELDS = [
  'accessToken',
  'access_token',
  'token',
  'requestToken',
  'request_token',
  'refreshToken',
  'refresh_token',
  'apiKey',
  'api_key',
  'apiSecret',
  'api_secret',
  'secret',
  'secretKey',
  'password',
  'passwd',
  'encryptionKey',
  'authorization',
  'cookie',
] as const;

const secretFieldSet = new Set<string>([...SECRET_FIELDS, ...SECRET_HEADERS].map((f) => f.toLowerCase()));

/** Whether a key name (any case) holds a credential. */
export function isSecretKey(key: string): boolean {
  return secretFieldSet.has(key.toLowerCase());
}

const bracket = (name: string) => `[${JSON.stringify(name)}]`;

/** pino `redact.paths`: request/response headers plus credential fields at the top and one level down. */
export function redactPaths(): string[] {
  const headerPaths = SECRET_HEADERS.flatMap((h) => [`req.headers${bracket(h)}`, `res.headers${bracket(h)}`]);
  // Every field name is a plain identifier, so dotted paths are enough.
  const fieldPaths = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `req.body.${f}`]);
  return [...headerPaths, ...fieldPaths];
}

/**
 * Query parameters whose values are credentials (the broker's redirect carries `request_token`).
 * The login `state` is one too: it is the callback's only credential, and a callback refused
 * before the state is consumed (e.g. an empty request_token) leaves it usable.
 */
const SECRET_QUERY = /token|secret|password|passwd|api[-_]?key|authorization|signature|session|^state\b/i;

/** A URL fit for a log line: credential-looking query values replaced, everything else kept. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName);
      } catch {
        // A malformed escape is still logged by its raw name.
      }
      return eq >= 0 && SECRET_QUERY.test(name) ? `${rawName}=${REDACTED}` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/** A parsed query object with the same credential-looking values replaced. */
export function redactQuery(query: unknown): unknown {
  if (!query || typeof query !== 'object') return query;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) out[k] = SECRET_QUERY.test(k) ? REDACTED : v;
  return out;
}

const MAX_DEPTH = 8;

/**
 * A copy of `value` with every credential-named field replaced, at any depth of plain objects and
 * arrays (bounded, and safe on cycles). Objects without such fields come back as they are, so the
 * common case costs one walk and no allocation.
 */
export function scrubDeep<T>(value: T, depth = 0, seen = new WeakSet<object>()): T {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const s = scrubDeep(v, depth + 1, seen);
      if (s !== v) changed = true;
      return s;
    });
    return (changed ? out : value) as T;
  }
  // Only plain data is walked: class instances (the raw req/res pino-http hands over, errors,
  // sockets) have their own serializers, and walking them would cost a graph per log line.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const next = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : scrubDeep(v, depth + 1, seen);
    if (next !== v) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[k] = next;
    }
  }
  return (copy ?? value) as T;
}
