import type { ErrorStatuses } from '../common/domain-error.js';
import type { FailureCode, OrderResult } from './orchestrator.types.js';

/**
 * The HTTP status of each order failure code: the orchestrator's one code-to-status table (the
 * trade endpoints answer a failed order with its result, at this status; a placed one with 201).
 */
export const ORCHESTRATOR_ERROR_STATUSES: Readonly<Record<FailureCode, number>> & ErrorStatuses = {
  USER_UNKNOWN: 404,
  ORDER_LIMIT_EXCEEDED: 422,
  TOKEN_MISSING: 412,
  TOKEN_EXPIRED: 409,
  TOKEN_INVALID: 424,
  TOKEN_REVOKED: 424,
  BROKER_TOKEN_REJECTED: 424,
  TOKEN_STORE_UNAVAILABLE: 503,
  TOKEN_UNCONFIRMED: 503,
  IDEMPOTENCY_UNAVAILABLE: 503,
  SIGNAL_IN_PROGRESS: 409,
  BROKER_RATE_LIMITED: 429,
  BROKER_REJECTED: 422,
  BROKER_NOT_CONFIGURED: 503,
  BROKER_UNREACHABLE: 502,
  BROKER_SERVER_ERROR: 502,
  ORDER_OUTCOME_UNKNOWN: 504,
  BROKER_ERROR: 502,
  INTERNAL_ERROR: 500,
};

/** The status an order result answers with: 201 when placed, else its failure code's. */
export function statusOf(result: Pick<OrderResult, 'outcome' | 'code'>): number {
  if (result.outcome === 'placed') return 201;
  return result.code ? ORCHESTRATOR_ERROR_STATUSES[result.code] : 500;
}

/** A result as the trade endpoints show it: with the `httpStatus` it answers with. */
export type ShownResult = OrderResult & { httpStatus: number };

/** `httpStatus` right after `outcome`, where answers have always shown it. */
export function withHttpStatus(result: OrderResult): ShownResult {
  const { userId, mode, outcome, ...rest } = result;
  return { userId, mode, outcome, httpStatus: statusOf(result), ...rest };
}
