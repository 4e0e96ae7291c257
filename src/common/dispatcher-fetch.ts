/**
 * A `fetch` for JSON calls to one API (the broker): the same connection pool as the global fetch
 * (undici's global dispatcher: keep-alive, the same stale-socket and timeout handling), without
 * the Fetch standard's per-call machinery (Request and Headers objects, a web stream for the body,
 * request cloning), which cost 0.3-0.4 ms of CPU per live order (BENCHMARKS.md, bench:orders).
 * It covers what ShareKhanClient uses: a string body, `signal`, `status`, `headers.get`, `text()`;
 * redirects are never followed. Anything else goes to the global fetch.
 */

/** Where undici (Node's copy and the npm package alike) keeps the dispatcher the global fetch uses. */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

type HeaderValues = Record<string, string | string[] | undefined>;

interface RequestDispatcher {
  request(options: {
    origin: string;
    path: string;
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
  }): Promise<{ statusCode: number; headers: HeaderValues; body: { text(): Promise<string> } }>;
}

/** The User-Agent the global fetch sends, so the broker sees the same client as before. */
const USER_AGENT = 'node';

export const dispatcherFetch = ((input: unknown, init: RequestInit = {}) => {
  const dispatcher = globalDispatcher();
  const { body, signal } = init;
  if (!dispatcher || typeof input !== 'string' || (body !== undefined && body !== null && typeof body !== 'string') || !plainHeaders(init.headers)) {
    return globalThis.fetch(input as string, init);
  }
  return send(dispatcher, input, init.method ?? 'GET', init.headers ?? {}, body ?? undefined, signal ?? undefined);
}) as typeof fetch;

async function send(dispatcher: RequestDispatcher, url: string, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined): Promise<Response> {
  const { origin, pathname, search } = new URL(url);
  const named = Object.keys(headers).some((h) => h.toLowerCase() === 'user-agent');
  try {
    const res = await dispatcher.request({
      origin,
      path: pathname + search,
      method,
      headers: named ? headers : { ...headers, 'user-agent': USER_AGENT },
      ...(body !== undefined ? { body } : {}),
      ...(signal ? { signal } : {}),
    });
    return {
      status: res.statusCode,
      ok: res.statusCode >= 200 && res.statusCode < 300,
      headers: { get: (name: string) => headerValue(res.headers, name) },
      text: () => res.body.text().catch((err: unknown) => Promise.reject(asFetchError(err, signal))),
    } as unknown as Response;
  } catch (err) {
    throw asFetchError(err, signal);
  }
}

/** Errors as the global fetch throws them: the signal's reason when aborted, else TypeError with the cause. */
function asFetchError(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError('fetch failed', { cause: err });
}

function headerValue(headers: HeaderValues, name: string): string | null {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}

function plainHeaders(h: RequestInit['headers']): h is Record<string, string> | undefined {
  return h === undefined || (typeof h === 'object' && h !== null && !Array.isArray(h) && !(h instanceof Headers));
}

function globalDispatcher(): RequestDispatcher | undefined {
  // Reading fetch makes Node load its undici, which installs the global dispatcher.
  void globalThis.fetch;
  const d = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] as Partial<RequestDispatcher> | undefined;
  return typeof d?.request === 'function' ? (d as RequestDispatcher) : undefined;
}
