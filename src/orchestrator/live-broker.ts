import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  BrokerAuthError,
  BrokerBadRequestError,
  BrokerError,
  BrokerNetworkError,
  BrokerOrderRejectedError,
  BrokerRateLimitError,
  BrokerServerError,
  BrokerTimeoutError,
  InvalidOrderError,
  type PlaceOrderResult,
} from '../sharekhan/index.js';
import { ShareKhanNotConfiguredError, type Order } from '../sharekhan/index.js';
import { BrokerRateLimit, type Admission } from './broker-rate-limit.js';
import { LIVE_ORDER_CLIENT } from './orchestrator.tokens.js';
import type { FailureCode, Outcome } from './orchestrator.types.js';

export interface LiveOrderClient {
  placeOrder(accessToken: string, order: Order): Promise<PlaceOrderResult>;
}

const GO: Promise<Admission> = Promise.resolve({ ok: true });

export type LivePlacement =
  | { ok: true; orderId: string; orderStatus: string | undefined }
  | {
      ok: false;
      code: FailureCode;
      outcome: Outcome;
      message: string;
      /** The broker said the token is dead: the caller must invalidate it. */
      tokenRejected: boolean;
      brokerStatus?: number;
      retryAfterMs?: number;
      /** What to do, when the failure itself knows better than its code (e.g. which setting to set). */
      action?: string;
    };

/**
 * Without a ShareKhan API key no live order can be sent; said per order instead of failing
 * start-up, with the error the factory builds (it names what the operator sets).
 */
export class NotConfiguredClient implements LiveOrderClient {
  constructor(private readonly error: () => ShareKhanNotConfiguredError = () => new ShareKhanNotConfiguredError(['apiKey'])) {}

  placeOrder(): Promise<PlaceOrderResult> {
    return Promise.reject(this.error());
  }
}

/**
 * Sends one order to ShareKhan, exactly once, within the broker's rate limit, and turns every
 * broker failure into a typed outcome. Nothing here retries: an order POST has no idempotency key
 * on the broker side.
 */
@Injectable()
export class LiveBroker {
  constructor(
    @Inject(LIVE_ORDER_CLIENT) private readonly client: LiveOrderClient,
    @Optional() @Inject(BrokerRateLimit) private readonly limit: BrokerRateLimit | null = null,
  ) {}

  /** False when the broker has no API key: every live order would answer BROKER_NOT_CONFIGURED. */
  get configured(): boolean {
    return !(this.client instanceof NotConfiguredClient);
  }

  /**
   * A slot under the broker rate limit. Started by the caller alongside token resolution, so the
   * limit's round trip to Redis is not on the order's path; a slot left unused is only a wasted slot.
   */
  reserve(): Promise<Admission> {
    return this.limit ? this.limit.admit() : GO;
  }

  async place(accessToken: string, order: Order, slot: Promise<Admission> = this.reserve()): Promise<LivePlacement> {
    const admission = await slot;
    if (!admission.ok) {
      return {
        ok: false,
        code: 'BROKER_RATE_LIMITED',
        outcome: 'not_placed',
        tokenRejected: false,
        retryAfterMs: admission.retryAfterMs,
        message: `ShareKhan's order rate limit for this API key leaves no slot in time (retry in ${admission.retryAfterMs} ms); nothing was sent.`,
      };
    }
    try {
      const r = await this.client.placeOrder(accessToken, order);
      return { ok: true, orderId: r.orderId, orderStatus: r.orderStatus };
    } catch (err) {
      // The whole fleet pauses for the broker's Retry-After; this answer does not wait for that.
      if (err instanceof BrokerRateLimitError && this.limit) void this.limit.rateLimited(err.retryAfterMs).catch(() => undefined);
      return describeFailure(err);
    }
  }
}

/** Broker error messages are already free of tokens and keys (the client redacts them). */
export function describeFailure(err: unknown): LivePlacement & { ok: false } {
  const base = { tokenRejected: false };
  withBrokerMessage(err);
  if (err instanceof ShareKhanNotConfiguredError) {
    return {
      ...base,
      ok: false,
      code: 'BROKER_NOT_CONFIGURED',
      outcome: 'not_placed',
      message: `${err.message} to send live orders; nothing was sent.`,
      action: `Set ${err.settings.join(' and ')} and restart; nothing was sent.`,
    };
  }
  if (err instanceof BrokerAuthError) {
    return { ...base, ok: false, code: 'BROKER_TOKEN_REJECTED', outcome: 'not_placed', tokenRejected: true, brokerStatus: err.status, message: `${err.message}. The token is now marked invalid; nothing was placed.` };
  }
  if (err instanceof BrokerTimeoutError) {
    return { ...base, ok: false, code: 'ORDER_OUTCOME_UNKNOWN', outcome: 'unknown', message: `${err.message}. It was sent once and will not be resent.` };
  }
  if (err instanceof BrokerRateLimitError) {
    return { ...base, ok: false, code: 'BROKER_RATE_LIMITED', outcome: 'not_placed', brokerStatus: err.status, retryAfterMs: err.retryAfterMs, message: err.message };
  }
  if (err instanceof BrokerServerError) {
    return { ...base, ok: false, code: 'BROKER_SERVER_ERROR', outcome: err.outcomeUnknown ? 'unknown' : 'not_placed', brokerStatus: err.status, message: err.message };
  }
  if (err instanceof BrokerOrderRejectedError || err instanceof BrokerBadRequestError) {
    return { ...base, ok: false, code: 'BROKER_REJECTED', outcome: 'not_placed', brokerStatus: err.status, message: err.message };
  }
  if (err instanceof BrokerNetworkError) {
    return err.outcomeUnknown
      ? { ...base, ok: false, code: 'ORDER_OUTCOME_UNKNOWN', outcome: 'unknown', message: `${err.message}. It will not be resent.` }
      : { ...base, ok: false, code: 'BROKER_UNREACHABLE', outcome: 'not_placed', message: err.message };
  }
  if (err instanceof BrokerError) {
    return { ...base, ok: false, code: err.outcomeUnknown ? 'ORDER_OUTCOME_UNKNOWN' : 'BROKER_ERROR', outcome: err.outcomeUnknown ? 'unknown' : 'not_placed', brokerStatus: err.status, message: err.message };
  }
  if (err instanceof InvalidOrderError) {
    return { ...base, ok: false, code: 'BROKER_REJECTED', outcome: 'not_placed', message: err.message };
  }
  // Not a broker error: we cannot tell whether the request left, so it must be reconciled.
  return { ...base, ok: false, code: 'INTERNAL_ERROR', outcome: 'unknown', message: 'Unexpected error while sending the order; its outcome is unknown and it will not be resent.' };
}

/** When an error carries the broker's own words as `brokerMessage`, make sure the caller sees them. */
function withBrokerMessage(err: unknown): void {
  if (!(err instanceof BrokerError)) return;
  const said = (err as { brokerMessage?: unknown }).brokerMessage;
  if (typeof said === 'string' && said !== '' && !err.message.includes(said)) {
    err.message = `${err.message} (broker said: ${said})`;
  }
}
