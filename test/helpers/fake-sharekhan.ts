import { randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decodeExchangeValue,
  makeRequestToken,
  RequestTokenError,
} from '../../src/sharekhan/login/request-token-exchange.js';

/**
 * A local stand-in for ShareKhan that speaks the paths and shapes in
 * SHAREKHAN-API.md. Where the real broker's behaviour is undocumented the fake
 * picks something plausible and strict; tests should not treat those choices as
 * facts about ShareKhan.
 */

export interface FakeShareKhanOptions {
  secretKey: string;
  apiKey: string;
  /** Version id issueRequestToken() encodes for (login uses the query's version_id). */
  versionId?: string | null;
  /** When set, login and authenticated calls must carry this vendor key. */
  vendorKey?: string;
  /** Login answers 302 to here; without it, login answers 200 JSON with the target. */
  redirectUri?: string;
  /** Customer the simulated login belongs to unless the query has customer_id. */
  customerId?: string;
  /** Put the request token into the redirect unescaped, so a '+' arrives as a space. */
  plusAsSpaceInRedirect?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Full pathname as received, e.g. /skapi/services/orders */
  path: string;
  /** Pathname under the REST root (e.g. /orders), undefined for other paths. */
  servicePath: string | undefined;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON when the body was JSON, else the raw text ('' for none). */
  body: unknown;
  at: number;
}

export interface FakeOrder {
  orderId: string;
  customerId: string;
  accessToken: string;
  requestType: string;
  body: Record<string, unknown>;
}

/** Every POST /orders the fake received, accepted or not: who it was for and which token it carried. */
export interface OrderAttempt {
  at: number;
  /** customerId in the order body ('' when missing). */
  customerId: string;
  /** The access-token header ('' when missing). */
  accessToken: string;
  /** Customer the fake issued that token to; null for a token it never issued. */
  tokenCustomerId: string | null;
  tokenRevoked: boolean;
  /** tradingSymbol of the body: tests put the signal or order id there so attempts can be counted. */
  tradingSymbol: string;
  /** HTTP status the fake answered. */
  status: number;
  /** Broker order id when the order was accepted. */
  orderId: string | null;
}

export interface FailureSwitch {
  status: number;
  count?: number;
  /** Only requests whose path (full or under the REST root) starts with this. */
  path?: string;
  /** Process the request first (e.g. place the order), then answer with the failure. */
  afterProcessing?: boolean;
}

export interface FakeShareKhan {
  /** REST root, e.g. http://127.0.0.1:PORT/skapi/services */
  baseUrl: string;
  /** http://127.0.0.1:PORT/skapi/auth/login.html */
  loginUrl: string;
  origin: string;
  requests: RecordedRequest[];
  orders: FakeOrder[];
  orderAttempts: OrderAttempt[];
  /** Requests received for a method and a path under the REST root. */
  requestsTo(method: string, servicePath: string): RecordedRequest[];
  issueRequestToken(customerId: string, state?: string): string;
  /** Skip the login flow: mint a live access token directly. */
  issueAccessToken(customerId: string): string;
  failNext(opts: FailureSwitch): void;
  setLatency(ms: number, path?: string): void;
  nonJsonNext(opts?: { count?: number; path?: string; status?: number }): void;
  revoke(accessToken: string): void;
  rejectOrdersWith(reason: string | null): void;
  close(): Promise<void>;
}

const SERVICES = '/skapi/services';
const LOGIN = '/skapi/auth/login.html';
const VALID_VERSION_IDS = new Set(['', '1005', '1006']);
const ACCESS_DENIED = {
  status: 403,
  message: 'error',
  errorType: 'Access Denied',
};
const EXCHANGES = new Set(['NC', 'BC', 'NF', 'RN', 'MX']);
const DERIVATIVES = new Set(['NF', 'RN', 'MX']);
const TRANSACTION_TYPES = new Set(['B', 'S', 'BM', 'SM', 'SAM']);
const PRODUCT_TYPES = new Set(['INVESTMENT', 'BIGTRADE', 'BIGTRADEPLUS']);
const REQUEST_TYPES = new Set(['NEW', 'MODIFY', 'CANCEL']);
const REQUIRED_ORDER_FIELDS = [
  'customerId',
  'scripCode',
  'tradingSymbol',
  'exchange',
  'transactionType',
  'quantity',
  'disclosedQty',
  'price',
  'triggerPrice',
  'rmsCode',
  'afterHour',
  'orderType',
  'channelUser',
  'validity',
  'requestType',
  'productType',
];
const DERIVATIVE_FIELDS = [
  'instrumentType',
  'strikePrice',
  'optionType',
  'expiry',
];

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

