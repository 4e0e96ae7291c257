import { incrementWindow, type CounterHit } from './atomic-counter.js';
import { AsyncResource } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { BehaviorSubject, Subject, distinctUntilChanged, filter, firstValueFrom, map, of, timeout, type Observable, type Subscription } from 'rxjs';
import { MODULE_OPTIONS_TOKEN } from './cache.module-definition.js';
import { resolveCacheOptions, type CacheModuleOptions, type ResolvedCacheOptions } from './cache.options.js';
import { CacheStartupError, CacheValidationError } from './cache.errors.js';
import type {
  CacheMode,
  ClaimResult,
  CacheObserver,
  CacheStatus,
  ModeTransition,
  ReadResult,
  SetOptions,
  SnapshotStatus,
  WriteResult,
} from './cache.types.js';
import { AppendLog, type AppendLogStatus, type LogLimits, type LogReadOptions, type LogReadResult } from './append-log.js';
import { decodeRecord, encodeRecord, type StoredRecord } from './cache-codec.js';
import { CoherenceBus } from './coherence-bus.js';
import { HybridLogicalClock } from './hlc.js';
import { MemoryStore, deepFreeze, entryOf, type MemoryEntry } from './memory-store.js';
import { JOURNAL_POLICY, RecoveryJournal } from './recovery-journal.js';
import { RedisGateway } from './redis-gateway.js';
import { ReplayQuarantine, isPoisonError } from './replay-quarantine.js';
import { ClaimReleases } from './claim-release.js';
import { epochOf } from './reseed-window.js';
import { ClockOffset } from './clock-offset.js';
import { SnapshotFile, fromRow } from './snapshot-store.js';

const REPLAY_BATCH = 64;
const RESYNC_RETRY_MIN_MS = 50;
const RESYNC_RETRY_MAX_MS = 2_000;
/** A write that timed out in `redis` mode is replayed this soon (the breaker may open first). */
const DRAIN_DELAY_MS = 100;

/**
 * Fallback-aware cache: Redis when it is usable, the memory store when it is not, with every
 * operation bounded by the command timeout and nothing written during an outage lost.
 *
 * Coming back from an outage (`resync`): check the deployment's marker key to learn whether Redis
 * lost its data, replay the journal with compare-and-set, re-seed an emptied Redis from memory,
 * flush L1, then `redis`. Until each step is done, the keys it concerns are read from memory.
 */
