import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import { CoherenceBus } from '../../src/cache/redis/coherence-bus.js';
import { eventually, useProxy, useRedis } from './fixtures.js';

describe('L1 subscriber (real redis-server behind a TCP fault proxy)', () => {
  it('comes back after a SUBSCRIBE that went unanswered on a connection that stays open', async () => {
    const redis = await useRedis();
    const proxy = await useProxy(redis.port);
    const main = new Redis(proxy.port, proxy.host, { lazyConnect: true, commandTimeout: 250 });
    const events = { resubscribed: 0, lost: 0, invalidated: [] as string[] };
    const bus = new CoherenceBus(
      main,
      { channel: 't:cache:l1', heartbeatMs: 100, timeoutMs: 250 },
      {
        invalidate: (k) => void events.invalidated.push(k),
        resubscribed: () => void events.resubscribed++,
        lost: () => void events.lost++,
      },
    );
    onTestFinished(async () => {
      await bus.close();
      main.disconnect();
    });
    // The bus sends SUBSCRIBE from its own `ready` handler, synchronously; this one runs right after,
    // before the proxy has forwarded those bytes: they are swallowed, the socket stays open.
    (bus as unknown as { sub: Redis }).sub.once('ready', () => proxy.blackhole());
    bus.start();
    await eventually('link held', () => proxy.mode === 'blackhole', 5_000);
    await new Promise((r) => setTimeout(r, 400));
    expect(bus.isLive).toBe(false);
    proxy.unhold();
    await eventually('L1 subscriber live again', () => bus.isLive, 5_000);
    expect(events.resubscribed).toBe(1);
    expect(bus.subscribeFailures).toBeGreaterThanOrEqual(1);
    await redis.client().publish('t:cache:l1', `${'0'.repeat(15)}.000001.0000000bt:key`);
    await eventually('invalidation received', () => events.invalidated.includes('t:key'), 5_000);
  });
});
