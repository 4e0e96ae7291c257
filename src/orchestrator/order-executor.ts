import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OrchestratorSettings, TradingUser } from './orchestrator.options.js';
import type { Order } from '../sharekhan/index.js';
import { LiveBroker } from './live-broker.js';
import { OrderBook } from './order-book.js';
import { breachOf, limitsOf } from './order-limits.js';
import { OrderMetrics } from './order-metrics.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { failure, type FailureCode, type OrderResult } from './orchestrator.types.js';
import { PaperBroker } from './paper-broker.js';
import { TokenResolver, type TokenProblem, type TokenResolution } from './token-resolver.js';
import { UserRegistry } from './user-registry.js';

const PROBLEM_CODE: Record<TokenProblem['kind'], FailureCode> = {
  missing: 'TOKEN_MISSING',
  expired: 'TOKEN_EXPIRED',
  invalid: 'TOKEN_INVALID',
  revoked: 'TOKEN_REVOKED',
  unconfirmed: 'TOKEN_UNCONFIRMED',
  unavailable: 'TOKEN_STORE_UNAVAILABLE',
};

/**
 * One order for one user: resolve that user's token, then the user's own broker (paper or live,
 * from the registry, never switched), then a result that says placed, not placed, or unknown.
 * It never throws for a business failure; every outcome is a result.
 */
@Injectable()
export class OrderExecutor {
  private readonly logger = new Logger('OrderExecutor');

  constructor(
    private readonly users: UserRegistry,
    private readonly tokens: TokenResolver,
    private readonly paper: PaperBroker,
    private readonly live: LiveBroker,
    private readonly book: OrderBook,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
    private readonly metrics: OrderMetrics,
  ) {}

  unknownUser(userId: string): OrderResult {
    const result = failure(userId, null, 'USER_UNKNOWN', `No trading user ${userId} is configured; nothing was sent.`, {
      action: `Use the exact id of a user in ${this.settings.nameOf('users')}.`,
    });
    this.metrics.record(result);
    return result;
  }

  /** `ctx.token`: the user's token read, already started (TokenPrefetchMiddleware); otherwise read here. */
  async execute(user: TradingUser, order: Order, ctx: { signalId?: string; token?: Promise<TokenResolution> } = {}): Promise<OrderResult> {
    const result = await this.place(user, order, ctx);
    this.metrics.record(result, order);
    return result;
  }

  private async place(user: TradingUser, order: Order, ctx: { signalId?: string; token?: Promise<TokenResolution> }): Promise<OrderResult> {
    const extra = ctx.signalId ? { signalId: ctx.signalId } : {};
    // Before the token or the broker: a fat-fingered order never leaves, whatever else holds.
    const breach = breachOf(order, limitsOf(user, this.settings.orderLimits));
    if (breach) {
      this.metrics.limitRefused(user, breach.limit);
      const what = breach.limit === 'maxQuantity' ? `quantity ${breach.value}` : `notional (price x quantity) ${breach.value}`;
      return failure(user.userId, user.mode, 'ORDER_LIMIT_EXCEEDED', `Refused: ${what} is above ${breach.limit} ${breach.max} for ${user.userId}; nothing was sent.`, {
        action: `Check the order; if it is meant, raise ${breach.limit} for ${user.userId} (its limits in ${this.settings.nameOf('users')}, or ${this.settings.nameOf('orderLimits')}) and restart.`,
        limit: breach,
        ...extra,
      });
    }
    const needsToken = user.mode === 'live' || this.settings.paperRequiresToken;
    // The broker-rate slot is taken while the token resolves: neither waits for the other.
    const slot = user.mode === 'live' ? this.live.reserve() : undefined;
    const token = needsToken ? await (ctx.token ?? this.tokens.resolve(user)) : undefined;
    if (token && !token.ok) {
      return failure(user.userId, user.mode, PROBLEM_CODE[token.kind], `${token.message} Nothing was sent.`, {
        action: token.action,
        ...(token.fingerprint ? { tokenFingerprint: token.fingerprint } : {}),
        ...(token.source ? { tokenSource: token.source } : {}),
        ...extra,
      });
    }
    const tokenInfo = token ? { tokenSource: token.source, tokenFingerprint: token.fingerprint } : {};

    if (user.mode === 'paper') {
      const fill = this.paper.place(order);
      const result: OrderResult = {
        userId: user.userId,
        mode: 'paper',
        outcome: 'placed',
        message: `Paper order filled: ${order.transactionType} ${fill.quantity} ${order.tradingSymbol}`,
        broker: 'paper',
        orderId: fill.orderId,
        orderStatus: fill.orderStatus,
        ...tokenInfo,
        ...extra,
        at: new Date().toISOString(),
      };
      void this.book.record(OrderBook.entryFor(user.userId, order, result, { fillPrice: fill.fillPrice }));
      return result;
    }

    // Live: a failed token above has already returned; there is no paper fallback for a live user.
    const placed = await this.live.place(token!.ok ? token!.accessToken : '', order, slot);
    if (placed.ok) {
      const result: OrderResult = {
        userId: user.userId,
        mode: 'live',
        outcome: 'placed',
        message: `Order accepted by ShareKhan: ${order.transactionType} ${order.quantity} ${order.tradingSymbol}`,
        broker: 'sharekhan',
        orderId: placed.orderId,
        orderStatus: placed.orderStatus,
        ...tokenInfo,
        ...extra,
        at: new Date().toISOString(),
      };
      void this.book.record(OrderBook.entryFor(user.userId, order, result));
      return result;
    }

    if (placed.tokenRejected && token?.ok) {
      await this.tokens.invalidate(user, token, `ShareKhan answered HTTP ${placed.brokerStatus ?? 403} to an order`);
    }
    const result = failure(user.userId, 'live', placed.code, placed.message, {
      outcome: placed.outcome,
      broker: 'sharekhan',
      ...tokenInfo,
      ...extra,
      ...(placed.brokerStatus !== undefined ? { brokerStatus: placed.brokerStatus } : {}),
      ...(placed.retryAfterMs !== undefined ? { retryAfterMs: placed.retryAfterMs } : {}),
      action: placed.action ?? actionFor(placed.code, placed.outcome, this.tokens.submitHint(user.userId)),
    });
    if (placed.outcome === 'unknown') {
      this.logger.warn(`Order for ${user.userId} (${order.tradingSymbol}) has an unknown outcome (${placed.code}); not resent, reconcile with the broker's day orders`);
    }
    void this.book.record(OrderBook.entryFor(user.userId, order, result));
    return result;
  }
}

function actionFor(code: FailureCode, outcome: OrderResult['outcome'], submit: string): string | undefined {
  if (outcome === 'unknown') {
    return "Check the user's day orders at ShareKhan (GET /reports/{customerId}) before placing it again; it is not resent automatically.";
  }
  switch (code) {
    case 'BROKER_TOKEN_REJECTED':
      return `Submit a new token with ${submit}; orders for this user are refused until then.`;
    case 'BROKER_RATE_LIMITED':
      return 'Retry after the broker rate-limit window.';
    case 'BROKER_REJECTED':
      return "Fix the order according to the broker's reason and send it again.";
    case 'BROKER_UNREACHABLE':
      return 'ShareKhan could not be reached; nothing was sent. Retry when it is reachable.';
    default:
      return undefined;
  }
}