@Injectable()
export class CacheService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('CacheService');
  private readonly options: ResolvedCacheOptions;
  private readonly clock: () => number;
  private readonly clockOffset: ClockOffset;
  private clockTimer: NodeJS.Timeout | null = null;
  private readonly hlc: HybridLogicalClock;
  private readonly memory: MemoryStore;
  private readonly journal: RecoveryJournal;
  private readonly gateway: RedisGateway | null;
  private readonly logs: AppendLog;
  private readonly modeSubject: BehaviorSubject<CacheMode>;
  private readonly quarantine = new ReplayQuarantine(this.logger);
  private readonly releases = new ClaimReleases();
  private releaseTimer: NodeJS.Timeout | null = null;
  private releaseDelay = RESYNC_RETRY_MIN_MS;
  private readonly transitionSubject = new Subject<ModeTransition>();
  private lastTransitionAt = new Date();
  private transitions = 0;
  private replayed = 0;
  private replayRejected = 0;
  private availabilitySub: Subscription | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private observer: CacheObserver | null = null;
  private closing = false;
  /** False until the first connection to Redis: that one is a start, not a recovery. */
  private everConnected = false;
  private startupWarnTimer: NodeJS.Timeout | null = null;
  /**
   * Mode lines are bound to the context the service was built in: a change noticed inside a
   * request (a timeout that opens the breaker) must not carry that request's id.
   */
  private readonly logOutsideRequest = AsyncResource.bind((level: 'log' | 'warn', line: string) => this.logger[level](line));

  // Recovery, drain and re-seed.
  private resyncing: Promise<void> | null = null;
  private resyncRequested = false;
  private drainTimer: NodeJS.Timeout | null = null;
  private journalFullWarned = false;
  /** The marker key: exactly the prefix, which no cache key can be (keys are never empty). */
  private readonly markerKey: string;
  /** The marker value this instance last synchronised with; a different one means Redis was replaced. */
  private knownEpoch: string | null = null;
  private reseeding = false;
  /** Counts Redis becoming usable; a recovery pass is only valid for the link it started on. */
  private linkUps = 0;
  private emptyRedisDetections = 0;
  private reseeded = 0;
  private reseedRejected = 0;

  // L1 near-cache.
  private readonly bus: CoherenceBus | null;
  private readonly channel: string;
  private l1Generation = 1;
  private l1Hits = 0;
  private l1Invalidations = 0;
  private l1Flushes = 0;
  private readonly readsInFlight = new Map<string, number>();
  private readonly invalidatedInFlight = new Set<string>();

  // Snapshot.
  private readonly snapshotFile: SnapshotFile | null;
  private readonly snapshotStatus: SnapshotStatus;
  private snapshotDirty = false;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotChain: Promise<void> = Promise.resolve();

  constructor(@Inject(MODULE_OPTIONS_TOKEN) options: CacheModuleOptions) {
    this.options = resolveCacheOptions(options, () => randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 8));
    this.clockOffset = new ClockOffset(this.options.clock, this.options.maxClockSkewMs, this.logger, this.options.monotonicClock);
    // Everything that stamps or compares time uses the fleet's agreed time (Redis' clock).
    this.clock = this.clockOffset.now;
    this.hlc = new HybridLogicalClock(this.options.instanceId, this.clock);
    this.journal = new RecoveryJournal(this.options.journal, this.clock);
    this.memory = new MemoryStore(this.options.memory, this.clock, (k) => this.journal.has(k));
    this.gateway = this.options.redis ? new RedisGateway(this.options) : null;
    this.modeSubject = new BehaviorSubject<CacheMode>(this.gateway ? 'fallback' : 'memory');
    this.logs = new AppendLog({
      gateway: this.gateway,
      hlc: this.hlc,
      journal: this.journal,
      clock: this.clock,
      fullKey: (k) => this.fullKey(k),
      keyPrefix: this.options.keyPrefix,
      redisUsable: () => this.gateway!.available && this.mode !== 'fallback',
      reseeding: () => this.reseeding,
      pending: () => this.scheduleDrain(),
      changed: () => this.markDirty(),
    });
    this.markerKey = this.options.keyPrefix;
    this.channel = `${this.options.keyPrefix}cache:l1`;
    this.bus =
      this.gateway && this.options.l1.enabled
        ? new CoherenceBus(
            this.gateway.client,
            { channel: this.channel, heartbeatMs: this.options.l1.heartbeatMs, timeoutMs: this.options.commandTimeoutMs },
            {
              invalidate: (k, v) => this.onInvalidate(k, v),
              resubscribed: () => this.flushL1(),
              lost: () => undefined,
            },
          )
        : null;
    const snap = this.options.snapshot;
    this.snapshotFile = snap ? new SnapshotFile(snap.path, snap.key, this.options.keyPrefix) : null;
    this.snapshotStatus = {
      enabled: snap !== null,
      load: 'disabled',
      loadError: null,
      loadedEntries: 0,
      loadedJournal: 0,
      saves: 0,
      lastSavedAt: null,
      lastSaveBytes: 0,
      saveErrors: 0,
      lastSaveError: null,
    };
    if (this.snapshotFile) this.loadSnapshot(this.snapshotFile);
  }

  async onModuleInit(): Promise<void> {
    this.sweepTimer = setInterval(() => {
      if (this.memory.sweepExpired() + this.journal.dropExpired() > 0) this.markDirty();
    }, 30_000);
    this.sweepTimer.unref();
    if (!this.gateway) {
      this.logger.log('No Redis configured: serving from the embedded memory store (mode memory)');
      return;
    }
    this.availabilitySub = this.gateway.available$.subscribe((up) => this.onAvailability(up));
    // Often enough that a marker lost without a reconnect (FLUSHALL) is noticed within a re-seed window.
    const every = Math.min(this.options.clockSyncIntervalMs, Math.max(1_000, this.options.reseedWindowMs / 2));
    this.clockTimer = setInterval(() => {
      if (!this.gateway?.available) return;
      this.measureClock().catch(() => undefined);
      this.checkMarker().catch(() => undefined);
    }, every);
    this.clockTimer.unref();
    this.gateway.start();
    this.bus?.start();
    this.warnIfNotConnectedSoon();
    if (this.options.requireRedisOnStartup) {
      try {
        await this.gateway.waitUntilAvailable(this.options.connectTimeoutMs);
      } catch (err) {
        throw new CacheStartupError(`Redis is required at start-up but not reachable: ${(err as Error).message}`);
      }
    }
  }

  /** Start-up is quiet while Redis connects; one line once the connect timeout has passed without it. */
  private warnIfNotConnectedSoon(): void {
    this.startupWarnTimer = setTimeout(() => {
      this.startupWarnTimer = null;
      if (this.everConnected || this.closing) return;
      this.logOutsideRequest(
        'warn',
        `Redis not reachable at start-up (${this.gateway?.lastError ?? `no connection within ${this.options.connectTimeoutMs} ms`}): serving from memory (mode fallback) until it connects`,
      );
    }, this.options.connectTimeoutMs);
    this.startupWarnTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.startupWarnTimer) clearTimeout(this.startupWarnTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.availabilitySub?.unsubscribe();
    if (this.resyncing) await this.resyncing.catch(() => undefined);
    await this.bus?.close();
    if (this.gateway) await this.gateway.close();
    if (this.snapshotFile) {
      if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
      this.snapshotDirty = true;
      await this.saveSnapshot();
    }
    this.modeSubject.complete();
    this.transitionSubject.complete();
  }

  /** Current mode and every later change. */
  get mode$(): Observable<CacheMode> {
    return this.modeSubject.pipe(distinctUntilChanged());
  }

  get transitions$(): Observable<ModeTransition> {
    return this.transitionSubject.asObservable();
  }

  get mode(): CacheMode {
    return this.modeSubject.value;
  }

  /** Waits (bounded) for Redis; true when it is in use. Never needed for correctness. */
  async connect(timeoutMs = this.options.connectTimeoutMs): Promise<boolean> {
    if (!this.gateway) return false;
    // `redis` mode, not just a ready socket: replay and re-seed must be done before reads go there.
    return firstValueFrom(
      this.modeSubject.pipe(
        filter((m) => m === 'redis'),
        map(() => true),
        timeout({ first: timeoutMs, with: () => of(false) }),
      ),
      { defaultValue: false },
    );
  }

  /** One observer (metrics) sees every operation; the cache itself knows nothing of Prometheus. */
  setObserver(observer: CacheObserver | null): void {
    this.observer = observer;
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.read<T>(key)).value;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.read(key)).state === 'hit';
  }

  async read<T>(key: string): Promise<ReadResult<T>> {
    if (!this.observer) return this.readKey<T>(this.fullKey(key));
    const t0 = performance.now();
    const r = await this.readKey<T>(this.fullKey(key));
    this.observer.operation('read', r.state, r.source, performance.now() - t0);
    return r;
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<WriteResult> {
    const k = this.fullKey(key);
    const json = serialise(value);
    const expiresAt = this.expiryFrom(options);
    return this.write(k, { version: this.hlc.next(), expiresAt, tombstone: false, json });
  }

  /**
   * Atomic claim of a key across every instance sharing Redis (idempotency keys, one-time states).
   * `claimed`: this call wrote the value. `exists`: the key already holds a value (returned).
   * `unknown`: Redis could not be asked (or the claim timed out) and memory does not hold the key;
   * nothing was written, the caller decides whether to proceed without the guarantee.
   * `authoritative` is false when the answer comes from this instance's memory alone.
   */
  async setIfAbsent<T>(key: string, value: T, options: SetOptions = {}): Promise<ClaimResult<T>> {
    const k = this.fullKey(key);
    const rec: StoredRecord = { version: this.hlc.next(), expiresAt: this.expiryFrom(options), tombstone: false, json: serialise(value) };
    const known = this.memory.get(k);
    const gateway = this.gateway;
    if (!gateway || !this.redisUsableFor(k)) {
      if (known && !known.tombstone) return { state: 'exists', value: valueOf(known) as T, authoritative: !gateway };
      if (gateway) return { state: 'unknown', reason: 'unreachable', authoritative: false };
      this.mirror(k, rec);
      return { state: 'claimed', authoritative: true, version: rec.version };
    }
    // A live copy held here wins before Redis decides: the script puts it back if Redis lacks it.
    const seed = known && !known.tombstone ? [known.version, encodeRecord(known), pxat(known)] : ['', '', '0'];
    const keys = gateway.isCluster ? [k] : [k, this.markerKey];
    const claim = (deadline?: number) =>
      gateway.run((c) => c.casClaim(keys.length, ...keys, rec.version, encodeRecord(rec), pxat(rec), this.publishChannel(), ...seed, String(this.clock())), deadline);
    let reply: 0 | 1 | 2 | string;
    let held: StoredRecord | null = null;
    const deadline = performance.now() + this.options.commandTimeoutMs;
    try {
      if (gateway.isCluster && !(await this.clusterClaimsOpen(deadline))) return { state: 'unknown', reason: 'reseeding', authoritative: false };
      reply = await claim(gateway.isCluster ? deadline : undefined);
      held = typeof reply === 'number' ? null : decodeRecord(String(reply));
      if (held?.tombstone) {
        // Deleted, but by an instance whose clock runs ahead of ours: the key is free, so the
        // claim moves past the tombstone's version once (as a live write does) and asks again.
        this.hlc.observe(held.version);
        rec.version = this.hlc.next();
        reply = await claim(deadline);
        held = typeof reply === 'number' ? null : decodeRecord(String(reply));
      }
    } catch {
      // The script may still run after the timeout: withdraw this attempt's claim once Redis answers.
      this.releases.add(k, rec.version);
      this.scheduleReleases();
      return { state: 'unknown', reason: 'timeout', authoritative: false };
    }
    // Marker gone while connected (FLUSHALL, a failover to an empty replica): recover as after a restart.
    if (reply === 2) this.kickResync();
    if (reply === 0 || reply === 2) return { state: 'unknown', reason: 'reseeding', authoritative: false };
    if (reply === 1) {
      this.mirror(k, rec);
      return { state: 'claimed', authoritative: true, version: rec.version };
    }
    if (!held) return { state: 'exists', authoritative: true };
    // Deleted again, newer still, while we asked: nothing was written, let the caller decide.
    if (held.tombstone) return { state: 'unknown', reason: 'unreachable', authoritative: false };
    this.hlc.observe(held.version);
    const entry = this.mirror(k, held);
    const v = entry && entry.version === held.version ? valueOf(entry) : deepFreeze(JSON.parse(held.json));
    return { state: 'exists', value: v as T, authoritative: true };
  }

  /**
   * Appends `value` to an append-only log (audit trails, histories, indexes): appends from every
   * instance merge, none overwrites another, ordered by version. See append-log.ts.
   */
  appendLog(key: string, value: unknown, limits: LogLimits): Promise<WriteResult> {
    return this.logs.append(key, value, limits);
  }

  /** A slice of a log, newest or oldest first; `unavailable` when neither Redis nor memory can answer. */
  readLog<T>(key: string, options?: LogReadOptions): Promise<LogReadResult<T>> {
    return this.logs.read<T>(key, options);
  }

  getLogStatus(): AppendLogStatus {
    return this.logs.status();
  }

  /** Shared fixed-window counter (rate limits); null while Redis is not usable. See atomic-counter.ts. */
  incrementWindow(key: string, windowMs: number): Promise<CounterHit | null> {
    return incrementWindow(this.gateway, this.fullKey(key), windowMs);
  }

  async delete(key: string): Promise<WriteResult> {
    const k = this.fullKey(key);
    return this.write(k, {
      version: this.hlc.next(),
      expiresAt: this.clock() + this.options.tombstoneTtlMs,
      tombstone: true,
      json: '',
    });
  }

  getStatus(): CacheStatus {
    return {
      mode: this.mode,
      redisConfigured: this.gateway !== null,
      connected: this.gateway?.isConnected ?? false,
      breakerState: this.gateway?.breakerState ?? 'none',
      fallbackSize: this.memory.size,
      memoryBytes: this.memory.bytes,
      memoryEvictions: this.memory.evicted,
      journalSize: this.journal.size,
      journalDropped: this.journal.dropped,
      replayed: this.replayed,
      replayRejected: this.replayRejected,
      replayQuarantined: this.quarantine.quarantined,
      lastError: this.gateway?.lastError ?? null,
      lastTransitionAt: this.lastTransitionAt.toISOString(),
      transitions: this.transitions,
      reconnectAttempts: this.gateway?.reconnectAttempts ?? 0,
      instanceId: this.options.instanceId,
      journalCapacity: this.journal.capacity,
      journalPolicy: JOURNAL_POLICY,
      tombstoneTtlMs: this.options.tombstoneTtlMs,
      emptyRedisDetections: this.emptyRedisDetections,
      reseeding: this.reseeding,
      reseeded: this.reseeded,
      reseedRejected: this.reseedRejected,
      reseedWindowMs: this.options.reseedWindowMs,
      claimReleasesPending: this.releases.size,
      claimsWithdrawn: this.releases.withdrawn,
      clock: this.clockOffset.status(),
      l1: {
        enabled: this.bus !== null,
        live: this.bus?.isLive ?? false,
        hits: this.l1Hits,
        invalidations: this.l1Invalidations,
        flushes: this.l1Flushes,
      },
      snapshot: { ...this.snapshotStatus },
    };
  }

  // ---------------------------------------------------------------- reads

  private async readKey<T>(k: string): Promise<ReadResult<T>> {
    if (!this.gateway) return this.fromMemory<T>(k, true);
    if (this.l1Serving()) {
      const e = this.memory.get(k);
      if (e !== undefined && e.l1 === this.l1Generation && !this.journal.has(k)) {
        this.l1Hits++;
        return resultOf<T>(e, 'memory');
      }
    }
    if (!this.redisUsableFor(k)) return this.fromMemory<T>(k, false);
    const generation = this.l1Generation;
    if (this.bus) this.readsInFlight.set(k, (this.readsInFlight.get(k) ?? 0) + 1);
    let raw: string | null;
    try {
      const gateway = this.gateway;
      raw = await gateway.run(() => gateway.get(k));
    } catch {
      if (this.bus) this.endRead(k);
      return this.fromMemory<T>(k, false);
    }
    // An invalidation that arrived while the GET was in flight may be newer than its reply.
    const invalidated = this.bus ? this.endRead(k) : false;
    if (raw === null) {
      if (!this.journal.has(k)) this.forget(k);
      return { state: 'miss', source: 'redis' };
    }
    const rec = decodeRecord(raw);
    if (!rec) return { state: 'miss', source: 'redis' };
    this.hlc.observe(rec.version);
    const entry = invalidated ? undefined : this.mirror(k, rec);
    if (entry && entry.version === rec.version && generation === this.l1Generation && this.l1Serving()) entry.l1 = generation;
    if (rec.tombstone) return { state: 'miss', source: 'redis' };
    const value = entry && entry.version === rec.version ? valueOf(entry) : deepFreeze(JSON.parse(rec.json));
    return { state: 'hit', value: value as T, source: 'redis', version: rec.version, expiresAt: rec.expiresAt };
  }

  /** Which keys must not be read from Redis right now, because memory knows better. */
  private redisUsableFor(k: string): boolean {
    if (!this.gateway!.available) return false;
    if (this.mode === 'fallback') return false;
    // A write Redis has not confirmed (journaled) is newer in memory than in Redis.
    if (this.journal.has(k)) return false;
    // An emptied Redis does not hold the key until re-seeding has written it back.
    return !(this.reseeding && this.memory.has(k));
  }

  private fromMemory<T>(k: string, authoritative: boolean): ReadResult<T> {
    const e = this.memory.get(k);
    if (!e) return { state: authoritative ? 'miss' : 'unavailable', source: 'none' };
    return authoritative ? resultOf<T>(e, 'memory') : { ...resultOf<T>(e, 'memory'), fallback: true };
  }

  // ---------------------------------------------------------------- writes

  private async write(k: string, rec: StoredRecord): Promise<WriteResult> {
    if (!this.observer) return this.writeRecord(k, rec);
    const t0 = performance.now();
    const r = await this.writeRecord(k, rec);
    this.observer.operation(rec.tombstone ? 'delete' : 'set', r.journaled ? 'journaled' : 'ok', r.store, performance.now() - t0);
    return r;
  }

  private async writeRecord(k: string, rec: StoredRecord): Promise<WriteResult> {
    const gateway = this.gateway;
    if (!gateway) {
      this.mirror(k, rec);
      return { version: rec.version, store: 'memory', journaled: false };
    }
    if (!gateway.available || this.mode === 'fallback') {
      // Journal first: a journaled key is pinned, so the memory store cannot evict the new copy.
      this.journalRecord(k, rec);
      this.mirror(k, rec);
      return { version: rec.version, store: 'memory', journaled: true };
    }
    this.mirror(k, rec);
    const generation = this.l1Generation;
    let attempt = rec;
    // One deadline for both attempts: a live write never waits longer than one command timeout.
    const deadline = performance.now() + this.options.commandTimeoutMs;
    try {
      const first = await gateway.run(() => gateway.casSet(k, attempt.version, encodeRecord(attempt), pxat(attempt), this.publishChannel()));
      if (first !== 1) {
        // Redis holds a version from a clock that runs ahead: this write is the newest thing the
        // caller knows, so it moves past that version once rather than being dropped.
        this.hlc.observe(String(first));
        attempt = { ...rec, version: this.hlc.next() };
        this.mirror(k, attempt);
        const second = await gateway.run(() => gateway.casSet(k, attempt.version, encodeRecord(attempt), pxat(attempt), this.publishChannel()), deadline);
        if (second !== 1) {
          this.hlc.observe(String(second));
          this.forget(k);
          return { version: attempt.version, store: 'redis', journaled: false };
        }
      }
    } catch {
      // Failed or timed out: the write may or may not have landed, so replay decides by version.
      this.journalRecord(k, attempt);
      this.scheduleDrain();
      return { version: attempt.version, store: 'memory', journaled: true };
    }
    this.journalSettleUpTo(k, attempt.version);
    const e = this.memory.peek(k);
    if (e && e.version === attempt.version && generation === this.l1Generation && this.l1Serving()) e.l1 = generation;
    return { version: attempt.version, store: 'redis', journaled: false };
  }

  // ---------------------------------------------------------------- recovery

  private onAvailability(up: boolean): void {
    if (up) this.linkUps++;
    if (!up) {
      this.setMode('fallback', this.gateway?.unavailableReason ?? 'Redis unavailable');
      return;
    }
    this.kickResync();
  }

  /** Runs (or re-runs after the current pass) the resync loop; at most one runs at a time. */
  private kickResync(): void {
    this.resyncRequested = true;
    if (this.resyncing || this.closing) return;
    this.resyncing = this.resyncLoop().finally(() => {
      this.resyncing = null;
      if (this.resyncRequested && !this.closing && this.gateway?.available) this.kickResync();
    });
  }

  private async resyncLoop(): Promise<void> {
    const gateway = this.gateway!;
    let delay = RESYNC_RETRY_MIN_MS;
    while (this.resyncRequested && !this.closing) {
      this.resyncRequested = false;
      // Down again: the next `ready` starts over; fallback mode came with the availability event.
      if (!gateway.available) return;
      try {
        await this.resyncOnce();
        delay = RESYNC_RETRY_MIN_MS;
      } catch (err) {
        this.reseeding = false;
        if (!gateway.available) {
          this.setMode('fallback', `recovery interrupted: ${(err as Error).message}`);
          return;
        }
        // Redis answers but a command failed (a timeout below the breaker threshold, an error):
        // try again shortly, with a growing pause so a persistent error does not spin.
        this.resyncRequested = true;
        await sleep(delay);
        delay = Math.min(delay * 2, RESYNC_RETRY_MAX_MS);
      }
    }
  }

  private async resyncOnce(): Promise<void> {
    const gateway = this.gateway!;
    const returning = this.mode !== 'redis';
    // Which connection this pass talks to: if Redis restarts mid-pass, the new one is unchecked.
    const link = this.linkUps;
    // Before anything is replayed or written: the offset to the fleet's clock may have changed.
    await this.measureClock();
    // Still in fallback while asking: reads come from memory, writes are journaled.
    const epoch = await gateway.run((c) => c.get(this.markerKey));
    const emptied = epoch === null || (this.knownEpoch !== null && epochOf(epoch) !== this.knownEpoch);
    // An instance that has seen this deployment's marker (live or in its snapshot) was part of the fleet
    // Redis lost: new claims stay refused until every replica could re-seed (docs/cache.md).
    const windowed = emptied && this.knownEpoch !== null;
    const opened = windowed ? await this.openReseedWindow() : null;
    let candidates: [string, MemoryEntry][] = [];
    if (emptied) {
      // From here until re-seeding is done, keys known in memory are not read from Redis.
      this.reseeding = true;
      candidates = [...this.memory.entries()].filter(([k]) => !this.journal.has(k));
      if (candidates.length > 0) {
        this.emptyRedisDetections++;
        this.logger.warn(
          `Redis came back without this deployment's data (marker ${epoch === null ? 'missing' : 'changed'}): re-seeding ${candidates.length} keys from memory`,
        );
      }
    }
    const work = this.journal.size > 0 || candidates.length > 0;
    if (returning && work) {
      this.setMode('recovering', `replaying ${this.journal.size} journaled writes${candidates.length > 0 ? `, re-seeding ${candidates.length} keys` : ''}`);
    }
    await this.replayJournal();
    await this.logs.replay();
    await this.drainReleases();
    if (emptied) {
      await this.reseed(candidates, windowed);
      await this.logs.reseed();
      this.reseeding = false;
    }
    if (link !== this.linkUps) throw new Error('Redis connection changed during recovery');
    const current = opened ?? epoch ?? (await this.claimEpoch());
    if (link !== this.linkUps) throw new Error('Redis connection changed during recovery');
    this.knownEpoch = epochOf(current);
    if (this.journal.size > 0) {
      // Writes that failed or were journaled during this pass: another pass, same mode.
      this.resyncRequested = true;
      return;
    }
    if (returning && gateway.available) {
      // Invalidations published while we were away were never received.
      this.flushL1();
      this.setMode('redis', work ? 'journal replayed' : 'Redis available');
      this.journalFullWarned = false;
    }
  }

  /** Redis lost the marker (or got another) while this instance stayed connected: recover as after a restart. */
  private async checkMarker(): Promise<void> {
    if (this.mode !== 'redis' || this.resyncing || this.knownEpoch === null) return;
    const marker = await this.gateway!.run((c) => c.get(this.markerKey));
    if (marker === null || epochOf(marker) !== this.knownEpoch) this.kickResync();
  }

  /** A failed measurement keeps the last offset: it must never hold up recovery. */
  private async measureClock(): Promise<void> {
    const gateway = this.gateway!;
    await this.clockOffset.measure(() => gateway.run((c) => c.time())).catch((err: unknown) => this.clockOffset.failed(err));
  }

  /** Opens or extends the fleet's re-seed window (a new epoch if the marker is missing); returns the marker. */
  private openReseedWindow(): Promise<string> {
    const mine = `${this.clock()}-${this.options.instanceId}-${randomBytes(4).toString('hex')}`;
    return this.gateway!.run((c) => c.openReseedWindow(this.markerKey, mine, String(this.options.reseedWindowMs), String(this.clock())));
  }

  /** Cluster: the marker lives in another slot than the key, so the window is checked before the claim. */
  private async clusterClaimsOpen(deadline: number): Promise<boolean> {
    const marker = await this.gateway!.run((c) => c.get(this.markerKey), deadline);
    if (marker === null) return false;
    const bar = marker.indexOf('|');
    return bar < 0 || Number(marker.slice(bar + 1)) <= this.clock();
  }

  /** Withdraws timed-out claims (see claim-release.ts); what fails stays pending for the next try. */
  private async drainReleases(): Promise<void> {
    const gateway = this.gateway!;
    for (const [k, version] of this.releases.entries()) {
      const tomb: StoredRecord = { version, expiresAt: this.clock() + this.options.tombstoneTtlMs, tombstone: true, json: '' };
      try {
        const done = await gateway.run((c) => c.releaseClaim(k, version, encodeRecord(tomb), pxat(tomb), this.publishChannel()));
        if (done === 1) this.releases.withdrawn++;
      } catch (err) {
        // The key holds something no claim script wrote (WRONGTYPE): nothing of ours to withdraw.
        if (!isPoisonError(err)) throw err;
      }
      this.releases.settle(k, version);
    }
  }

  private scheduleReleases(): void {
    if (this.releaseTimer || this.closing) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      if (this.releases.size === 0 || !this.gateway?.available) return; // resync drains them on the way back
      this.drainReleases().then(
        () => (this.releaseDelay = RESYNC_RETRY_MIN_MS),
        () => {
          this.releaseDelay = Math.min(this.releaseDelay * 2, RESYNC_RETRY_MAX_MS);
          this.scheduleReleases();
        },
      );
    }, this.releaseDelay);
    this.releaseTimer.unref();
  }

  /** Sets this deployment's marker unless another instance just did; returns the one in force. */
  private async claimEpoch(): Promise<string> {
    const gateway = this.gateway!;
    const mine = `${this.clock()}-${this.options.instanceId}-${randomBytes(4).toString('hex')}`;
    const set = await gateway.run((c) => c.set(this.markerKey, mine, 'NX'));
    if (set === 'OK') return mine;
    return (await gateway.run((c) => c.get(this.markerKey))) ?? mine;
  }

  /** Compare-and-set every journaled record, then take what Redis now holds into memory. */
  private async replayJournal(): Promise<void> {
    const gateway = this.gateway!;
    this.journal.dropExpired();
    const pending = this.journal.snapshot();
    for (let i = 0; i < pending.length; i += REPLAY_BATCH) {
      if (!gateway.available) throw new Error('Redis went away during replay');
      const batch = pending.slice(i, i + REPLAY_BATCH);
      await Promise.all(
        batch.map(async ([k, rec]) => {
          if (rec.expiresAt !== null && rec.expiresAt <= this.clock()) {
            this.journalSettle(k, rec.version);
            return;
          }
          const result = await this.replayOne(k, rec);
          this.journalSettle(k, rec.version);
          if (result === null) return;
          if (result === 1) {
            // Redis now holds exactly the copy memory has: nothing to reconcile.
            this.replayed++;
            return;
          }
          this.replayRejected++;
          this.hlc.observe(String(result));
          await this.reconcile(k);
        }),
      );
    }
  }

  /** One replayed compare-and-set; null when Redis rejects the entry for good (quarantined). */
  private async replayOne(k: string, rec: StoredRecord): Promise<1 | string | null> {
    const gateway = this.gateway!;
    const args = [k, rec.version, encodeRecord(rec), pxat(rec), this.publishChannel()] as const;
    try {
      return await gateway.run(() => gateway.casSet(...args));
    } catch (err) {
      if (!isPoisonError(err)) throw err;
    }
    // A coalesced batch fails as a whole: only the entry's own script call may condemn it.
    try {
      return await gateway.run((c) => c.casSet(...args));
    } catch (err) {
      if (!isPoisonError(err)) throw err;
      this.quarantine.record(k, err as Error);
      this.journalSettle(k, rec.version);
      await this.reconcile(k).catch(() => this.forget(k));
      return null;
    }
  }

  /**
   * Redis lost the data: write back every copy memory still holds (values and tombstones), with
   * the same compare-and-set, so the newest copy anywhere in the fleet wins and nothing older does.
   */
  private async reseed(entries: [string, MemoryEntry][], windowed: boolean): Promise<void> {
    const gateway = this.gateway!;
    for (let i = 0; i < entries.length; i += REPLAY_BATCH) {
      if (!gateway.available) throw new Error('Redis went away during re-seed');
      // Claims stay refused while any replica is still writing back what it holds.
      if (windowed && i > 0 && i % (REPLAY_BATCH * 16) === 0) await this.openReseedWindow();
      const batch = entries.slice(i, i + REPLAY_BATCH);
      await Promise.all(
        batch.map(async ([k, e]) => {
          if (e.expiresAt !== null && e.expiresAt <= this.clock()) return;
          // A newer local write made since detection already went to Redis (or the journal).
          const current = this.memory.peek(k);
          if (current && current.version > e.version) return;
          const rec: StoredRecord = { version: e.version, expiresAt: e.expiresAt, tombstone: e.tombstone, json: e.json };
          const result = await gateway.run(() => gateway.casSet(k, rec.version, encodeRecord(rec), pxat(rec), this.publishChannel()));
          if (result === 1) {
            this.reseeded++;
            return;
          }
          this.reseedRejected++;
          this.hlc.observe(String(result));
          await this.reconcile(k);
        }),
      );
    }
  }

  /** After a lost CAS, memory holds exactly what Redis holds for the key (unless a newer local write is pending). */
  private async reconcile(k: string): Promise<void> {
    if (this.journal.has(k)) return;
    const raw = await this.gateway!.run((c) => c.get(k));
    const rec = raw === null ? null : decodeRecord(raw);
    if (!rec) this.forget(k);
    else this.mirror(k, rec);
  }

  /** A write that timed out in `redis` mode is replayed without waiting for the next outage. */
  private scheduleDrain(): void {
    if (this.drainTimer || this.closing) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      if (this.gateway?.available && this.journal.size > 0) this.kickResync();
    }, DRAIN_DELAY_MS);
    this.drainTimer.unref();
  }

  private journalRecord(k: string, rec: StoredRecord): void {
    const dropped = this.journal.record(k, rec);
    this.markDirty();
    if (dropped === null || this.journalFullWarned) return;
    this.journalFullWarned = true;
    this.logger.warn(
      `Recovery journal full (${this.journal.capacity} entries, policy ${JOURNAL_POLICY}): the oldest writes not yet in Redis are being dropped and will not be replayed; status.journalDropped counts them`,
    );
  }

  private journalSettle(k: string, version: string): void {
    this.journal.settle(k, version);
    this.markDirty();
  }

  private journalSettleUpTo(k: string, version: string): void {
    if (!this.journal.has(k)) return;
    this.journal.settleUpTo(k, version);
    this.markDirty();
  }

  private setMode(next: CacheMode, reason: string): void {
    const from = this.modeSubject.value;
    if (from === next || this.closing) return;
    this.lastTransitionAt = new Date(this.clock());
    this.transitions++;
    const first = next === 'redis' && !this.everConnected;
    if (next === 'redis') this.everConnected = true;
    const line = first ? `Cache connected to Redis (mode redis)${reason === 'Redis available' ? '' : `: ${reason}`}` : `Cache mode ${from} -> ${next}: ${reason}`;
    this.logOutsideRequest(next === 'fallback' ? 'warn' : 'log', line);
    this.modeSubject.next(next);
    this.transitionSubject.next({ from, to: next, at: this.lastTransitionAt, reason });
  }

  // ---------------------------------------------------------------- L1

  /** L1 answers only in `redis` mode with a live, heartbeat-checked subscription. */
  private l1Serving(): boolean {
    return this.bus !== null && this.bus.isLive && this.modeSubject.value === 'redis';
  }

  private publishChannel(): string {
    return this.options.l1.publish ? this.channel : '';
  }

  private flushL1(): void {
    if (!this.bus) return;
    this.l1Generation++;
    this.l1Flushes++;
  }

  private endRead(k: string): boolean {
    const n = (this.readsInFlight.get(k) ?? 1) - 1;
    const invalidated = this.invalidatedInFlight.has(k);
    if (n <= 0) {
      this.readsInFlight.delete(k);
      this.invalidatedInFlight.delete(k);
    } else this.readsInFlight.set(k, n);
    return invalidated;
  }

  /** Another instance wrote `version`: a local copy older than that is dropped, not just unmarked. */
  private onInvalidate(k: string, version: string): void {
    if (this.readsInFlight.has(k)) this.invalidatedInFlight.add(k);
    const e = this.memory.peek(k);
    if (!e || e.version >= version) return;
    this.hlc.observe(version);
    this.l1Invalidations++;
    // A pending local write stays for replay (its compare-and-set decides); otherwise a copy
    // known to be superseded must not be served later, not even in fallback.
    if (this.journal.has(k)) e.l1 = 0;
    else this.forget(k);
  }

  // ---------------------------------------------------------------- snapshot

  private loadSnapshot(file: SnapshotFile): void {
    const loaded = file.load();
    this.snapshotStatus.load = loaded.state;
    if (loaded.state !== 'ok') {
      this.snapshotStatus.loadError = loaded.reason;
      if (loaded.state === 'missing') this.logger.log(`No cache snapshot at ${file.path} yet: starting empty`);
      else this.logger.warn(`Cache snapshot at ${file.path} ignored (${loaded.state}: ${loaded.reason}); starting without it`);
      return;
    }
    const now = this.clock();
    for (const row of loaded.data.memory) {
      const [k, rec] = fromRow(row);
      if (rec.expiresAt !== null && rec.expiresAt <= now) continue;
      this.hlc.observe(rec.version);
      if (this.memory.set(k, entryOf(rec))) this.snapshotStatus.loadedEntries++;
    }
    for (const row of loaded.data.journal) {
      const [k, rec] = fromRow(row);
      if (rec.expiresAt !== null && rec.expiresAt <= now) continue;
      this.hlc.observe(rec.version);
      this.journal.record(k, rec);
      this.memory.set(k, entryOf(rec));
      this.snapshotStatus.loadedJournal++;
    }
    this.snapshotStatus.loadedJournal += this.logs.load(loaded.data.logs ?? []);
    this.knownEpoch = loaded.data.epoch;
    this.logger.log(
      `Loaded cache snapshot from ${file.path}: ${this.snapshotStatus.loadedEntries} entries, ${this.snapshotStatus.loadedJournal} writes to replay`,
    );
  }

  /** Trailing throttle: a change is on disk within debounceMs even under a steady stream of changes. */
  private markDirty(): void {
    if (!this.snapshotFile || this.closing) return;
    this.snapshotDirty = true;
    if (this.snapshotTimer) return;
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      void this.saveSnapshot();
    }, this.options.snapshot!.debounceMs);
    this.snapshotTimer.unref();
  }

  /** Saves run one after another, so two never race on the rename. */
  private saveSnapshot(): Promise<void> {
    const file = this.snapshotFile!;
    const run = async () => {
      if (!this.snapshotDirty) return;
      this.snapshotDirty = false;
      // References only (fast); the rows are serialised in chunks by the file writer.
      const memory: [string, StoredRecord][] = [...this.memory.entries()];
      const journal = this.journal.snapshot();
      const at = this.clock();
      try {
        this.snapshotStatus.lastSaveBytes = await file.save(this.knownEpoch, memory, journal, at, this.logs.snapshotRows());
        this.snapshotStatus.saves++;
        this.snapshotStatus.lastSavedAt = new Date(at).toISOString();
        this.snapshotStatus.lastSaveError = null;
      } catch (err) {
        this.snapshotDirty = true;
        this.snapshotStatus.saveErrors++;
        const message = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        // One line per failure streak, not one per attempt.
        if (this.snapshotStatus.lastSaveError === null) this.logger.warn(`Cache snapshot not written to ${file.path}: ${message}`);
        this.snapshotStatus.lastSaveError = message;
        if (!this.closing) this.markDirty();
      }
    };
    this.snapshotChain = this.snapshotChain.then(run, run);
    return this.snapshotChain;
  }

  // ---------------------------------------------------------------- memory helpers

  private mirror(k: string, rec: StoredRecord): MemoryEntry | undefined {
    const existing = this.memory.peek(k);
    if (existing?.version === rec.version) return existing;
    if (this.memory.set(k, entryOf(rec))) this.markDirty();
    return this.memory.peek(k);
  }

  private forget(k: string): void {
    if (!this.memory.has(k)) return;
    this.memory.delete(k);
    this.markDirty();
  }

  private fullKey(key: unknown): string {
    if (typeof key !== 'string') throw new CacheValidationError('cache key must be a string');
    if (key.length === 0) throw new CacheValidationError('cache key must not be empty');
    if (key.length > this.options.maxKeyLength) {
      throw new CacheValidationError(`cache key is ${key.length} characters; at most ${this.options.maxKeyLength} allowed`);
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(key)) throw new CacheValidationError('cache key must not contain control characters');
    return this.options.keyPrefix + key;
  }

  private expiryFrom(options: SetOptions): number | null {
    if ('ttlMs' in options) {
      const ttl = options.ttlMs;
      if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
        throw new CacheValidationError('ttlMs must be a positive number of milliseconds');
      }
      return storableExpiry(this.clock() + Math.ceil(ttl), 'ttlMs');
    }
    if ('expiresAt' in options) {
      const at = options.expiresAt instanceof Date ? options.expiresAt.getTime() : options.expiresAt;
      if (typeof at !== 'number' || !Number.isFinite(at)) throw new CacheValidationError('expiresAt must be a Date or epoch milliseconds');
      if (at <= this.clock()) throw new CacheValidationError('expiresAt is in the past');
      return storableExpiry(Math.ceil(at), 'expiresAt');
    }
    return null;
  }
}

