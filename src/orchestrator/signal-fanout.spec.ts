import { BrokerAuthError, BrokerTimeoutError } from '../sharekhan/index.js';
import type { TradingUser } from './orchestrator.options.js';
import type { OrchestratorSettings } from './orchestrator.options.js';
import { LiveBroker } from './live-broker.js';
import { OrderBook } from './order-book.js';
import { OrderMetrics } from './order-metrics.js';
import { OrderExecutor } from './order-executor.js';
import type { OrderFields } from './orchestrator.schemas.js';
import { PaperBroker } from './paper-broker.js';
import { SignalClaims } from './signal-claims.js';
import { SignalFanout } from './signal-fanout.js';
import { FakeLiveClient, FakeTokenStore, LIVE, LIVE2, PAPER, SwitchableCache, settingsFor, staticTokensFor } from '../../test/helpers/orchestrator-fakes.js';
import { TokenResolver } from './token-resolver.js';
import { UserRegistry } from './user-registry.js';
import { SAMPLE_ORDER } from '../../test/fixtures/orders.js';

const ORDER: OrderFields = { ...SAMPLE_ORDER };

function setup(users: TradingUser[] = [PAPER, LIVE, LIVE2], over: Partial<OrchestratorSettings> = {}) {
  const settings = settingsFor(users, over);
  const cache = new SwitchableCache();
  const store = new FakeTokenStore();
  const client = new FakeLiveClient();
  const registry = new UserRegistry(settings);
  const resolver = new TokenResolver(store, settings, staticTokensFor(cache));
  const book = new OrderBook(cache, settings);
  const executor = new OrderExecutor(registry, resolver, new PaperBroker(), new LiveBroker(client), book, settings, new OrderMetrics());
  const claims = new SignalClaims(cache, settings);
  const fanout = new SignalFanout(registry, executor, claims, settings);
  for (const u of users) store.put(u.userId, `token-of-${u.userId}-xxxxxxxx`);
  return { settings, cache, store, client, registry, executor, fanout, book, claims };
}

describe('OrderExecutor', () => {
  it('fills a paper order with a PAPER- id and keeps it in the user’s book', async () => {
    const { executor, book, client } = setup();
    const built = { ...ORDER, customerId: PAPER.userId, channelUser: PAPER.userId } as never;
    const r = await executor.execute(PAPER, built);
    expect(r).toMatchObject({ outcome: 'placed', broker: 'paper', mode: 'paper' });
    expect(r.orderId).toMatch(/^PAPER-/);
    expect(client.sent).toHaveLength(0);
    const { orders } = await book.list(PAPER.userId);
    expect(orders).toEqual([expect.objectContaining({ orderId: r.orderId, broker: 'paper', tradingSymbol: 'RELIANCE' })]);
    expect((await book.list(LIVE.userId)).orders).toEqual([]);
  });

  it('never downgrades a live user to paper when its token is missing', async () => {
    const { executor, store, client } = setup();
    store.answers.delete(LIVE.userId);
    const r = await executor.execute(LIVE, { ...ORDER, customerId: 'C100', channelUser: 'LOGIN100' } as never);
    expect(r).toMatchObject({ outcome: 'not_placed', code: 'TOKEN_MISSING', mode: 'live' });
    expect(r.broker).toBeUndefined();
    expect(client.sent).toHaveLength(0);
  });

  it('a broker 403 invalidates the token and refuses the next order without sending it', async () => {
    const { executor, store, client } = setup();
    client.failures.push(new BrokerAuthError('HTTP 403', { operation: 'placeOrder', status: 403 }));
    const order = { ...ORDER, customerId: 'C100', channelUser: 'LOGIN100' } as never;
    const first = await executor.execute(LIVE, order);
    expect(first).toMatchObject({ code: 'BROKER_TOKEN_REJECTED', outcome: 'not_placed' });
    expect(store.invalidated).toEqual([expect.objectContaining({ userId: LIVE.userId })]);
    const second = await executor.execute(LIVE, order);
    expect(second).toMatchObject({ code: 'TOKEN_INVALID' });
    expect(client.sent).toHaveLength(1);
  });

  it('a timed-out order is reported unknown, recorded, and sent once', async () => {
    const { executor, client, book } = setup();
    client.failures.push(new BrokerTimeoutError('no answer within 100 ms', { operation: 'placeOrder', outcomeUnknown: true }, 100));
    const r = await executor.execute(LIVE, { ...ORDER, customerId: 'C100', channelUser: 'LOGIN100' } as never);
    expect(r).toMatchObject({ outcome: 'unknown', code: 'ORDER_OUTCOME_UNKNOWN' });
    expect(client.sent).toHaveLength(1);
    expect((await book.list(LIVE.userId)).orders).toEqual([expect.objectContaining({ outcome: 'unknown', code: 'ORDER_OUTCOME_UNKNOWN' })]);
  });
});

