import { applyDecorators } from '@nestjs/common';
import { ApiResponse, type SchemaObject } from '@nestjs/swagger';
import { reason } from '../common/http-error.filter.js';
import { bool, int, list, nullable, obj, oneOf, str, time } from '../common/openapi-schema.js';
import { USERS_OPTION } from './orchestrator.options.js';
import { ORCHESTRATOR_ERROR_STATUSES } from './orchestrator.error-statuses.js';
import { FAILURE_CODES, type FailureCode } from './orchestrator.types.js';

/** Response schemas, failure examples and request examples of the trade endpoints (OpenAPI only). */

const MODE = oneOf(['paper', 'live']);
const OUTCOME = oneOf(['placed', 'not_placed', 'unknown'], 'unknown: it may exist at the broker; never resent, reconcile first');

export const ORDER_RESULT: SchemaObject = obj(
  {
    statusCode: int('Same as httpStatus'),
    error: str('The reason phrase, on failures only'),
    userId: str(),
    mode: nullable(MODE),
    outcome: OUTCOME,
    httpStatus: int(),
    code: oneOf([...FAILURE_CODES], 'Failures only: what went wrong, to switch on'),
    message: str(),
    action: str('What to do next, when there is something to do'),
    broker: oneOf(['paper', 'sharekhan']),
    orderId: str(),
    orderStatus: str(),
    tokenSource: str(),
    tokenFingerprint: str(),
    brokerStatus: int(),
    retryAfterMs: int(),
    signalId: str(),
    replayed: bool('A retried signal got the stored result of its first attempt'),
    at: time(),
  },
  ['error', 'code', 'action', 'broker', 'orderId', 'orderStatus', 'tokenSource', 'tokenFingerprint', 'brokerStatus', 'retryAfterMs', 'signalId', 'replayed'],
);

export const SIGNAL_REPORT: SchemaObject = obj({
  signalId: str(),
  results: list(ORDER_RESULT),
  summary: obj({ total: int(), placed: int(), notPlaced: int(), unknown: int(), replayed: int() }),
});

const USER_READINESS = obj({
  userId: str(),
  mode: MODE,
  status: oneOf(['ready', 'missing', 'expired', 'invalid', 'unknown']),
  canTrade: bool(),
  tokenRequired: bool(),
  source: nullable(str()),
  mask: nullable(str()),
  fingerprint: nullable(str()),
  expiresAt: nullable(time()),
  secondsLeft: nullable(int()),
  message: nullable(str()),
  action: nullable(str()),
});

const READINESS_PROPS = {
  checkedAt: time(),
  users: list(USER_READINESS),
  summary: obj({ total: int(), ready: int(), notReady: list(str()) }),
};

export const PREMARKET_REPORT: SchemaObject = obj({
  ...READINESS_PROPS,
  trigger: oneOf(['schedule', 'manual']),
  lacking: list(obj({ userId: str(), status: str(), action: nullable(str()) })),
});

export const READINESS_REPORT: SchemaObject = obj({
  ...READINESS_PROPS,
  premarket: obj({
    schedule: { type: 'object', description: 'When the pre-market check runs (IST times and days)' },
    last: nullable(PREMARKET_REPORT),
  }),
});

export const ORDER_LIST: SchemaObject = obj({
  userId: str(),
  mode: MODE,
  complete: bool('False when the cache could not be read'),
  orders: list(
    obj(
      {
        userId: str(),
        broker: oneOf(['paper', 'sharekhan']),
        outcome: OUTCOME,
        orderId: nullable(str()),
        orderStatus: nullable(str()),
        code: nullable(str()),
        signalId: nullable(str()),
        tradingSymbol: str(),
        exchange: str(),
        transactionType: str(),
        quantity: int(),
        price: str(),
        requestType: str(),
        fillPrice: nullable(str('Paper fills only')),
        at: time(),
      },
      ['fillPrice'],
    ),
  ),
});

export const ORDER_EXAMPLE = {
  scripCode: 2885,
  tradingSymbol: 'RELIANCE',
  exchange: 'NC',
  transactionType: 'B',
  quantity: 10,
  price: '2450.50',
  requestType: 'NEW',
  productType: 'INVESTMENT',
};

export const PLACE_ORDER_EXAMPLE = { userId: 'MASTER_USER_001', order: ORDER_EXAMPLE };
export const SIGNAL_EXAMPLE = { signalId: 'nifty-breakout-2026-11-30T09:20', users: ['MASTER_USER_001', 'PAPER_TRADER_001'], order: ORDER_EXAMPLE };

const FAILURE_EXAMPLES: Partial<Record<FailureCode, { message: string; action?: string; outcome?: string }>> = {
  USER_UNKNOWN: { message: 'No trading user MASTER_USER_009 is configured; nothing was sent.', action: `Use the exact id of a user in ${USERS_OPTION}.` },
  TOKEN_MISSING: { message: 'No ShareKhan token for MASTER_USER_001 today. Nothing was sent.', action: 'PUT /sharekhan/users/MASTER_USER_001/token or log in' },
  TOKEN_EXPIRED: { message: 'The token of MASTER_USER_001 expired at 2026-11-30T02:00:00.000Z. Nothing was sent.' },
  TOKEN_INVALID: { message: 'The token of MASTER_USER_001 was refused by ShareKhan earlier. Nothing was sent.' },
  BROKER_REJECTED: { message: 'ShareKhan rejected the order: Insufficient margin' },
  BROKER_UNREACHABLE: { message: 'ShareKhan could not be reached; nothing was sent' },
  TOKEN_STORE_UNAVAILABLE: { message: 'Cannot read the token of MASTER_USER_001 (Redis unreachable and not in memory). Nothing was sent.' },
  TOKEN_UNCONFIRMED: { message: "The token of MASTER_USER_001 is held in this instance's memory only and Redis has not confirmed it for 31 s; nothing was sent.", action: 'Retry when Redis is reachable again (see /health/ready).' },
  ORDER_OUTCOME_UNKNOWN: { message: 'ShareKhan did not answer in time. It was sent once and will not be resent.', outcome: 'unknown' },
  BROKER_RATE_LIMITED: { message: 'ShareKhan is rate limiting: HTTP 429' },
};

/** A failed order answers with its result (not the plain error body): one example per status. */
export function ApiOrderFailures(...codes: FailureCode[]): MethodDecorator {
  const byStatus = new Map<number, FailureCode>();
  for (const code of codes) if (!byStatus.has(ORCHESTRATOR_ERROR_STATUSES[code])) byStatus.set(ORCHESTRATOR_ERROR_STATUSES[code], code);
  return applyDecorators(
    ...[...byStatus].map(([status, code]) =>
      ApiResponse({
        status,
        description: `Not placed (or unknown): code ${codes.filter((c) => ORCHESTRATOR_ERROR_STATUSES[c] === status).join(' or ')}`,
        schema: {
          ...ORDER_RESULT,
          example: {
            statusCode: status,
            error: reason(status),
            userId: 'MASTER_USER_001',
            mode: 'live',
            outcome: FAILURE_EXAMPLES[code]?.outcome ?? 'not_placed',
            httpStatus: status,
            code,
            message: FAILURE_EXAMPLES[code]?.message ?? reason(status),
            ...(FAILURE_EXAMPLES[code]?.action ? { action: FAILURE_EXAMPLES[code].action } : {}),
            at: '2026-11-30T03:50:12.345Z',
          },
        },
      }),
    ),
  );
}