/** The latest instant a Date can hold: an exact JS number, well inside what Redis' PXAT takes, so an accepted expiry is never rejected on replay. */
const MAX_EXPIRES_AT = 8.64e15;

function storableExpiry(at: number, field: string): number {
  if (at > MAX_EXPIRES_AT) throw new CacheValidationError(`${field} is too large: the expiry must fall before ${new Date(MAX_EXPIRES_AT).toISOString()}`);
  return at;
}

function serialise(value: unknown): string {
  if (value === undefined) throw new CacheValidationError('value must not be undefined (use delete to remove a key)');
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new CacheValidationError(`value cannot be serialised to JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (json === undefined) throw new CacheValidationError(`value of type ${typeof value} cannot be serialised to JSON`);
  return json;
}

/** Parses lazily and once per version: most mirrored entries are never read from memory. */
function valueOf(e: MemoryEntry): unknown {
  if (e.value === undefined && e.json !== '') e.value = deepFreeze(JSON.parse(e.json));
  return e.value;
}

function resultOf<T>(e: MemoryEntry, source: 'memory'): ReadResult<T> {
  if (e.tombstone) return { state: 'miss', source, version: e.version };
  return { state: 'hit', value: valueOf(e) as T, source, version: e.version, expiresAt: e.expiresAt };
}

function pxat(rec: StoredRecord): string {
  return rec.expiresAt === null ? '0' : String(rec.expiresAt);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
