import { Logger } from '@nestjs/common';
import { vi } from 'vitest';
import type { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import type { OrchestratorSettings } from '../../src/orchestrator/orchestrator.options.js';
import type { OrderResult } from '../../src/orchestrator/orchestrator.types.js';
import { SignalClaims } from '../../src/orchestrator/signal-claims.js';
import { sleep, waitForMode } from './cache-harness.js';
import { eventually, useCache, useProxy, useRedis } from './fixtures.js';

const FAST = { commandTimeoutMs: 250, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } };
const WINDOW = 1_500;
type Policy = OrchestratorSettings['idempotencyWhenUnavailable'];

function claimsOn(cache: CacheService, policy: Policy): SignalClaims {
  return new SignalClaims(cache, { idempotencyTtlMs: 48 * 3600_000, idempotencyWhenUnavailable: policy } as OrchestratorSettings);
}

const settled = (svc: CacheService) =>
  eventually(`settled ${svc.getStatus().instanceId}`, () => {
    const s = svc.getStatus();
    return s.mode === 'redis' && s.journalSize === 0 && !s.reseeding;
  });

const placed = (userId: string): OrderResult => ({ userId, mode: 'live', outcome: 'placed', httpStatus: 201, message: 'placed', at: new Date().toISOString() }) as OrderResult;

