import { Logger } from '@nestjs/common';
import { onTestFinished } from 'vitest';
import { firstValueFrom, filter, timeout } from 'rxjs';
import { CacheService } from '../../src/cache/cache.service.js';
import type { CacheMode } from '../../src/cache/core/cache.types.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { resolveCacheOptions } from '../../src/cache/core/cache.options.js';
import { ClockOffset } from '../../src/cache/core/clock-offset.js';
import { HybridLogicalClock } from '../../src/cache/core/hlc.js';
import { LocalStack } from '../../src/cache/local/local-stack.js';
import { ReplayQuarantine } from '../../src/cache/local/replay-quarantine.js';
import { CacheGateway } from '../../src/cache/redis/cache-gateway.js';
import { NearCache } from '../../src/cache/engine/near-cache.js';
import { RecoveryMachine, type RecoveryExtension } from '../../src/cache/engine/recovery.js';
import { ChaosGateway } from '../support/chaos-gateway.js';
import { useChaosCache, useRedis } from './fixtures.js';

/** The mode machine on the chaos gateway (the real one with injected faults): edge cases in milliseconds. */
const chaosCache = useChaosCache;

function mode(cache: CacheService, m: CacheMode, ms = 2_000): Promise<CacheMode> {
  return firstValueFrom(cache.mode$.pipe(filter((x) => x === m), timeout(ms)));
}

describe('RecoveryMachine on a chaos gateway', () => {
  it('journals writes in fallback and replays them before switching to redis', async () => {
    const { cache, gateway, stored } = await chaosCache();
    expect(cache.mode).toBe('fallback');
    expect(await cache.set('a', 1)).toMatchObject({ store: 'memory', journaled: true });
    await cache.delete('b');
    const seen: CacheMode[] = [];
    cache.mode$.subscribe((m) => seen.push(m));
    gateway.up();
    await mode(cache, 'redis');
    expect(seen).toEqual(['fallback', 'recovering', 'redis']);
    expect((await stored('a'))?.json).toBe('1');
    expect((await stored('b'))?.tombstone).toBe(true);
    expect(cache.getStatus()).toMatchObject({ journalSize: 0, replayed: 2 });
  });

  it('an error mid-replay (Redis still up) is retried with backoff; redis mode only once everything is replayed', async () => {
    const { cache, gateway, stored } = await chaosCache();
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i);
    let failures = 0;
    gateway.fault = (cmd, key) => (cmd === 'casSet' && key === 'u:k3' && failures++ < 2 ? 'error' : undefined);
    gateway.up();
    await mode(cache, 'redis');
    expect(failures).toBe(3); // two injected errors, then the attempt that landed
    for (let i = 0; i < 5; i++) expect((await stored(`k${i}`))?.json).toBe(String(i));
    expect(cache.getStatus().journalSize).toBe(0);
  });

  it('Redis going away mid-replay returns to fallback with the unsettled journal intact; the next pass finishes it', async () => {
    const { cache, gateway, stored } = await chaosCache();
    // The marker in place first, so the next pass replays only (no re-seed to cover for a lost write).
    gateway.up();
    await mode(cache, 'redis');
    gateway.down();
    for (let i = 0; i < 100; i++) await cache.set(`k${i}`, i);
    // The first batch (64) lands; Redis drops as the second is sent, so the rest of the journal stays.
    let writes = 0;
    gateway.fault = (cmd) => {
      if (cmd === 'casSet' && ++writes > 64) {
        gateway.fault = null;
        gateway.down();
      }
    };
    const back = firstValueFrom(cache.transitions$.pipe(filter((t) => t.to === 'fallback'), timeout(2_000)));
    gateway.up();
    expect((await back).from).toBe('recovering');
    expect(cache.getStatus().journalSize).toBe(36);
    expect(await cache.get('k99')).toBe(99); // still served from memory
    gateway.up();
    await mode(cache, 'redis');
    for (let i = 0; i < 100; i++) expect((await stored(`k${i}`))?.json).toBe(String(i));
  });

  it('a live write whose reply is lost is journaled and replayed ~100 ms later without an outage', async () => {
    const { cache, gateway, stored } = await chaosCache();
    gateway.up();
    await mode(cache, 'redis');
    gateway.fault = (cmd) => (cmd === 'casSet' ? 'lost-reply' : undefined);
    expect(await cache.set('x', 'v')).toMatchObject({ store: 'memory', journaled: true });
    gateway.fault = null;
    await new Promise((r) => setTimeout(r, 300));
    expect(cache.getStatus().journalSize).toBe(0);
    expect(cache.mode).toBe('redis');
    expect((await stored('x'))?.json).toBe('"v"');
  });

  it('an emptied Redis is re-seeded from memory; reads of known keys never miss meanwhile, and a newer write is not overwritten', async () => {
    const { cache, gateway, stored } = await chaosCache();
    gateway.up();
    await mode(cache, 'redis');
    for (let i = 0; i < 50; i++) await cache.set(`k${i}`, `old${i}`);
    // Slow re-seed: every command takes 5 ms, so reads and a new write run during it.
    let reseedWrites = 0;
    gateway.fault = (cmd) => {
      if (cmd === 'casSet') reseedWrites++;
    };
    gateway.latencyMs = 5;
    await gateway.restartEmpty();
    await mode(cache, 'recovering');
    expect(cache.getStatus().reseeding).toBe(true);
    const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.read(`k${i}`)));
    expect(reads.every((r) => r.state === 'hit')).toBe(true);
    await cache.set('k7', 'new');
    await firstValueFrom(cache.mode$.pipe(filter(() => !cache.getStatus().reseeding && cache.mode === 'redis'), timeout(2_000)));
    await new Promise((r) => setTimeout(r, 50));
    expect(cache.getStatus().emptyRedisDetections).toBe(1);
    expect(reseedWrites).toBeGreaterThanOrEqual(49);
    expect((await stored('k7'))?.json).toBe('"new"');
    expect((await stored('k8'))?.json).toBe('"old8"');
    expect(await cache.get('k7')).toBe('new');
  });

  it('a command timeout during the marker check keeps fallback and tries again', async () => {
    const { cache, gateway } = await chaosCache();
    await cache.set('a', 1);
    let n = 0;
    gateway.fault = (cmd, key) => (cmd === 'get' && key === 'u:' && n++ === 0 ? 'timeout' : undefined);
    const seen: CacheMode[] = [];
    cache.mode$.subscribe((m) => seen.push(m));
    gateway.up();
    await mode(cache, 'redis');
    expect(n).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(['fallback', 'recovering', 'redis']);
  });
});

