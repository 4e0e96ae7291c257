import { Injectable, Logger, Optional } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../observability/metrics.service.js';
import type { Order } from '../sharekhan/sharekhan-order.schema.js';
import type { OrderResult } from './orchestrator.types.js';

/**
 * Every order placed or refused: `orchestrator_orders_total{mode, outcome}` and one info line
 * (user, order, outcome, code), never a token or the broker's free text.
 */
@Injectable()
export class OrderMetrics {
  private readonly logger = new Logger('Orders');
  private readonly orders: Counter<'mode' | 'outcome'> | null;

  constructor(@Optional() metrics?: MetricsService) {
    this.orders = metrics
      ? new Counter({
          name: 'orchestrator_orders_total',
          help: 'Orders by mode (paper, live, none for an unknown user) and outcome (placed, not_placed, unknown)',
          labelNames: ['mode', 'outcome'],
          registers: [metrics.registry],
        })
      : null;
  }

  record(result: OrderResult, order?: Pick<Order, 'transactionType' | 'quantity' | 'tradingSymbol'>): void {
    const mode = result.mode ?? 'none';
    this.orders?.inc({ mode, outcome: result.outcome });
    const what = order ? ` ${order.transactionType} ${order.quantity} ${order.tradingSymbol}` : '';
    const detail = result.outcome === 'placed' ? `order id ${result.orderId}` : `${result.code ?? 'refused'}, HTTP ${result.httpStatus}`;
    const signal = result.signalId ? `, signal ${result.signalId}` : '';
    this.logger.log(`Order ${result.outcome} for ${result.userId} (${mode})${what}: ${detail}${signal}`);
  }
}
