import { firstValueFrom, filter, timeout } from 'rxjs';
import { CacheUnavailableError } from '../cache.errors.js';
import { decodeRecord } from '../stack/cache-codec.js';
import { useChaosCache } from '../../../test/cache/fixtures.js';

/** getOrSet and update at the edges, on the in-process gateway (no redis-server), Redis up. */
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
    expect(stored('n')?.json).toBe('2'); // this time it had landed: a read tells the caller
  });

  it('update refused before it was sent (the breaker opened after the read) applies to memory and the journal, not CACHE_OUTCOME_UNKNOWN', async () => {
    const { cache, gateway, stored } = await chaosCache();
    await cache.set('n', 1);
    // The read is answered, then Redis goes away before the conditional write can be sent.
    gateway.fault = (cmd) => {
      if (cmd === 'get') gateway.down();
      return undefined;
    };
    const r = await cache.update<number>('n', (v) => (v ?? 0) + 1);
    expect(r).toMatchObject({ value: 2, store: 'memory', journaled: true });
    expect(cache.getStatus().journalSize).toBe(1);
    expect(gateway.commands.some((c) => c.startsWith('casIfVersion'))).toBe(false);
    expect(stored('n')?.json).toBe('1'); // Redis untouched until replay
  });

  it('update retries when the version changed between read and write, and applies fn to the newer value', async () => {
    const { cache, gateway } = await chaosCache();
    await cache.set('n', 10);
    let raced = false;
    gateway.fault = (cmd, key) => {
      if (cmd === 'casIfVersion' && !raced) {
        raced = true;
        // Another writer lands first: a newer record under the same key.
        const cur = decodeRecord(gateway.data.get(key)!)!;
        const version = cur.version.replace(/^\d{15}/, (w) => String(Number(w) + 1).padStart(15, '0'));
        gateway.data.set(key, `${version}|0|v100`);
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
