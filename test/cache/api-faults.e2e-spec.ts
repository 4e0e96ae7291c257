import { firstValueFrom, filter, timeout } from 'rxjs';
import { CacheUnavailableError } from '../../src/cache/core/cache.errors.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { useChaosCache } from './fixtures.js';

/** getOrSet and update at the edges, on the chaos gateway (the real one with injected faults), Redis up. */
async function chaosCache() {
  const fixture = await useChaosCache();
  fixture.gateway.up();
  await firstValueFrom(fixture.cache.mode$.pipe(filter((m) => m === 'redis'), timeout(2_000)));
  return fixture;
}

describe('update and getOrSet on a chaos gateway', () => {
  it('update whose reply is lost answers CACHE_OUTCOME_UNKNOWN and journals nothing (the write may have landed)', async () => {
    const { cache, gateway, stored } = await chaosCache();
    await cache.set('n', 1);
    gateway.fault = (cmd) => (cmd === 'casIfVersion' ? 'lost-reply' : undefined);
    const err = await cache.update<number>('n', (v) => (v ?? 0) + 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheUnavailableError);
    expect((err as CacheUnavailableError).code).toBe('CACHE_OUTCOME_UNKNOWN');
    expect(cache.getStatus().journalSize).toBe(0);
    gateway.fault = null;
    expect((await stored('n'))?.json).toBe('2'); // this time it had landed: a read tells the caller
  });

  /** Memory holds n=1 while Redis holds a newer n=5 another instance wrote; `fn` opens the breaker after the read. */
  async function refusedAfterRead() {
    const fixture = await chaosCache();
    await fixture.cache.set('n', 1);
    const cur = decodeRecord((await fixture.raw.get('u:n'))!)!;
    const newer = cur.version.replace(/^\d{15}/, (w) => String(Number(w) + 1).padStart(15, '0'));
    await fixture.raw.set('u:n', `${newer}|0|v5`);
    const seen: (number | undefined)[] = [];
    const fn = (v: number | undefined) => {
      seen.push(v);
      if (seen.length === 1) fixture.gateway.down();
      return (v ?? 0) + 1;
    };
    return { ...fixture, fn, seen };
  }

  it('update refused before it was sent (breaker open after the read) journals the change made to what was read, not CACHE_OUTCOME_UNKNOWN', async () => {
    const { cache, gateway, stored, fn, seen } = await refusedAfterRead();
    const r = await cache.update<number>('n', fn);
    // fn ran once, on Redis' newer 5 (not again on memory's older 1), and the change is journaled.
    expect(seen).toEqual([5]);
    expect(r).toMatchObject({ value: 6, store: 'memory', journaled: true, attempts: 1 });
    expect(cache.getStatus().journalSize).toBe(1);
    expect(gateway.commands.some((c) => c.startsWith('casIfVersion'))).toBe(false);
    expect((await stored('n'))?.json).toBe('5');
    // Replayed once Redis is back: 6 lands over the 5 it was computed from.
    gateway.up();
    await vi.waitFor(async () => expect((await stored('n'))?.json).toBe('6'), { timeout: 3_000 });
  });

  it('the same with maxAttempts 1: still journaled, the last attempt is not lost to a retry', async () => {
    const { cache, fn } = await refusedAfterRead();
    await expect(cache.update<number>('n', fn, { maxAttempts: 1 })).resolves.toMatchObject({ value: 6, store: 'memory', journaled: true });
  });

  it('with requireRedis nothing is written while Redis cannot be used: CACHE_UNAVAILABLE', async () => {
    const { cache, stored, fn } = await refusedAfterRead();
    const err = await cache.update<number>('n', fn, { requireRedis: true }).catch((e: unknown) => e);
    expect((err as CacheUnavailableError).code).toBe('CACHE_UNAVAILABLE');
    expect(cache.getStatus().journalSize).toBe(0);
    expect((await stored('n'))?.json).toBe('5');
    const again = await cache.update<number>('n', (v) => (v ?? 0) + 1, { requireRedis: true }).catch((e: unknown) => e);
    expect((again as CacheUnavailableError).code).toBe('CACHE_UNAVAILABLE');
  });

  it('update retries when the version changed between read and write, and applies fn to the newer value', async () => {
    const { cache, gateway, raw } = await chaosCache();
    await cache.set('n', 10);
    let raced = false;
    gateway.fault = async (cmd, key) => {
      if (cmd === 'casIfVersion' && !raced) {
        raced = true;
        // Another writer lands first: a newer record under the same key.
        const cur = decodeRecord((await raw.get(key))!)!;
        const version = cur.version.replace(/^\d{15}/, (w) => String(Number(w) + 1).padStart(15, '0'));
        await raw.set(key, `${version}|0|v100`);
      }
    };
    const r = await cache.update<number>('n', (v) => (v ?? 0) + 1);
    expect(r).toMatchObject({ value: 101, store: 'redis', attempts: 2 });
  });

  it('getOrSet with lock while the claim cannot be made (error) still answers, from the factory', async () => {
    const { cache, gateway } = await chaosCache();
    gateway.fault = (cmd) => (cmd === 'casClaim' ? 'error' : undefined);
    let calls = 0;
    const v = await cache.getOrSet('q', () => ++calls, { lock: true, ttlMs: 1_000 });
    expect([v, calls]).toEqual([1, 1]);
    expect(gateway.commands.some((c) => c.startsWith('casClaim'))).toBe(true);
  });
});
