import {
  BrokerAuthError,
  BrokerBadRequestError,
  BrokerError,
  BrokerHttpError,
  BrokerNetworkError,
  BrokerOrderRejectedError,
  BrokerProtocolError,
  BrokerRateLimitError,
  BrokerServerError,
  BrokerTimeoutError,
  InvalidOrderError,
  type BrokerOperation,
} from './broker-errors.js';
import {
  parseOrder,
  type Order,
  type OrderInput,
} from './sharekhan-order.schema.js';

export type {
  Exchange,
  OptionType,
  Order,
  OrderInput,
  ProductType,
  RequestType,
  TransactionType,
} from './sharekhan-order.schema.js';

export interface ShareKhanClientOptions {
  /** REST root, e.g. https://api.sharekhan.com/skapi/services */
  baseUrl: string;
  apiKey: string;
  vendorKey?: string | null;
  /** ShareKhan version id (1005/1006) or empty. */
  versionId?: string | null;
  /** Whole-call budget (connect + headers + body). */
  timeoutMs: number;
  /** Injectable for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface AccessTokenResult {
  accessToken: string;
  /** `data.customerId` when the broker sends it (undocumented). */
  customerId: string | undefined;
  message: string | undefined;
  /** The rest of `data` (shape undocumented), without the token. */
  fields: Record<string, unknown>;
}

export interface PlaceOrderResult {
  orderId: string;
  orderStatus: string | undefined;
  data: Record<string, unknown>;
}

export interface BrokerReadResult {
  status: number | undefined;
  message: string | undefined;
  /** Shape undocumented; passed through. */
  data: unknown;
}

type Json = Record<string, unknown>;

/** Connect failures where the request provably never reached the broker. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Thin ShareKhan REST client. It never retries anything: an order POST has no
 * idempotency key, and retry policy for reads belongs to the caller.
 */
