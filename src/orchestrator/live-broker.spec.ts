import {
  BrokerAuthError,
  BrokerBadRequestError,
  BrokerNetworkError,
  BrokerOrderRejectedError,
  BrokerRateLimitError,
  BrokerServerError,
  BrokerTimeoutError,
} from '../sharekhan/index.js';
import { describeFailure } from './live-broker.js';

const op = { operation: 'placeOrder' as const };

describe('describeFailure', () => {
  it('403: token rejected, not placed', () => {
    expect(describeFailure(new BrokerAuthError('HTTP 403', { ...op, status: 403 }))).toMatchObject({
      code: 'BROKER_TOKEN_REJECTED',
      outcome: 'not_placed',
      tokenRejected: true,
    });
  });

  it('timeout: outcome unknown, never a token problem', () => {
    expect(describeFailure(new BrokerTimeoutError('no answer', { ...op, outcomeUnknown: true }, 100))).toMatchObject({
      code: 'ORDER_OUTCOME_UNKNOWN',
      outcome: 'unknown',
      tokenRejected: false,
    });
  });

  it('429 with retry-after; 5xx unknown; rejections known not placed', () => {
    expect(describeFailure(new BrokerRateLimitError('HTTP 429', { ...op, status: 429 }, 1000))).toMatchObject({
      code: 'BROKER_RATE_LIMITED',
      outcome: 'not_placed',
      retryAfterMs: 1000,
    });
    expect(describeFailure(new BrokerServerError('HTTP 502', { ...op, status: 502, outcomeUnknown: true }))).toMatchObject({
      code: 'BROKER_SERVER_ERROR',
      outcome: 'unknown',
      brokerStatus: 502,
    });
    expect(describeFailure(new BrokerOrderRejectedError('rejected: no margin', { ...op, status: 200 }, 'no margin'))).toMatchObject({
      code: 'BROKER_REJECTED',
      outcome: 'not_placed',
      message: expect.stringContaining('no margin'),
    });
    expect(describeFailure(new BrokerBadRequestError('HTTP 400', { ...op, status: 400 }, 'bad'))).toMatchObject({ code: 'BROKER_REJECTED' });
  });

  it('connection refused is not placed; a connection lost after sending is unknown', () => {
    expect(describeFailure(new BrokerNetworkError('refused', { ...op, outcomeUnknown: false }, 'ECONNREFUSED'))).toMatchObject({
      code: 'BROKER_UNREACHABLE',
      outcome: 'not_placed',
    });
    expect(describeFailure(new BrokerNetworkError('reset', { ...op, outcomeUnknown: true }, 'ECONNRESET'))).toMatchObject({
      code: 'ORDER_OUTCOME_UNKNOWN',
      outcome: 'unknown',
    });
  });

  it('includes the broker message when the error carries one', () => {
    const err = Object.assign(new BrokerRateLimitError('HTTP 429, rate limited', { ...op, status: 429 }, undefined), {
      brokerMessage: 'Too Many Requests',
    });
    expect(describeFailure(err).message).toContain('Too Many Requests');
  });

  it('anything else is unknown: it may have left', () => {
    expect(describeFailure(new Error('x'))).toMatchObject({ code: 'INTERNAL_ERROR', outcome: 'unknown' });
  });
});