describe('Claims on the chaos gateway: the production scripts decide', () => {
  it('a claim whose reply is lost is withdrawn once Redis answers (RELEASE_CLAIM_LUA), and the key can be claimed again', async () => {
    const { cache, gateway, stored } = await chaosCache();
    gateway.up();
    await mode(cache, 'redis');
    gateway.fault = (cmd) => (cmd === 'casClaim' ? 'lost-reply' : undefined);
    expect(await cache.setIfAbsent('job', 1)).toMatchObject({ state: 'unknown', reason: 'timeout' });
    gateway.fault = null;
    expect(await stored('job')).not.toBeNull(); // the script ran: only its reply was lost
    await vi.waitFor(() => expect(cache.getStatus()).toMatchObject({ claimsWithdrawn: 1, claimReleasesPending: 0 }), { timeout: 2_000 });
    expect((await stored('job'))?.tombstone).toBe(true);
    expect(await cache.setIfAbsent('job', 2)).toMatchObject({ state: 'claimed' });
  });

  it('after Redis restarts empty, claims are refused until the roll call closes the re-seed window', async () => {
    const { cache, gateway } = await chaosCache();
    gateway.up();
    await mode(cache, 'redis');
    // This instance's report that it has re-seeded cannot reach Redis: the window stays open.
    gateway.fault = (cmd) => (cmd === 'fleetBeat' ? 'error' : undefined);
    await gateway.restartEmpty();
    await vi.waitFor(() => expect(cache.getStatus()).toMatchObject({ mode: 'redis', reseeding: false, reseedWindowOpen: true }), { timeout: 3_000 });
    expect(await cache.setIfAbsent('job', 1)).toMatchObject({ state: 'unknown', reason: 'reseeding' });
    gateway.fault = null;
    await vi.waitFor(() => expect(cache.getStatus().reseedWindowOpen).toBe(false), { timeout: 2_000 });
    expect(await cache.setIfAbsent('job', 1)).toMatchObject({ state: 'claimed' });
  });
});