export class ShareKhanClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly vendorKey: string | undefined;
  private readonly versionId: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ShareKhanClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new TypeError('ShareKhan baseUrl must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError('ShareKhan baseUrl must be an absolute http(s) URL');
    }
    if (typeof opts.apiKey !== 'string' || opts.apiKey.length === 0) {
      throw new TypeError('ShareKhan apiKey is missing');
    }
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) {
      throw new TypeError('ShareKhan timeoutMs must be a positive number');
    }
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.vendorKey = opts.vendorKey || undefined;
    this.versionId = opts.versionId?.trim() || undefined;
    this.timeoutMs = opts.timeoutMs;
    this.fetchFn = opts.fetch ?? globalThis.fetch;
  }

  /** POST /access/token. `requestToken` here is the exchange value, not the raw request token. */
  async createAccessToken(input: {
    requestToken: string;
    state: string;
  }): Promise<AccessTokenResult> {
    const op: BrokerOperation = 'createAccessToken';
    requireText(input.requestToken, 'requestToken');
    if (typeof input.state !== 'string')
      throw new TypeError('state must be a string');
    const body: Json = {
      apiKey: this.apiKey,
      requestToken: input.requestToken,
      state: input.state,
    };
    if (this.versionId) body.versionId = this.versionId;
    if (this.vendorKey) body.vendorKey = this.vendorKey;

    const json = await this.call(op, 'POST', '/access/token', {
      body,
      extraSecrets: [input.requestToken],
    });
    const data = asObject(json.data);
    const token = data?.token;
    if (!data || typeof token !== 'string' || token.length === 0) {
      throw new BrokerProtocolError(
        'ShareKhan createAccessToken: response has no data.token',
        {
          operation: op,
          status: 200,
        },
      );
    }
    const fields: Json = { ...data };
    delete fields.token;
    const customerId = data.customerId;
    return {
      accessToken: token,
      customerId:
        typeof customerId === 'string' || typeof customerId === 'number'
          ? String(customerId)
          : undefined,
      message: typeof json.message === 'string' ? json.message : undefined,
      fields,
    };
  }

  /**
   * POST /orders (NEW / MODIFY / CANCEL). Sent at most once. Throws
   * InvalidOrderError before sending when the order does not validate.
   */
  async placeOrder(
    accessToken: string,
    order: OrderInput,
  ): Promise<PlaceOrderResult> {
    const op: BrokerOperation = 'placeOrder';
    requireText(accessToken, 'accessToken');
    const parsed = parseOrder(order);
    if (!parsed.ok) throw new InvalidOrderError(parsed.message, parsed.issues);
    const body: Order = parsed.order;

    const json = await this.call(op, 'POST', '/orders', { accessToken, body });
    const data = asObject(json.data);
    const errormsg = data?.errormsg;
    if (errormsg !== undefined && errormsg !== null && errormsg !== '') {
      const text =
        typeof errormsg === 'string' ? errormsg : JSON.stringify(errormsg);
      const reason = this.redact(text, [accessToken]);
      throw new BrokerOrderRejectedError(
        `ShareKhan rejected the order: ${reason}`,
        { operation: op, status: 200 },
        reason,
      );
    }
    const orderId = data?.orderId;
    if (
      !data ||
      (typeof orderId !== 'string' && typeof orderId !== 'number') ||
      orderId === ''
    ) {
      throw new BrokerProtocolError(
        'ShareKhan placeOrder: success response without data.orderId; order outcome unknown',
        { operation: op, status: 200, outcomeUnknown: true },
      );
    }
    return {
      orderId: String(orderId),
      orderStatus:
        typeof data.orderStatus === 'string' ? data.orderStatus : undefined,
      data,
    };
  }

  /** GET /reports/{customerId}: the day's orders; also the cheapest token check. */
  getDayOrders(
    accessToken: string,
    customerId: string,
  ): Promise<BrokerReadResult> {
    return this.read('getDayOrders', accessToken, ['reports', customerId]);
  }

  /** GET /reports/{exchange}/{customerId}/{orderId} */
  getOrderHistory(
    accessToken: string,
    exchange: string,
    customerId: string,
    orderId: string,
  ): Promise<BrokerReadResult> {
    return this.read('getOrderHistory', accessToken, [
      'reports',
      exchange,
      customerId,
      orderId,
    ]);
  }

  /** GET /reports/{exchange}/{customerId}/{orderId}/trades */
  getOrderTrades(
    accessToken: string,
    exchange: string,
    customerId: string,
    orderId: string,
  ): Promise<BrokerReadResult> {
    return this.read('getOrderTrades', accessToken, [
      'reports',
      exchange,
      customerId,
      orderId,
      'trades',
    ]);
  }

  /** GET /limitstmt/{exchange}/{customerId} */
  getFunds(
    accessToken: string,
    exchange: string,
    customerId: string,
  ): Promise<BrokerReadResult> {
    return this.read('getFunds', accessToken, [
      'limitstmt',
      exchange,
      customerId,
    ]);
  }

  /** GET /trades/{customerId} */
  getPositions(
    accessToken: string,
    customerId: string,
  ): Promise<BrokerReadResult> {
    return this.read('getPositions', accessToken, ['trades', customerId]);
  }

  /** GET /holdings/{customerId} */
  getHoldings(
    accessToken: string,
    customerId: string,
  ): Promise<BrokerReadResult> {
    return this.read('getHoldings', accessToken, ['holdings', customerId]);
  }

  private async read(
    op: BrokerOperation,
    accessToken: string,
    segments: string[],
  ): Promise<BrokerReadResult> {
    requireText(accessToken, 'accessToken');
    for (const segment of segments.slice(1))
      requireText(segment, 'path parameter');
    const path = '/' + segments.map(encodeURIComponent).join('/');
    const json = await this.call(op, 'GET', path, { accessToken });
    return {
      status: typeof json.status === 'number' ? json.status : undefined,
      message: typeof json.message === 'string' ? json.message : undefined,
      data: json.data,
    };
  }

  private async call(
    op: BrokerOperation,
    method: 'GET' | 'POST',
    path: string,
    opts: { accessToken?: string; body?: unknown; extraSecrets?: string[] },
  ): Promise<Json> {
    const mutating = method === 'POST';
    const secrets = [opts.accessToken, ...(opts.extraSecrets ?? [])];
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (opts.body !== undefined || opts.accessToken !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (opts.accessToken !== undefined) {
      headers['api-key'] = this.apiKey;
      headers['access-token'] = opts.accessToken;
      if (this.vendorKey) headers['vendor-key'] = this.vendorKey;
    }

    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(this.baseUrl + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.timeoutMs),
        // A followed 307/308 would resend the POST body somewhere else.
        redirect: 'manual',
      });
      text = await response.text();
    } catch (err) {
      throw this.transportError(op, err, mutating);
    }

    const json = parseJsonObject(text);
    const status = effectiveStatus(response.status, json);
    if (status >= 200 && status < 300) {
      if (!json) {
        throw new BrokerProtocolError(
          `ShareKhan ${op}: HTTP ${response.status} with a body that is not a JSON object` +
            (mutating ? '; outcome unknown' : ''),
          { operation: op, status: response.status, outcomeUnknown: mutating },
        );
      }
      return json;
    }
    throw this.statusError(op, status, response, json, mutating, secrets);
  }

  private statusError(
    op: BrokerOperation,
    status: number,
    response: Response,
    json: Json | undefined,
    mutating: boolean,
    secrets: (string | undefined)[],
  ): BrokerError {
    const brokerMessage = json ? this.brokerMessage(json, secrets) : undefined;
    const suffix = brokerMessage ? `: ${brokerMessage}` : '';
    if (status === 401 || status === 403) {
      return new BrokerAuthError(
        `ShareKhan ${op}: HTTP ${status}, access denied (token or api key rejected)${suffix}`,
        { operation: op, status },
      );
    }
    if (status === 429) {
      return new BrokerRateLimitError(
        `ShareKhan ${op}: HTTP 429, rate limited${suffix}`,
        { operation: op, status },
        retryAfterMs(response.headers.get('retry-after')),
        brokerMessage,
      );
    }
    if (status === 400) {
      return new BrokerBadRequestError(
        `ShareKhan ${op}: HTTP 400, bad request${suffix}`,
        { operation: op, status },
        brokerMessage,
      );
    }
    if (status >= 500) {
      return new BrokerServerError(
        `ShareKhan ${op}: HTTP ${status}, broker server error${suffix}` +
          (mutating ? '; outcome unknown' : ''),
        { operation: op, status, outcomeUnknown: mutating },
        brokerMessage,
      );
    }
    const maybeProcessed = mutating && (status < 400 || status === 408);
    return new BrokerHttpError(
      `ShareKhan ${op}: unexpected HTTP ${status}${suffix}` +
        (maybeProcessed ? '; outcome unknown' : ''),
      { operation: op, status, outcomeUnknown: maybeProcessed },
      brokerMessage,
    );
  }

  private transportError(
    op: BrokerOperation,
    err: unknown,
    mutating: boolean,
  ): BrokerError {
    const name = (err as { name?: unknown } | null)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new BrokerTimeoutError(
        `ShareKhan ${op}: no answer within ${this.timeoutMs} ms` +
          (mutating ? '; outcome unknown, do not resend blindly' : ''),
        { operation: op, outcomeUnknown: mutating },
        this.timeoutMs,
      );
    }
    const code = socketErrorCode(err);
    const notSent = code !== undefined && NOT_SENT_CODES.has(code);
    return new BrokerNetworkError(
      `ShareKhan ${op}: network error${code ? ` (${code})` : ''}` +
        (mutating && !notSent ? '; outcome unknown' : ''),
      { operation: op, outcomeUnknown: mutating && !notSent },
      code,
    );
  }

  private brokerMessage(
    json: Json,
    secrets: (string | undefined)[],
  ): string | undefined {
    const data = asObject(json.data);
    const candidates = [
      data?.errormsg,
      json.errorMsg,
      json.errorType,
      json.message,
    ];
    const parts = candidates
      .filter(
        (c): c is string | number =>
          typeof c === 'string' || typeof c === 'number',
      )
      .map(String)
      .filter((c) => c !== '' && c !== 'error');
    if (parts.length === 0) return undefined;
    return this.redact([...new Set(parts)].join(' - '), secrets);
  }

  /** The broker may echo what we sent; strip our secrets before anything leaves. */
  private redact(text: string, extra: (string | undefined)[]): string {
    let out = text;
    for (const s of [this.apiKey, this.vendorKey, ...extra]) {
      if (s && s.length >= 4) out = out.split(s).join('[redacted]');
    }
    // Broker text ends up in log lines: no control characters (log injection).
    // oxlint-disable-next-line no-control-regex
    out = out.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
    return out.length > 200 ? `${out.slice(0, 200)}…` : out;
  }
}

function requireText(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new TypeError(`${what} is required`);
  }
}

function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : undefined;
}

function parseJsonObject(text: string): Json | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * ShareKhan bodies carry their own `status`. If HTTP says 2xx but the body says
 * 4xx/5xx we trust the body: a dead token must not pass as success.
 */
function effectiveStatus(httpStatus: number, json: Json | undefined): number {
  const bodyStatus = json?.status;
  if (
    httpStatus >= 200 &&
    httpStatus < 300 &&
    typeof bodyStatus === 'number' &&
    bodyStatus >= 400 &&
    bodyStatus < 600
  ) {
    return bodyStatus;
  }
  return httpStatus;
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function socketErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