describe('OrderExecutor: the history line is written after the answer', () => {
  /** Holds every history append until `release()`. */
  function holdAppends(cache: SwitchableCache) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const append = cache.appendLog.bind(cache);
    vi.spyOn(cache, 'appendLog').mockImplementation((key, value, limits) => gate.then(() => append(key, value, limits)));
    onTestFinished(() => {
      vi.restoreAllMocks();
    });
    return release;
  }
  const sleep = (ms: number) => new Promise<'held'>((r) => setTimeout(() => r('held'), ms));

  it('answers a placed live order while its history append is still on its way; this replica then reads it', async () => {
    const { executor, book, cache, client } = setup();
    const release = holdAppends(cache);
    const r = await Promise.race([executor.execute(LIVE, { ...ORDER, customerId: 'C100', channelUser: 'LOGIN100' } as never), sleep(1_000)]);
    expect(r).toMatchObject({ outcome: 'placed', broker: 'sharekhan' });
    expect(client.sent).toHaveLength(1);
    // A read of the user's history on this replica waits for the line, never misses it.
    const listed = book.list(LIVE.userId);
    expect(await Promise.race([listed, sleep(50)])).toBe('held');
    release();
    expect((await listed).orders).toEqual([expect.objectContaining({ orderId: (r as { orderId: string }).orderId, outcome: 'placed' })]);
  });

  it('a clean shutdown waits for the history lines of orders already answered', async () => {
    const { executor, book, cache } = setup();
    const release = holdAppends(cache);
    await executor.execute(LIVE, { ...ORDER, customerId: 'C100', channelUser: 'LOGIN100' } as never);
    const closing = book.onModuleDestroy();
    expect(await Promise.race([closing.then(() => 'closed'), sleep(50)])).toBe('held');
    release();
    await closing;
    expect((await cache.readLog(`orchestrator:orders:${LIVE.userId}`)).entries).toHaveLength(1);
  });
});

describe('SignalFanout', () => {
  it('one user failing never blocks the others; each user gets its own result', async () => {
    const { fanout, store, client } = setup();
    store.answers.delete(LIVE2.userId);
    const report = await fanout.fanOut('SIG-1', ['PAPER_TRADER_001', 'MASTER_USER_001', 'LIVE_USER_002', 'NOBODY'], ORDER);
    expect(report.results.map((r) => [r.userId, r.outcome, r.code])).toEqual([
      ['PAPER_TRADER_001', 'placed', undefined],
      ['MASTER_USER_001', 'placed', undefined],
      ['LIVE_USER_002', 'not_placed', 'TOKEN_MISSING'],
      ['NOBODY', 'not_placed', 'USER_UNKNOWN'],
    ]);
    expect(report.summary).toMatchObject({ total: 4, placed: 2, notPlaced: 2, unknown: 0 });
    expect(client.sent.map((s) => s.order.customerId)).toEqual(['C100']);
    expect(client.sent[0].accessToken).toBe('token-of-MASTER_USER_001-xxxxxxxx');
  });

  it('keeps at most fanoutConcurrency orders in flight', async () => {
    const users = Array.from({ length: 8 }, (_, i) => ({ userId: `LIVE_${i}`, mode: 'live' as const, customerId: `C${i}`, loginId: `L${i}` }));
    const { fanout, client } = setup(users, { fanoutConcurrency: 3 });
    client.delayMs = 20;
    const report = await fanout.fanOut('SIG-C', users.map((u) => u.userId), ORDER);
    expect(report.summary.placed).toBe(8);
    expect(client.maxInFlight).toBe(3);
  });

  it('a retried signal places nothing twice, also when the retries run concurrently', async () => {
    const { fanout, client } = setup();
    client.delayMs = 30;
    const targets = ['PAPER_TRADER_001', 'MASTER_USER_001'];
    const [a, b] = await Promise.all([fanout.fanOut('SIG-2', targets, ORDER), fanout.fanOut('SIG-2', targets, ORDER)]);
    const placed = [...a.results, ...b.results].filter((r) => r.outcome === 'placed');
    expect(placed.map((r) => r.userId).sort()).toEqual(targets.sort());
    expect(client.sent).toHaveLength(1);

    const again = await fanout.fanOut('SIG-2', targets, ORDER);
    expect(again.results.every((r) => r.replayed)).toBe(true);
    expect(again.results.map((r) => r.orderId)).toEqual(placed.sort((x, y) => targets.indexOf(x.userId) - targets.indexOf(y.userId)).map((r) => r.orderId));
    expect(client.sent).toHaveLength(1);
  });

  it('a signal that placed nothing for a user (token missing) may place on retry once a token arrives', async () => {
    const { fanout, store, client } = setup();
    store.answers.delete(LIVE.userId);
    const first = await fanout.fanOut('SIG-3', [LIVE.userId], ORDER);
    expect(first.results[0]).toMatchObject({ code: 'TOKEN_MISSING' });
    store.put(LIVE.userId, 'new-token-zzzzzzzzzzzzzz');
    const second = await fanout.fanOut('SIG-3', [LIVE.userId], ORDER);
    expect(second.results[0]).toMatchObject({ outcome: 'placed' });
    expect(client.sent).toHaveLength(1);
  });

  it('an unknown outcome is kept: the retry replays it and sends nothing', async () => {
    const { fanout, client } = setup();
    client.failures.push(new BrokerTimeoutError('no answer', { operation: 'placeOrder', outcomeUnknown: true }, 50));
    const first = await fanout.fanOut('SIG-4', [LIVE.userId], ORDER);
    expect(first.results[0]).toMatchObject({ outcome: 'unknown' });
    const retry = await fanout.fanOut('SIG-4', [LIVE.userId], ORDER);
    expect(retry.results[0]).toMatchObject({ outcome: 'unknown', replayed: true });
    expect(client.sent).toHaveLength(1);
  });

  it('with the idempotency store unreadable: refuses by default, proceeds when configured', async () => {
    const proceed = setup(undefined, { idempotencyWhenUnavailable: 'proceed' });
    proceed.cache.unavailable = true;
    const r1 = await proceed.fanout.fanOut('SIG-5', [LIVE.userId], ORDER);
    expect(r1.results[0]).toMatchObject({ outcome: 'placed' });

    const refuse = setup();
    refuse.cache.unavailable = true;
    const r2 = await refuse.fanout.fanOut('SIG-5', [LIVE.userId], ORDER);
    expect(r2.results[0]).toMatchObject({ outcome: 'not_placed', code: 'IDEMPOTENCY_UNAVAILABLE' });
    expect(refuse.client.sent).toHaveLength(0);
  });
});