describe('Signal claims when Redis fails (real redis-server)', () => {
  beforeAll(() => {
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterAll(() => vi.restoreAllMocks());

  /** Two instances; A behind a proxy; B holds something in memory (a user's token). */
  async function fleetOfTwo() {
    const redis = await useRedis();
    const proxyA = await useProxy(redis.port);
    const a = await useCache({ url: proxyA.url, instanceId: 'a', reseedWindowMs: WINDOW, ...FAST });
    const b = await useCache({ port: redis.port, instanceId: 'b', reseedWindowMs: WINDOW, ...FAST });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    await b.set('token:u1', 'the user token B holds in memory');
    return { redis, proxyA, a, b };
  }

  /** Redis restarts empty while A is cut off: B reconnects first and is back in redis mode. */
  async function restartEmptyWithACutOff({ redis, proxyA, a, b }: Awaited<ReturnType<typeof fleetOfTwo>>) {
    proxyA.cut();
    await waitForMode(a, 'fallback');
    await redis.kill();
    await waitForMode(b, 'fallback');
    await redis.restart();
    await settled(b);
  }

  it.each(['proceed', 'refuse'] as Policy[])('policy %s: after Redis restarts empty, B does not claim a signal A completed before A re-seeded', async (policy) => {
    const fleet = await fleetOfTwo();
    const { redis, proxyA, a, b } = fleet;
    const onA = claimsOn(a, policy);
    const onB = claimsOn(b, policy);
    const first = await onA.claim('sig-1', 'u1');
    if (first.kind !== 'claimed') throw new Error(`A could not claim: ${first.kind}`);
    await onA.complete(first, placed('u1'));
    await restartEmptyWithACutOff(fleet);
    // B never read the claim key: Redis is empty, but it has not been re-seeded by the fleet yet.
    expect(await onB.claim('sig-1', 'u1')).toEqual({ kind: 'unavailable' });

    proxyA.restore();
    await settled(a);
    expect(await onB.claim('sig-1', 'u1')).toMatchObject({ kind: 'done', result: { outcome: 'placed' } });
    const raw = await redis.client().get('t:orchestrator:signal:sig-1:u1');
    expect(JSON.parse(decodeRecord(raw!)!.json)).toMatchObject({ state: 'done', owner: first.owner });
  });

  it('the re-seed window closes: new claims are granted again, and a fresh fleet on a fresh Redis claims at once', async () => {
    const fleet = await fleetOfTwo();
    await restartEmptyWithACutOff(fleet);
    const { b } = fleet;
    expect(await b.setIfAbsent('new-key', 1)).toMatchObject({ state: 'unknown', reason: 'reseeding' });
    await sleep(WINDOW + 100);
    expect(await b.setIfAbsent('new-key', 1)).toMatchObject({ state: 'claimed' });
    const fresh = await useRedis();
    const c = await useCache({ port: fresh.port, instanceId: 'c', ...FAST });
    await waitForMode(c, 'redis');
    expect(await c.setIfAbsent('k', 1)).toMatchObject({ state: 'claimed' });
  });

  it('Redis emptied while everyone stays connected (FLUSHALL): B never claims what A completed; both re-seed', async () => {
    const { redis, a, b } = await fleetOfTwo();
    expect((await a.setIfAbsent('sig:f', { state: 'claimed' })).state).toBe('claimed');
    await a.set('sig:f', { state: 'done' });
    await redis.client().flushall();
    const answers: string[] = [];
    await eventually('B answered from the re-seeded Redis', async () => {
      const r = await b.setIfAbsent('sig:f', { state: 'claimed', by: 'b' });
      answers.push(r.state);
      return r.state !== 'unknown';
    });
    expect(answers.at(-1)).toBe('exists');
    expect(answers).not.toContain('claimed');
    expect(await b.get('sig:f')).toEqual({ state: 'done' });
    expect(a.getStatus().emptyRedisDetections + b.getStatus().emptyRedisDetections).toBeGreaterThanOrEqual(1);
  });

  it('a claim this instance holds wins before Redis: lost from Redis, it is put back and answered exists', async () => {
    const redis = await useRedis();
    const a = await useCache({ port: redis.port, instanceId: 'a', ...FAST });
    await waitForMode(a, 'redis');
    expect((await a.setIfAbsent('sig:x', { owner: 'first' })).state).toBe('claimed');
    const client = redis.client();
    await client.del('t:sig:x'); // lost without the marker changing (eviction, an operator's DEL)
    expect(await a.setIfAbsent('sig:x', { owner: 'retry' })).toMatchObject({ state: 'exists', value: { owner: 'first' } });
    expect(JSON.parse(decodeRecord((await client.get('t:sig:x'))!)!.json)).toEqual({ owner: 'first' });
  });

  it('a released claim stays released: B, which saw A\'s claim, does not put it back once the tombstone expires', async () => {
    const redis = await useRedis();
    const a = await useCache({ port: redis.port, instanceId: 'a', tombstoneTtlMs: 300, ...FAST });
    const b = await useCache({ port: redis.port, instanceId: 'b', tombstoneTtlMs: 300, ...FAST });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    const onA = claimsOn(a, 'refuse');
    const onB = claimsOn(b, 'refuse');
    const first = await onA.claim('sig-r', 'u1');
    if (first.kind !== 'claimed') throw new Error(`A could not claim: ${first.kind}`);
    expect(await onB.claim('sig-r', 'u1')).toMatchObject({ kind: 'in_progress' });
    await onA.release(first); // not placed: a retry may try again
    const client = redis.client();
    await eventually('tombstone expired', async () => (await client.exists('t:orchestrator:signal:sig-r:u1')) === 0);
    expect(await onB.claim('sig-r', 'u1')).toMatchObject({ kind: 'claimed' });
  });

  it('policy refuse: a claim that timed out (Redis paused) is withdrawn once Redis answers, so a retry may place', async () => {
    const redis = await useRedis();
    const cache = await useCache({ port: redis.port, ...FAST });
    await waitForMode(cache, 'redis');
    const claims = claimsOn(cache, 'refuse');
    redis.pause();
    expect(await claims.claim('sig-2', 'u1')).toEqual({ kind: 'unavailable' });
    await sleep(150);
    redis.resume();
    // The claim script ran after its timeout; the withdrawal runs after it on the same connection.
    await eventually('claim withdrawn', () => cache.getStatus().claimsWithdrawn === 1);
    expect(decodeRecord((await redis.client().get('t:orchestrator:signal:sig-2:u1'))!)?.tombstone).toBe(true);
    expect(await claims.claim('sig-2', 'u1')).toMatchObject({ kind: 'claimed', storeUnavailable: false });
  });

  it('policy proceed: the attempt that went ahead without the claim keeps its record (the withdrawal does not undo it)', async () => {
    const redis = await useRedis();
    const cache = await useCache({ port: redis.port, ...FAST });
    await waitForMode(cache, 'redis');
    const claims = claimsOn(cache, 'proceed');
    redis.pause();
    const first = await claims.claim('sig-3', 'u1');
    expect(first).toMatchObject({ kind: 'claimed', storeUnavailable: true });
    await sleep(150);
    redis.resume();
    await settled(cache);
    await eventually('no withdrawal pending', () => cache.getStatus().claimReleasesPending === 0);
    const raw = decodeRecord((await redis.client().get('t:orchestrator:signal:sig-3:u1'))!);
    expect(raw?.tombstone).toBe(false);
    expect(cache.getStatus().claimsWithdrawn).toBe(0);
    expect((await claimsOn(cache, 'proceed').claim('sig-3', 'u1')).kind).toBe('in_progress');
  });
});
