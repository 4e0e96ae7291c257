import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { Order } from '../sharekhan/index.js';
import type { OrchestratorSettings, TradingUser } from './orchestrator.options.js';
import type { OrderLimitName } from './order-limits.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import type { OrderResult } from './orchestrator.types.js';

/**
 * Every order placed or refused: `orchestrator_orders_total{mode, outcome}` (in the registry the
 * app passed as `metricsRegistry`; none, no counter) and one info line (user, order, outcome,
 * code), never a token or the broker's free text.
 */
@Injectable()
export class OrderMetrics {
  private readonly logger = new Logger('Orders');
  private readonly orders: Counter<'mode' | 'outcome'> | null;
  private readonly limitRefusals: Counter<'mode' | 'limit'> | null;

  constructor(@Optional() @Inject(ORCHESTRATOR_SETTINGS) settings?: Pick<OrchestratorSettings, 'metricsRegistry'>) {
    const registry = settings?.metricsRegistry;
    const existing = registry?.getSingleMetric('orchestrator_orders_total') as Counter<'mode' | 'outcome'> | undefined;
    this.orders = !registry
      ? null
      : (existing ??
        new Counter({
          name: 'orchestrator_orders_total',
          help: 'Orders by mode (paper, live, none for an unknown user) and outcome (placed, not_placed, unknown)',
          labelNames: ['mode', 'outcome'],
          registers: [registry],
        }));
    const limits = registry?.getSingleMetric('orchestrator_order_limit_refusals_total') as Counter<'mode' | 'limit'> | undefined;
    this.limitRefusals = !registry
      ? null
      : (limits ??
        new Counter({
          name: 'orchestrator_order_limit_refusals_total',
          help: 'Orders refused before sending because they were above a per-order limit (maxQuantity, maxNotional)',
          labelNames: ['mode', 'limit'],
          registers: [registry],
        }));
  }

  /** One order above a fat-finger limit (also counted in orchestrator_orders_total as not_placed). */
  limitRefused(user: Pick<TradingUser, 'mode'>, limit: OrderLimitName): void {
    this.limitRefusals?.inc({ mode: user.mode, limit });
  }

  record(result: OrderResult, order?: Pick<Order, 'transactionType' | 'quantity' | 'tradingSymbol'>): void {
    const mode = result.mode ?? 'none';
    this.orders?.inc({ mode, outcome: result.outcome });
    const what = order ? ` ${order.transactionType} ${order.quantity} ${order.tradingSymbol}` : '';
    const detail = result.outcome === 'placed' ? `order id ${result.orderId}` : (result.code ?? 'refused');
    const signal = result.signalId ? `, signal ${result.signalId}` : '';
    this.logger.log(`Order ${result.outcome} for ${result.userId} (${mode})${what}: ${detail}${signal}`);
  }
}