/** A RecoveryMachine by itself on a chaos gateway, built from one deps object as engine.ts builds it. */
async function machineOn(extensions: RecoveryExtension[]) {
  Logger.overrideLogger(false);
  const logger = new Logger('RecoveryMachine');
  const redis = await useRedis();
  const chaos = new ChaosGateway(redis);
  const gateway = new CacheGateway(chaos);
  const options = resolveCacheOptions({ redis: null, keyPrefix: 'u:', instanceId: 'unit' }, () => 'unit');
  const clock = () => Date.now();
  const hlc = new HybridLogicalClock(options.instanceId, clock);
  const local = new LocalStack(options, clock, hlc, logger);
  const near = new NearCache(null, options, local, hlc, () => false);
  const ids = { keyPrefix: 'u:', instanceId: 'unit', memberId: 'unit', reseedWindowMs: options.reseedWindowMs, clockSyncIntervalMs: options.clockSyncIntervalMs, tombstoneTtlMs: options.tombstoneTtlMs };
  const recovery = new RecoveryMachine({
    gateway,
    records: gateway.records(() => ''),
    local,
    near,
    hlc,
    clock,
    clockOffset: new ClockOffset(clock, options.maxClockSkewMs, logger),
    logger,
    ids,
    quarantine: new ReplayQuarantine(logger),
    extensions,
  });
  const sub = gateway.available$.subscribe((up) => recovery.onAvailability(up));
  recovery.start();
  gateway.start();
  onTestFinished(async () => {
    sub.unsubscribe();
    await recovery.close();
    recovery.complete();
    await gateway.close();
  });
  const raw = redis.client();
  return { gateway: chaos, local, hlc, recovery, stored: async (key: string) => decodeRecord((await raw.get(key)) ?? '') };
}

describe('RecoveryMachine extensions', () => {
  it('replay and re-seed hooks run inside the pass, before redis mode', async () => {
    const calls: string[] = [];
    const { gateway, local, hlc, recovery, stored } = await machineOn([
      { replay: async () => void calls.push(`replay in ${recovery.mode}`), reseed: async () => void calls.push(`reseed in ${recovery.mode}`) },
    ]);
    local.journalRecord('u:a', { version: hlc.next(), expiresAt: null, tombstone: false, json: '1' });
    gateway.up();
    await firstValueFrom(recovery.modeSubject.pipe(filter((m) => m === 'redis'), timeout(2_000)));
    // A fresh Redis has no marker: the first pass both replays and re-seeds.
    expect(calls).toEqual(['replay in recovering', 'reseed in recovering']);
    expect((await stored('u:a'))?.json).toBe('1');
  });

  it('a hook that throws fails the pass, which is retried: redis mode only once every hook has run', async () => {
    let failures = 0;
    const { gateway, recovery } = await machineOn([
      {
        replay: async () => {
          if (failures++ < 2) throw new Error('log replay failed');
        },
        reseed: async () => undefined,
      },
    ]);
    gateway.up();
    await firstValueFrom(recovery.modeSubject.pipe(filter((m) => m === 'redis'), timeout(2_000)));
    expect(failures).toBe(3);
  });
});

