import { DomainError } from '../../common/domain-error.js';
import { settingNamer, type SettingNamer } from '../../common/setting-names.js';

export type BrokerOperation =
  | 'createAccessToken'
  | 'placeOrder'
  | 'getDayOrders'
  | 'getOrderHistory'
  | 'getOrderTrades'
  | 'getFunds'
  | 'getPositions'
  | 'getHoldings';

interface BrokerErrorInit {
  operation: BrokerOperation;
  status?: number;
  outcomeUnknown?: boolean;
}

/**
 * Base of every broker failure, each kind with its own code (BROKER_TIMEOUT, ...).
 * Messages and fields never carry the access token, api key, vendor key or
 * secret: they are safe to log and to return.
 * `outcomeUnknown` is true when the broker may have acted on a POST although we
 * saw no success (timeout, connection lost after sending, 5xx, unreadable 2xx):
 * such an order must be reconciled, never blindly resent.
 */
export class BrokerError extends DomainError {
  override name = 'BrokerError';
  readonly operation: BrokerOperation;
  readonly status: number | undefined;
  readonly outcomeUnknown: boolean;
  constructor(message: string, init: BrokerErrorInit) {
    super('BROKER_ERROR', message);
    this.operation = init.operation;
    this.status = init.status;
    this.outcomeUnknown = init.outcomeUnknown ?? false;
  }
}

/** 401/403: the access token is bad, expired or revoked. Mark it invalid; do not retry. */
export class BrokerAuthError extends BrokerError {
  override name = 'BrokerAuthError';
  override readonly code = 'BROKER_AUTH_REJECTED';
  readonly tokenInvalid = true as const;
}

export class BrokerRateLimitError extends BrokerError {
  override name = 'BrokerRateLimitError';
  override readonly code = 'BROKER_RATE_LIMITED';
  constructor(
    message: string,
    init: BrokerErrorInit,
    readonly retryAfterMs: number | undefined,
    /** The broker's own (redacted) words, when its body had any. */
    readonly brokerMessage?: string,
  ) {
    super(message, init);
  }
}

export class BrokerServerError extends BrokerError {
  override name = 'BrokerServerError';
  override readonly code = 'BROKER_SERVER_ERROR';
  constructor(
    message: string,
    init: BrokerErrorInit,
    /** The broker's own (redacted) words, when its body had any. */
    readonly brokerMessage?: string,
  ) {
    super(message, init);
  }
}

/** 400: the broker refused the parameters; `brokerMessage` is its (redacted) reason. */
export class BrokerBadRequestError extends BrokerError {
  override name = 'BrokerBadRequestError';
  override readonly code = 'BROKER_BAD_REQUEST';
  constructor(
    message: string,
    init: BrokerErrorInit,
    readonly brokerMessage: string | undefined,
  ) {
    super(message, init);
  }
}

/** Any other unexpected HTTP status (404, 3xx, 409, …). */
export class BrokerHttpError extends BrokerError {
  override name = 'BrokerHttpError';
  override readonly code = 'BROKER_HTTP_ERROR';
  constructor(
    message: string,
    init: BrokerErrorInit,
    readonly brokerMessage: string | undefined,
  ) {
    super(message, init);
  }
}

export class BrokerTimeoutError extends BrokerError {
  override name = 'BrokerTimeoutError';
  override readonly code = 'BROKER_TIMEOUT';
  constructor(
    message: string,
    init: BrokerErrorInit,
    readonly timeoutMs: number,
  ) {
    super(message, init);
  }
}

/** Connection-level failure; `socketCode` is the socket error code (ECONNREFUSED, ...) when known. */
export class BrokerNetworkError extends BrokerError {
  override name = 'BrokerNetworkError';
  override readonly code = 'BROKER_UNREACHABLE';
  constructor(
    message: string,
    init: BrokerErrorInit,
    readonly socketCode: string | undefined,
  ) {
    super(message, init);
  }
}

/** The broker answered, but not in the shape we rely on (non-JSON, no data.token, …). */
export class BrokerProtocolError extends BrokerError {
  override name = 'BrokerProtocolError';
  override readonly code = 'BROKER_PROTOCOL_ERROR';
}

/** The broker answered and refused the order (`data.errormsg`): known not placed. */
export class BrokerOrderRejectedError extends BrokerError {
  override name = 'BrokerOrderRejectedError';
  override readonly code = 'BROKER_ORDER_REJECTED';
  constructor(
    message: string,
    init: BrokerErrorInit,
    readonly reason: string,
  ) {
    super(message, init);
  }
}

/** Rejected locally before anything was sent. */
export class InvalidOrderError extends DomainError {
  override name = 'InvalidOrderError';
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super('INVALID_ORDER', message);
  }
}

/** No `apiKey` (or `secretKey` for the login): broker calls cannot be made (configuration, not a bug). */
export class ShareKhanNotConfiguredError extends DomainError {
  override name = 'ShareKhanNotConfiguredError';
  /** The ShareKhanAuthModule options that are missing, e.g. `['apiKey']`. */
  readonly missingOptions: string[];
  /** The same, as the operator sets them (the app's `settingNames`, e.g. `['SHAREKHAN_API_KEY']`). */
  readonly settings: string[];
  constructor(missing: string[], nameOf: SettingNamer = settingNamer('ShareKhanAuthModule')) {
    const settings = missing.map(nameOf);
    super('SHAREKHAN_NOT_CONFIGURED', `ShareKhan is not configured: set ${settings.join(' and ')}`);
    this.missingOptions = missing;
    this.settings = settings;
  }
}
