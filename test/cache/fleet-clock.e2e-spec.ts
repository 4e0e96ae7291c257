import { CacheClockNotSyncedError } from '../../src/cache/core/cache.errors.js';
import { waitForMode } from './cache-harness.js';
import {
  FAST,
  silenceCacheLogs,
  useCache,
  useProxy,
  useRedis,
} from './fixtures.js';

/**
 * Issue 19, item 6, at the cache: `requireFleetClock` refuses a write this instance would version
 * by its own clock: before Redis' TIME was read, and after it while versions stamped before still
 * run ahead of the fleet's clock. Memory mode never refuses.
 */
describe('requireFleetClock (real redis-server)', () => {
  silenceCacheLogs([]);

  it('refused until the clock is measured, then while earlier versions stamped by the host clock run ahead; plain writes are not', async () => {
    const redis = await useRedis();
    const proxy = await useProxy(redis.port);
    proxy.cut();
    const a = await useCache({
      url: proxy.url,
      instanceId: 'a',
      clock: () => Date.now() + 5_000,
      ...FAST,
    });
    const refused = await a
      .set('k', 1, { requireFleetClock: true })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CacheClockNotSyncedError);
    expect(refused).toMatchObject({
      code: 'CACHE_CLOCK_NOT_SYNCED',
      message: expect.stringMatching(/has not read Redis' clock/),
    });
    await expect(
      a.delete('k', { requireFleetClock: true }),
    ).rejects.toMatchObject({ code: 'CACHE_CLOCK_NOT_SYNCED' });
    await expect(
      a.setIfAbsent('c', 1, { requireFleetClock: true }),
    ).rejects.toMatchObject({ code: 'CACHE_CLOCK_NOT_SYNCED' });
    await expect(
      a.update('k', () => 2, { requireFleetClock: true }),
    ).rejects.toMatchObject({ code: 'CACHE_CLOCK_NOT_SYNCED' });
    // A write that does not ask is stamped by the host clock, 5 s ahead.
    expect((await a.set('other', 1)).journaled).toBe(true);
    expect(a.getStatus().journalSize).toBe(1);

    proxy.restore();
    await waitForMode(a, 'redis');
    await expect(
      a.set('k', 1, { requireFleetClock: true }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/run \d s ahead of the fleet's/),
    });
    let written: unknown;
    while (written === undefined) {
      written = await a
        .set('k', 1, { requireFleetClock: true })
        .catch(() => undefined);
      if (written === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    // Accepted once the fleet's time is within 1 s of the last version stamped ahead.
    expect(written).toMatchObject({ store: 'redis' });

    // Memory mode has no fleet to order against: never refused.
    const m = await useCache({ redis: null, clock: () => Date.now() + 60_000 });
    await expect(
      m.set('k', 1, { requireFleetClock: true }),
    ).resolves.toMatchObject({ store: 'memory' });
    await expect(
      m.delete('k', { requireFleetClock: true }),
    ).resolves.toMatchObject({ store: 'memory' });
  });
});
