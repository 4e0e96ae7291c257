import { RELEASE_CLAIM_LUA } from '../../src/cache/redis/scripts/claim-release-script.js';
import { encodeRecord } from '../../src/cache/core/cache-codec.js';
import { waitForMode } from './cache-harness.js';
import { eventually, useCache, useRedis } from './fixtures.js';

describe('a claim withdrawn in place (same version, now a tombstone) on a real Redis', () => {
  it('reads as a miss on every instance that had read it: memory mirror, the decode-free path and L1', async () => {
    const redis = await useRedis();
    const claimer = await useCache({ port: redis.port, instanceId: 'a' });
    const mirror = await useCache({ port: redis.port, instanceId: 'c' });
    const near = await useCache({ port: redis.port, instanceId: 'b', l1: { enabled: true, heartbeatMs: 200 } });
    await Promise.all([waitForMode(claimer, 'redis'), waitForMode(mirror, 'redis'), waitForMode(near, 'redis')]);
    await eventually('L1 subscription', () => near.getStatus().l1.live);

    const claim = await claimer.setIfAbsent('job', 'claimed');
    expect(claim.state).toBe('claimed');
    const version = (claim as { version: string }).version;
    expect(await mirror.read('job')).toMatchObject({ state: 'hit', value: 'claimed' });
    for (let i = 0; i < 5 && near.getStatus().l1.hits === 0; i++) expect(await near.get('job')).toBe('claimed');
    expect(near.getStatus().l1.hits).toBeGreaterThan(0);

    // What Claims.releaseOwn / drainReleases send: compare-and-delete on the claim's own version.
    const tomb = { version, expiresAt: Date.now() + 60_000, tombstone: true, json: '' };
    const released = await redis.client().eval(RELEASE_CLAIM_LUA, 1, 't:job', version, encodeRecord(tomb), String(tomb.expiresAt), 't:cache:l1');
    expect(released).toBe(1);

    expect(await mirror.read('job')).toMatchObject({ state: 'miss' });
    expect(await claimer.read('job')).toMatchObject({ state: 'miss' });
    await eventually('L1 stops serving the withdrawn claim', async () => (await near.get('job')) === undefined, 2_000);
    // The memory copies follow Redis: not even a fallback read brings the claim back.
    expect(await mirror.read('job')).toMatchObject({ state: 'miss' });
  });
});