describe('RecoveryMachine with per-node breakers (Cluster)', () => {
  /** Keys "u:a*" on node A, the others on node B. */
  async function twoNodes() {
    const fixture = await chaosCache();
    fixture.gateway.nodeOf = (key) => (key.startsWith('u:a') ? 'A' : 'B');
    fixture.gateway.up();
    await mode(fixture.cache, 'redis');
    return fixture;
  }

  it("one node's breaker open: its keys are read from memory and journaled, the other's go to Redis, the mode stays redis", async () => {
    const { cache, gateway, stored } = await twoNodes();
    await cache.set('a1', 1);
    await cache.set('b1', 1);
    gateway.openNode('A');
    const sent = gateway.commands.length;
    expect(await cache.read('a1')).toMatchObject({ source: 'memory', value: 1, fallback: true });
    expect(await cache.set('a1', 2)).toMatchObject({ store: 'memory', journaled: true });
    expect(await cache.set('b1', 2)).toMatchObject({ store: 'redis', journaled: false });
    expect(await cache.read('b1')).toMatchObject({ source: 'redis', value: 2 });
    // Nothing for node A was sent.
    expect(gateway.commands.slice(sent).filter((c) => c.includes(' u:a'))).toEqual([]);
    expect(cache.getStatus()).toMatchObject({ mode: 'redis', journalSize: 1, breakerOpenNodes: ['A'] });
    expect((await stored('a1'))?.json).toBe('1');
  });

  it("a journal of an open node's keys waits without passes; it drains when that node's breaker closes, with no mode change", async () => {
    const { cache, gateway, stored } = await twoNodes();
    const transitions: string[] = [];
    cache.transitions$.subscribe((t) => transitions.push(t.to));
    gateway.openNode('A');
    for (let i = 0; i < 5; i++) await cache.set(`a${i}`, i);
    // A drain is scheduled (100 ms) but finds nothing it could send: no pass (no TIME, no marker GET).
    const sent = gateway.commands.length;
    await new Promise((r) => setTimeout(r, 300));
    // The roll call's heartbeat (every 500 ms) is no pass.
    expect(gateway.commands.slice(sent).filter((c) => !c.startsWith('fleetBeat'))).toEqual([]);
    expect(cache.getStatus().journalSize).toBe(5);
    gateway.closeNode('A');
    await vi.waitFor(() => expect(cache.getStatus().journalSize).toBe(0), { timeout: 2_000 });
    for (let i = 0; i < 5; i++) expect((await stored(`a${i}`))?.json).toBe(String(i));
    expect(transitions).toEqual([]);
    expect(cache.mode).toBe('redis');
  });

  it("a pass back from fallback replays the keys it can and reaches redis, leaving an open node's keys journaled", async () => {
    const { cache, gateway, stored } = await twoNodes();
    gateway.down();
    await cache.set('a1', 1);
    await cache.set('b1', 1);
    gateway.openNode('A');
    gateway.up();
    await mode(cache, 'redis');
    expect((await stored('b1'))?.json).toBe('1');
    expect(await stored('a1')).toBeNull();
    expect(cache.getStatus().journalSize).toBe(1);
    gateway.closeNode('A');
    await vi.waitFor(async () => expect((await stored('a1'))?.json).toBe('1'), { timeout: 2_000 });
  });

  it("an emptied Redis while one node's breaker is open: re-seeding is resumed, never dropped, and no key memory holds is forgotten meanwhile", async () => {
    const { cache, gateway, stored } = await twoNodes();
    await cache.set('a1', 'A1');
    for (let i = 0; i < 50; i++) await cache.set(`b${i}`, `B${i}`);
    gateway.openNode('A');
    await gateway.restartEmpty();
    // Passes fail on node A's key while it stays open; meanwhile node B's keys are read.
    await new Promise((r) => setTimeout(r, 400));
    expect(cache.getStatus().reseeding).toBe(true);
    const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.read(`b${i}`)));
    expect(reads.filter((r) => r.state !== 'hit').map((_, i) => `b${i}`)).toEqual([]);
    gateway.closeNode('A');
    await vi.waitFor(() => expect(cache.getStatus()).toMatchObject({ reseeding: false, mode: 'redis', journalSize: 0 }), { timeout: 5_000 });
    expect((await stored('a1'))?.json).toBe('"A1"');
    for (let i = 0; i < 50; i++) expect((await stored(`b${i}`))?.json, `b${i}`).toBe(`"B${i}"`);
    expect(await cache.get('b17')).toBe('B17');
    expect(cache.getStatus().emptyRedisDetections).toBe(1);
  });

  it("a claim while the marker's node is open is unknown (unreachable) and leaves nothing to withdraw: an earlier timed-out claim's release is kept", async () => {
    const { cache, gateway } = await twoNodes();
    gateway.isCluster = true;
    // The marker key (the bare prefix) on node A, the claimed keys on node B.
    gateway.nodeOf = (key) => (key === 'u:' || key.startsWith('u:a') ? 'A' : 'B');
    gateway.fault = (cmd, key) => (cmd === 'casClaim' && key === 'u:b-lost' ? 'lost-reply' : undefined);
    expect(await cache.setIfAbsent('b-lost', 1)).toMatchObject({ state: 'unknown', reason: 'timeout' });
    gateway.fault = null;
    const pending = cache.getStatus().claimReleasesPending;
    gateway.openNode('A');
    expect(await cache.setIfAbsent('b-lost', 2)).toMatchObject({ state: 'unknown', reason: 'unreachable' });
    expect(await cache.setIfAbsent('b2', 2)).toMatchObject({ state: 'unknown', reason: 'unreachable' });
    // Nothing was sent for these two, so nothing was queued, and the earlier release is not replaced.
    expect(cache.getStatus().claimReleasesPending).toBe(pending);
  });
});
