import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { CacheService } from '../cache/index.js';
import type { Order } from '../sharekhan/index.js';
import type { OrchestratorSettings } from './orchestrator.options.js';
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
 * kept in the cache as that user's own append log: appends from every replica merge, none
 * overwrites another's (docs/orchestrator.md, "Order history").
 */
@Injectable()
export class OrderBook implements OnModuleDestroy {
  private readonly logger = new Logger('OrderBook');
  /** Appends still on their way to the cache, per user: this replica's reads wait for them. */
  private readonly pending = new Map<string, Set<Promise<void>>>();

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

  /**
   * Starts the append and returns at once: the order's answer does not wait for its history line.
   * This replica's `list` and its shutdown wait for it (docs/orchestrator.md, "Order latency").
   */
  record(entry: OrderBookEntry): Promise<void> {
    // Even the append's own synchronous work (encoding, the script call) waits for the next turn.
    const done = new Promise<void>((resolve) => setImmediate(() => resolve(this.append(entry))));
    let forUser = this.pending.get(entry.userId);
    if (!forUser) this.pending.set(entry.userId, (forUser = new Set()));
    forUser.add(done);
    void done.then(() => {
      forUser.delete(done);
      if (forUser.size === 0 && this.pending.get(entry.userId) === forUser) this.pending.delete(entry.userId);
    });
    return done;
  }

  /** A clean shutdown writes every history line of an order already answered. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.pending.values()].flatMap((set) => [...set]));
  }

  /** Never throws: losing a history line must not turn a placed order into an error. */
  async append(entry: OrderBookEntry): Promise<void> {
    try {
      await this.cache.appendLog(bookKey(entry.userId), entry, {
        maxEntries: this.settings.orderHistoryLimit,
        maxAgeMs: this.settings.orderHistoryTtlMs,
      });
    } catch (err) {
      this.logger.error(`Could not record order ${entry.orderId ?? '(no id)'} of ${entry.userId}: ${(err as Error)?.name ?? 'error'}`);
    }
  }

  /** Oldest first, at most the history limit. */
  async list(userId: string): Promise<{ state: 'hit' | 'miss' | 'unavailable'; orders: OrderBookEntry[] }> {
    const inFlight = this.pending.get(userId);
    if (inFlight) await Promise.all([...inFlight]);
    const r = await this.cache.readLog<OrderBookEntry>(bookKey(userId), {
      order: 'newest-first',
      limit: this.settings.orderHistoryLimit,
      maxAgeMs: this.settings.orderHistoryTtlMs,
    });
    return { state: r.state, orders: r.entries.map((e) => e.value).reverse() };
  }
}
