import { Inject, Injectable, Logger } from '@nestjs/common';
import { CacheService } from '../cache/index.js';
import type { OrchestratorSettings } from './orchestrator.options.js';
import type { Order } from '../sharekhan/index.js';
import { KeyedMutex } from './keyed-mutex.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import type { OrderResult } from './orchestrator.types.js';

export interface OrderBookEntry {
  userId: string;
  broker: 'paper' | 'sharekhan';
  outcome: OrderResult['outcome'];
  orderId: string | null;
  orderStatus: string | null;
  code: string | null;
  signalId: string | null;
  tradingSymbol: string;
  exchange: string;
  transactionType: string;
  quantity: number;
  price: string;
  requestType: string;
  /** Paper fills only. */
  fillPrice?: string | null;
  at: string;
}

const bookKey = (userId: string) => `orchestrator:orders:${userId}`;

/**
 * Each user's recent orders (paper fills, live orders, and live orders whose outcome is unknown),
 * kept in the cache under that user's own key. Appends for one user are serialised in this process.
 */
@Injectable()
export class OrderBook {
  private readonly logger = new Logger('OrderBook');
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly cache: CacheService,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
  ) {}

  static entryFor(userId: string, order: Order, result: OrderResult, extra: Partial<OrderBookEntry> = {}): OrderBookEntry {
    return {
      userId,
      broker: result.broker ?? 'sharekhan',
      outcome: result.outcome,
      orderId: result.orderId ?? null,
      orderStatus: result.orderStatus ?? null,
      code: result.code ?? null,
      signalId: result.signalId ?? null,
      tradingSymbol: order.tradingSymbol,
      exchange: order.exchange,
      transactionType: order.transactionType,
      quantity: order.quantity,
      price: order.price,
      requestType: order.requestType,
      at: result.at,
      ...extra,
    };
  }

  /** Never throws: losing a history line must not turn a placed order into an error. */
  async append(entry: OrderBookEntry): Promise<void> {
    await this.mutex.run(entry.userId, async () => {
      try {
        const current = await this.cache.read<OrderBookEntry[]>(bookKey(entry.userId));
        const list = current.state === 'hit' && Array.isArray(current.value) ? [...current.value] : [];
        list.push(entry);
        const kept = list.slice(-this.settings.orderHistoryLimit);
        await this.cache.set(bookKey(entry.userId), kept, { ttlMs: this.settings.orderHistoryTtlMs });
      } catch (err) {
        this.logger.error(`Could not record order ${entry.orderId ?? '(no id)'} of ${entry.userId}: ${(err as Error)?.name ?? 'error'}`);
      }
    });
  }

  async list(userId: string): Promise<{ state: 'hit' | 'miss' | 'unavailable'; orders: OrderBookEntry[] }> {
    const r = await this.cache.read<OrderBookEntry[]>(bookKey(userId));
    return { state: r.state, orders: r.state === 'hit' && Array.isArray(r.value) ? r.value : [] };
  }
}
