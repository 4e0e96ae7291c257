import type { TradingMode } from './orchestrator.options.js';
import type { LimitBreach } from './order-limits.js';

/**
 * Every way an order can fail, each with its own code so a caller (or an operator reading logs)
 * can tell "submit a token" from "wait for Redis" from "ask the broker what happened". Which HTTP
 * status each answers with is the edge's business (orchestrator.error-statuses.ts).
 */
export const FAILURE_CODES = [
  'USER_UNKNOWN',
  /** Above the user's per-order maxQuantity or maxNotional: refused before anything is sent. */
  'ORDER_LIMIT_EXCEEDED',
  /** No token anywhere for this user: a precondition the operator must meet. */
  'TOKEN_MISSING',
  /** A token exists but passed its cut-off: conflicts with the trading day. */
  'TOKEN_EXPIRED',
  /** The broker rejected the token (403) earlier; it stays refused until a new one arrives. */
  'TOKEN_INVALID',
  /** Someone revoked the token (DELETE); it stays refused until a new one arrives. */
  'TOKEN_REVOKED',
  /** The broker answered 403 to this very order: the token is now marked invalid. */
  'BROKER_TOKEN_REJECTED',
  /** Redis down and the token not in memory: "cannot know" is not "no token". */
  'TOKEN_STORE_UNAVAILABLE',
  /** Only this replica's memory vouches for the token and Redis last confirmed it too long ago (a revoke elsewhere may be unseen). */
  'TOKEN_UNCONFIRMED',
  /** The cache cannot say whether this signal was already placed for the user (refuse mode). */
  'IDEMPOTENCY_UNAVAILABLE',
  /** Another attempt of the same signal for the same user holds the claim. */
  'SIGNAL_IN_PROGRESS',
  'BROKER_RATE_LIMITED',
  /** The broker refused the order (data.errormsg or HTTP 400): known not placed. */
  'BROKER_REJECTED',
  /** ShareKhanAuthModule has no apiKey: no live order can be sent until the operator sets it. */
  'BROKER_NOT_CONFIGURED',
  /** The request provably never reached the broker. */
  'BROKER_UNREACHABLE',
  /** 5xx from the broker: the order may or may not exist. */
  'BROKER_SERVER_ERROR',
  /** No answer in time: the order may or may not exist; never resent. */
  'ORDER_OUTCOME_UNKNOWN',
  'BROKER_ERROR',
  'INTERNAL_ERROR',
] as const;

export type FailureCode = (typeof FAILURE_CODES)[number];

/** placed: the broker (or paper) took it; not_placed: known not to exist; unknown: reconcile first. */
export type Outcome = 'placed' | 'not_placed' | 'unknown';

export interface OrderResult {
  userId: string;
  mode: TradingMode | null;
  outcome: Outcome;
  /** Absent when placed. */
  code?: FailureCode;
  message: string;
  /** What the operator should do next, when there is something to do. */
  action?: string;
  broker?: 'paper' | 'sharekhan';
  orderId?: string;
  orderStatus?: string;
  /** Where the token came from (store record source, or `env`). Never the token itself. */
  tokenSource?: string;
  tokenFingerprint?: string;
  brokerStatus?: number;
  retryAfterMs?: number;
  /** ORDER_LIMIT_EXCEEDED: which limit, its value for this user, and what the order asked. */
  limit?: LimitBreach;
  signalId?: string;
  /** True when a retried signal got the stored result of the first attempt. */
  replayed?: boolean;
  at: string;
}

export function failure(
  userId: string,
  mode: TradingMode | null,
  code: FailureCode,
  message: string,
  extra: Partial<OrderResult> = {},
): OrderResult {
  const outcome: Outcome =
    code === 'ORDER_OUTCOME_UNKNOWN' || code === 'BROKER_SERVER_ERROR' || code === 'SIGNAL_IN_PROGRESS' || code === 'INTERNAL_ERROR'
      ? 'unknown'
      : 'not_placed';
  return {
    userId,
    mode,
    outcome,
    code,
    message,
    at: new Date().toISOString(),
    ...extra,
  };
}