interface IssuedRequest {
  customerId: string;
  versionId: string;
  state: string | undefined;
  used: boolean;
}

interface Switch {
  remaining: number;
  path: string | undefined;
}

const json = (
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const badRequest = (errorMsg: string): Reply =>
  json(400, { status: 400, message: 'error', errorMsg });

export async function startFakeShareKhan(
  opts: FakeShareKhanOptions,
): Promise<FakeShareKhan> {
  const issuedRequests = new Map<string, IssuedRequest>();
  const accessTokens = new Map<
    string,
    { customerId: string; revoked: boolean }
  >();
  const requests: RecordedRequest[] = [];
  const orders: FakeOrder[] = [];
  const orderAttempts: OrderAttempt[] = [];
  const failures: (Switch & { status: number; afterProcessing: boolean })[] =
    [];
  const nonJson: (Switch & { status: number })[] = [];
  const latency = new Map<string | undefined, number>();
  const timers = new Set<NodeJS.Timeout>();
  let rejection: string | null = null;
  let orderSeq = 1_000_000;

  const matches = (filter: string | undefined, rec: RecordedRequest) =>
    filter === undefined ||
    rec.path.startsWith(filter) ||
    (rec.servicePath !== undefined && rec.servicePath.startsWith(filter));

  function takeSwitch<T extends Switch>(
    list: T[],
    rec: RecordedRequest,
  ): T | undefined {
    const found = list.find((s) => s.remaining > 0 && matches(s.path, rec));
    if (found) found.remaining -= 1;
    return found;
  }

  function delayFor(rec: RecordedRequest): number {
    let ms = latency.get(undefined) ?? 0;
    for (const [path, value] of latency) {
      if (path !== undefined && matches(path, rec)) ms = Math.max(ms, value);
    }
    return ms;
  }

  function issueRequestToken(
    customerId: string,
    state: string | undefined,
    versionId: string,
  ): string {
    const requestId = randomUUID();
    issuedRequests.set(requestId, {
      customerId,
      versionId,
      state,
      used: false,
    });
    return makeRequestToken(`${requestId}|${customerId}`, opts.secretKey, {
      versionId,
    });
  }

  function issueAccessToken(customerId: string): string {
    const token = randomBytes(32).toString('base64url');
    accessTokens.set(token, { customerId, revoked: false });
    return token;
  }

  function login(rec: RecordedRequest, origin: string): Reply {
    const q = rec.query;
    const versionId = q.version_id ?? '';
    if (
      q.api_key !== opts.apiKey ||
      !VALID_VERSION_IDS.has(versionId) ||
      (opts.vendorKey !== undefined && q.vendor_key !== opts.vendorKey)
    ) {
      return json(400, { status: 400, message: 'Request is invalid' });
    }
    const customerId = q.customer_id || opts.customerId || 'C100';
    const state = q.state;
    const token = issueRequestToken(customerId, state, versionId);
    const target = new URL(opts.redirectUri ?? `${origin}/callback`);
    let location: string;
    if (opts.plusAsSpaceInRedirect) {
      const sep = target.search ? '&' : '?';
      location = `${target.href}${sep}request_token=${token}&state=${encodeURIComponent(state ?? '')}`;
    } else {
      target.searchParams.set('request_token', token);
      target.searchParams.set('state', state ?? '');
      location = target.href;
    }
    if (opts.redirectUri)
      return { status: 302, headers: { location }, body: '' };
    return json(200, { redirectTo: location, requestToken: token, state });
  }

  function accessToken(rec: RecordedRequest): Reply {
    const body = rec.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object')
      return badRequest('Body must be JSON');
    if (body.apiKey !== opts.apiKey) return json(403, ACCESS_DENIED);
    if (opts.vendorKey !== undefined && body.vendorKey !== opts.vendorKey) {
      return json(403, ACCESS_DENIED);
    }
    if (typeof body.requestToken !== 'string')
      return badRequest('requestToken is required');
    const versionId = typeof body.versionId === 'string' ? body.versionId : '';
    let plaintext: string;
    try {
      plaintext = decodeExchangeValue(body.requestToken, opts.secretKey, {
        versionId,
      });
    } catch (err) {
      if (err instanceof RequestTokenError)
        return badRequest('Invalid request token');
      throw err;
    }
    const [customerId, requestId, extra] = plaintext.split('|');
    const issued = requestId ? issuedRequests.get(requestId) : undefined;
    if (extra !== undefined || !issued || issued.customerId !== customerId) {
      // An unswapped value decrypts too, but reads "<requestId>|<customerId>".
      return badRequest('Invalid request token');
    }
    if (issued.versionId !== versionId)
      return badRequest('versionId does not match the login');
    if (issued.used) return badRequest('Request token already used');
    if (issued.state !== undefined && body.state !== issued.state) {
      return badRequest('state does not match the login');
    }
    issued.used = true;
    const token = issueAccessToken(customerId);
    return json(200, {
      status: 200,
      message: 'success',
      data: { token, customerId },
    });
  }

  /** Returns the token's customer, or a 403 reply. */
  function authenticate(
    rec: RecordedRequest,
  ): { customerId: string; token: string } | Reply {
    const h = rec.headers;
    const token = h['access-token'];
    const entry =
      typeof token === 'string' ? accessTokens.get(token) : undefined;
    if (
      h['api-key'] !== opts.apiKey ||
      (opts.vendorKey !== undefined && h['vendor-key'] !== opts.vendorKey) ||
      !entry ||
      entry.revoked
    ) {
      return json(403, ACCESS_DENIED);
    }
    return { customerId: entry.customerId, token: token as string };
  }

  function placeOrder(
    rec: RecordedRequest,
    who: { customerId: string; token: string },
  ): Reply {
    const body = rec.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return badRequest('Body must be a JSON object');
    }
    const order = body as Record<string, unknown>;
    for (const field of REQUIRED_ORDER_FIELDS) {
      if (
        order[field] === undefined ||
        order[field] === null ||
        order[field] === ''
      ) {
        return badRequest(`Missing required field: ${field}`);
      }
    }
    if (!EXCHANGES.has(String(order.exchange)))
      return badRequest('Invalid exchange');
    if (!TRANSACTION_TYPES.has(String(order.transactionType))) {
      return badRequest('Invalid transactionType');
    }
    if (!PRODUCT_TYPES.has(String(order.productType)))
      return badRequest('Invalid productType');
    if (!REQUEST_TYPES.has(String(order.requestType)))
      return badRequest('Invalid requestType');
    if (DERIVATIVES.has(String(order.exchange))) {
      const missing = DERIVATIVE_FIELDS.find((f) => order[f] === undefined);
      if (missing) return badRequest(`Missing required field: ${missing}`);
    }
    if (order.customerId !== who.customerId) {
      return badRequest('customerId does not belong to this access token');
    }
    const requestType = String(order.requestType);
    if (requestType !== 'NEW') {
      if (!order.orderId) return badRequest('Missing required field: orderId');
      if (
        !orders.some(
          (o) => o.orderId === order.orderId && o.customerId === who.customerId,
        )
      ) {
        return json(200, {
          status: 200,
          message: 'success',
          data: { errormsg: 'Order not found' },
        });
      }
    }
    if (rejection !== null) {
      return json(200, {
        status: 200,
        message: 'success',
        data: { errormsg: rejection },
      });
    }
    const orderId =
      requestType === 'NEW' ? String(++orderSeq) : String(order.orderId);
    orders.push({
      orderId,
      customerId: who.customerId,
      accessToken: who.token,
      requestType,
      body: order,
    });
    return json(200, {
      status: 200,
      message: 'success',
      data: {
        orderId,
        orderStatus: 'Pending',
        customerId: who.customerId,
        requestType,
      },
    });
  }

  function read(rec: RecordedRequest, who: { customerId: string }): Reply {
    const parts = (rec.servicePath ?? '')
      .split('/')
      .filter(Boolean)
      .map(decodeURIComponent);
    const ok = (data: unknown) =>
      json(200, { status: 200, message: 'success', data });
    const own = (customerId: string | undefined, reply: () => Reply): Reply =>
      customerId === who.customerId
        ? reply()
        : badRequest('customerId does not belong to this access token');
    const [root, a, b, c, d] = parts;
    const mine = () => orders.filter((o) => o.customerId === who.customerId);
    if (root === 'reports' && parts.length === 2) {
      return own(a, () =>
        ok(mine().map((o) => ({ orderId: o.orderId, ...o.body }))),
      );
    }
    if (
      root === 'reports' &&
      (parts.length === 4 || (parts.length === 5 && d === 'trades'))
    ) {
      return own(b, () => {
        const found = mine().filter(
          (o) => o.orderId === c && o.body.exchange === a,
        );
        if (found.length === 0)
          return json(404, {
            status: 404,
            message: 'error',
            errorMsg: 'Order not found',
          });
        return ok(
          parts.length === 5
            ? []
            : found.map((o) => ({
                orderId: o.orderId,
                orderStatus: 'Pending',
                ...o.body,
              })),
        );
      });
    }
    if (root === 'limitstmt' && parts.length === 3) {
      return own(b, () =>
        ok({ exchange: a, availableMargin: '100000.00', usedMargin: '0.00' }),
      );
    }
    if ((root === 'trades' || root === 'holdings') && parts.length === 2) {
      return own(a, () => ok([]));
    }
    return json(404, { status: 404, message: 'error', errorMsg: 'Not found' });
  }

  function route(rec: RecordedRequest, origin: string): Reply {
    if (rec.method === 'GET' && rec.path === LOGIN) return login(rec, origin);
    if (rec.method === 'POST' && rec.servicePath === '/access/token')
      return accessToken(rec);
    if (rec.servicePath === undefined) {
      return json(404, {
        status: 404,
        message: 'error',
        errorMsg: 'Not found',
      });
    }
    const who = authenticate(rec);
    if ('status' in who) return who;
    if (rec.method === 'POST' && rec.servicePath === '/orders')
      return placeOrder(rec, who);
    if (rec.method === 'GET') return read(rec, who);
    return json(404, { status: 404, message: 'error', errorMsg: 'Not found' });
  }

  function attemptOf(rec: RecordedRequest, reply: Reply): OrderAttempt {
    const body = (rec.body && typeof rec.body === 'object' ? rec.body : {}) as Record<string, unknown>;
    const header = rec.headers['access-token'];
    const accessToken = typeof header === 'string' ? header : '';
    const entry = accessTokens.get(accessToken);
    let orderId: string | null = null;
    try {
      const data = (JSON.parse(reply.body) as { data?: { orderId?: unknown } }).data;
      if (reply.status === 200 && typeof data?.orderId === 'string') orderId = data.orderId;
    } catch {
      // A non-JSON reply carries no order id.
    }
    return {
      at: rec.at,
      customerId: typeof body.customerId === 'string' ? body.customerId : '',
      accessToken,
      tokenCustomerId: entry?.customerId ?? null,
      tokenRevoked: entry?.revoked ?? false,
      tradingSymbol: typeof body.tradingSymbol === 'string' ? body.tradingSymbol : '',
      status: reply.status,
      orderId,
    };
  }

  function failureReply(status: number): Reply {
    const text: Record<number, string> = {
      429: 'Too Many Requests',
      500: 'Internal Server Error',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
    };
    return json(
      status,
      { status, message: 'error', errorMsg: text[status] ?? 'Error' },
      status === 429 ? { 'retry-after': '1' } : undefined,
    );
  }

  const NON_JSON = '<html><body><h1>502 Bad Gateway</h1></body></html>';

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    origin: string,
  ) {
    const url = new URL(req.url ?? '/', origin);
    const raw = await readBody(req);
    let body: unknown = raw;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      servicePath: url.pathname.startsWith(`${SERVICES}/`)
        ? url.pathname.slice(SERVICES.length)
        : undefined,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      at: Date.now(),
    };
    requests.push(rec);

    const ms = delayFor(rec);
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, ms);
        timers.add(t);
      });
    }

    let reply: Reply;
    const failure = takeSwitch(failures, rec);
    if (failure && !failure.afterProcessing) {
      reply = failureReply(failure.status);
    } else {
      reply = route(rec, origin);
      if (failure) reply = failureReply(failure.status);
      const garbage = takeSwitch(nonJson, rec);
      if (garbage)
        reply = {
          status: garbage.status,
          headers: { 'content-type': 'text/html' },
          body: NON_JSON,
        };
    }
    if (rec.method === 'POST' && rec.servicePath === '/orders') orderAttempts.push(attemptOf(rec, reply));
    // The client may have given up during the delay; the request was still processed.
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res, origin).catch(() => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            status: 500,
            message: 'error',
            errorMsg: 'fake failure',
          }),
        );
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    baseUrl: `${origin}${SERVICES}`,
    loginUrl: `${origin}${LOGIN}`,
    origin,
    requests,
    orders,
    orderAttempts,
    requestsTo: (method, servicePath) =>
      requests.filter(
        (r) => r.method === method && r.servicePath === servicePath,
      ),
    issueRequestToken: (customerId, state) =>
      issueRequestToken(customerId, state, opts.versionId?.trim() ?? ''),
    issueAccessToken,
    failNext: ({ status, count = 1, path, afterProcessing = false }) => {
      failures.push({ status, remaining: count, path, afterProcessing });
    },
    setLatency: (ms, path) => {
      latency.set(path, ms);
    },
    nonJsonNext: ({ count = 1, path, status = 200 } = {}) => {
      nonJson.push({ remaining: count, path, status });
    },
    revoke: (token) => {
      const entry = accessTokens.get(token);
      if (entry) entry.revoked = true;
    },
    rejectOrdersWith: (reason) => {
      rejection = reason;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
