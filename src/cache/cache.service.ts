import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { NEVER, distinctUntilChanged, filter, firstValueFrom, map, of, timeout, type BehaviorSubject, type Observable } from 'rxjs';
import { MODULE_OPTIONS_TOKEN } from './cache.module-definition.js';
import { resolveCacheOptions, type CacheModuleOptions, type ResolvedCacheOptions } from './core/cache.options.js';
import { CacheClockNotSyncedError, CacheStartupError, CacheValidationError } from './core/cache.errors.js';
import type { CacheMode, ClaimResult, CacheObserver, CacheStatus, ModeTransition, ReadResult, SetOptions, WriteOptions, WriteResult } from './core/cache.types.js';
import type { StoredRecord } from './core/cache-codec.js';
import { CACHE_GATEWAY, type CacheGateway } from './redis/cache-gateway.js';
import type { CommandExecutor } from './redis/command-executor.js';
import { serialise, type CacheKeys } from './core/cache-keys.js';
import type { CacheStack } from './engine/cache-stack.js';
import type { HybridLogicalClock } from './core/hlc.js';
import type { LocalStack } from './local/local-stack.js';
import { CacheEngine } from './engine/engine.js';
import { statusOf } from './cache-status.js';
import type { CacheCore } from './api/cache-core.js';
import { CacheNamespace, checkNamespace, NAMESPACE_SEPARATOR, type CacheApi } from './api/cache-namespace.js';
import { clear, type ClearResult } from './api/clear.js';
import { listKeys } from './api/list-keys.js';
import { coreAdapter } from './api/core-adapter.js';
import { GetOrSet, type GetOrSetOptions } from './api/get-or-set.js';
import { update, type UpdateOptions, type UpdateResult } from './api/update.js';
import type { AppendLog, AppendLogStatus, LogLimits, LogReadOptions, LogReadResult } from './engine/append-log.js';
import type { WindowCounters, CounterHit } from './engine/atomic-counter.js';
import type { SlidingWindows, SlotAnswer } from './engine/sliding-window.js';

/**
 * The cache's public API, a facade on the stack: Redis when it is usable, the memory store when it
 * is not, with every operation bounded by the command timeout and nothing written during an
 * outage lost. The layers (docs/cache.md): CacheEngine builds and wires the parts: CacheStack (one
 * operation through L1, Redis, memory and journal), RecoveryMachine (modes, resync), LocalStack
 * (memory, journal, snapshot), NearCache (L1). The facade holds no rules of its own about where a
 * read or write goes.
 */
@Injectable()
export class CacheService implements CacheApi, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('CacheService');
  private readonly options: ResolvedCacheOptions;
  /** Builds and wires every part (engine/engine.ts); the facade keeps the ones its operations use. */
  private readonly engine: CacheEngine;
  private readonly clock: () => number;
  private readonly logs: AppendLog;
  private readonly hlc: HybridLogicalClock;
  private readonly keys: CacheKeys;
  private readonly local: LocalStack;
  private readonly gateway: CacheGateway | null;
  private readonly counters: WindowCounters;
  private readonly windows: SlidingWindows;
  private readonly stack: CacheStack;
  private readonly modeSubject: BehaviorSubject<CacheMode>;
  private readonly core: CacheCore & { now(): number };
  private readonly getOrSetter: GetOrSet;
  /** The core a durable `update` runs on: each write it makes also goes to the write-ahead file. */
  private readonly durableCore: CacheCore & { now(): number };
  private observer: CacheObserver | null = null;
  private closing = false;

  constructor(options: CacheModuleOptions);
  /** @internal The executor is the project's test seam; its type is not in the package's. */
  constructor(options: CacheModuleOptions, executor?: CommandExecutor | null);
  constructor(
    @Inject(MODULE_OPTIONS_TOKEN) options: CacheModuleOptions,
    /** An executor in place of the RedisGateway the options describe (tests: a fault wrapper around one). */
    @Optional() @Inject(CACHE_GATEWAY) executor?: CommandExecutor | null,
  ) {
    this.options = resolveCacheOptions(options, () => randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 8));
    this.engine = new CacheEngine(this.options, { executor, logger: this.logger });
    const e = this.engine;
    [this.clock, this.hlc, this.keys, this.local, this.gateway, this.stack] = [e.clock, e.hlc, e.keys, e.local, e.gateway, e.stack];
    [this.modeSubject, this.logs, this.counters, this.windows] = [e.modeSubject, e.logs, e.counters, e.windows];
    const ops = {
      read: <T>(k: string) => this.readFull<T>(k),
      set: (k: string, value: unknown, o: SetOptions) => this.setFull(k, value, o),
      delete: (k: string) => this.deleteFull(k, NO_OPTIONS),
      // getOrSet's locks: short-lived, released by their holder, not worth a disk write each.
      claim: <T>(k: string, value: T, o: SetOptions) => this.claimFull(k, value, o, false),
      write: (k: string, rec: StoredRecord) => this.write(k, rec),
    };
    this.core = coreAdapter(ops, this.stack, this.keys, this.hlc, this.gateway, { ...this.options, clock: this.clock });
    this.getOrSetter = new GetOrSet(this.core);
    this.durableCore = {
      ...this.core,
      write: (k, rec) => this.core.write(k, rec).then((r) => this.durable(k, rec, r)),
      writeIfVersion: (k, expected, rec) =>
        this.core.writeIfVersion(k, expected, rec).then((r) => {
          if (r === 1) this.local.durable(k, rec);
          return r;
        }),
    };
  }

  async onModuleInit(): Promise<void> {
    this.engine.start();
    if (this.gateway && this.options.requireRedisOnStartup) {
      try {
        await this.gateway.waitUntilAvailable(this.options.connectTimeoutMs);
      } catch (err) {
        throw new CacheStartupError(`Redis is required at start-up but not reachable: ${(err as Error).message}`);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.engine.close();
  }

  /** Current mode and every later change. */
  get mode$(): Observable<CacheMode> {
    return this.modeSubject.pipe(distinctUntilChanged());
  }

  get transitions$(): Observable<ModeTransition> {
    return this.engine.recovery?.transitions$.asObservable() ?? NEVER;
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

  get<T>(key: string): Promise<T | undefined> {
    const k = this.keys.fullOrReject(key);
    return typeof k === 'string' ? this.readFull<T>(k).then(valueOfResult) : k;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.read(key)).state === 'hit';
  }

  read<T>(key: string): Promise<ReadResult<T>> {
    const k = this.keys.fullOrReject(key);
    return typeof k === 'string' ? this.readFull<T>(k) : k;
  }

  set(key: string, value: unknown, options: SetOptions = NO_OPTIONS): Promise<WriteResult> {
    const k = this.keys.fullOrReject(key);
    return typeof k === 'string' ? this.setFull(k, value, options) : k;
  }

  /**
   * Atomic claim of a key across every instance sharing Redis (idempotency keys, one-time states).
   * `claimed`: this call wrote the value. `exists`: the key already holds a value (returned).
   * `unknown`: Redis could not be asked (or the claim timed out) and memory does not hold the key;
   * nothing was written, the caller decides whether to proceed without the guarantee.
   * `authoritative` is false when the answer comes from this instance's memory alone.
   * A granted claim is durable (write-ahead file) unless `durable: false`.
   */
  setIfAbsent<T>(key: string, value: T, options: SetOptions = NO_OPTIONS): Promise<ClaimResult<T>> {
    const k = this.keys.fullOrReject(key);
    return typeof k === 'string' ? this.claimFull(k, value, options, options.durable !== false) : k;
  }

  delete(key: string, options: WriteOptions = NO_OPTIONS): Promise<WriteResult> {
    const k = this.keys.fullOrReject(key);
    return typeof k === 'string' ? this.deleteFull(k, options) : k;
  }

  /**
   * The cached value, or the factory's (stored) when there is none or it is stale: one factory
   * call per key at a time here, optionally across instances; grace and timeout in api/get-or-set.ts.
   */
  async getOrSet<T>(key: string, factory: () => T | Promise<T>, options: GetOrSetOptions = {}): Promise<T> {
    return this.getOrSetter.run(this.keys.full(key), factory, options);
  }

  /** Read-modify-write that writes only if the version read is still current; see api/update.ts. */
  async update<T>(key: string, fn: (current: T | undefined) => T, options: UpdateOptions = {}): Promise<UpdateResult<T>> {
    if (typeof fn !== 'function') throw new CacheValidationError('update needs a function from the current value to the new one');
    const k = this.keys.full(key);
    if (options.requireFleetClock === true) this.checkFleetClock();
    return update(options.durable === true ? this.durableCore : this.core, k, fn, options);
  }

  /** Values of many keys in one call (coalesced into MGETs under load); undefined where absent. */
  async mget<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return Promise.all(this.keys.fullMany(keys).map(async (k) => (await this.readFull<T>(k)).value));
  }

  async deleteMany(keys: readonly string[]): Promise<WriteResult[]> {
    return Promise.all(this.keys.fullMany(keys).map((k) => this.deleteFull(k, NO_OPTIONS)));
  }

  /** Deletes every key of a namespace (all keys of this cache when none is given), never blocking Redis. */
  async clear(namespace?: string): Promise<ClearResult> {
    const prefix = namespace === undefined ? this.options.keyPrefix : this.keys.full(checkNamespace(namespace)) + NAMESPACE_SEPARATOR;
    return clear(this.core, prefix);
  }

  /** The keys of a namespace (all keys of this cache when none is given) in batches, never blocking Redis. */
  listKeys(namespace?: string): AsyncIterable<string[]> {
    const prefix = namespace === undefined ? this.options.keyPrefix : this.keys.full(checkNamespace(namespace)) + NAMESPACE_SEPARATOR;
    return listKeys(this.core, prefix, this.options.keyPrefix.length);
  }

  /** A scoped view: keys `<prefix>:<key>`, same semantics, `clear()` deletes only its keys. */
  namespace(prefix: string): CacheApi {
    return new CacheNamespace(this, checkNamespace(prefix));
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
    return this.counters.increment(this.keys.full(key), windowMs);
  }

  /** A slot of at most `limit` per sliding `windowMs`, fleet-wide; null while Redis is not usable. See sliding-window.ts. */
  takeWindowSlot(key: string, windowMs: number, limit: number): Promise<SlotAnswer | null> {
    return this.windows.take(this.keys.full(key), windowMs, limit);
  }

  /** Fills that window for `blockMs` on every instance (a third party's Retry-After); false while Redis is not usable. */
  blockWindow(key: string, windowMs: number, limit: number, blockMs: number): Promise<boolean> {
    return this.windows.block(this.keys.full(key), windowMs, limit, blockMs);
  }

  getStatus(): CacheStatus {
    return statusOf({ mode: this.mode, createdAt: this.createdAt, ...this.engine.statusSources() });
  }

  private readonly createdAt = new Date();

  // Not async when there is no observer: each async layer costs a promise and microtask hops on
  // the hot path (the 1-in-flight target is a ratio to raw ioredis).
  private readFull<T>(k: string): Promise<ReadResult<T>> {
    return this.observer ? this.observedRead<T>(k, this.observer) : this.stack.read<T>(k);
  }

  private async observedRead<T>(k: string, observer: CacheObserver): Promise<ReadResult<T>> {
    const t0 = performance.now();
    const r = await this.stack.read<T>(k);
    observer.operation('read', r.state, r.source, performance.now() - t0);
    return r;
  }

  /** Bad input rejects the returned promise (as from an async method). */
  private setFull(k: string, value: unknown, options: SetOptions): Promise<WriteResult> {
    let rec: StoredRecord;
    try {
      rec = { version: '', expiresAt: null, tombstone: false, json: serialise(value) };
      if (options !== NO_OPTIONS) {
        rec.expiresAt = this.keys.expiryFrom(options);
        if (options.requireFleetClock === true) this.checkFleetClock();
      }
    } catch (err) {
      return Promise.reject(err);
    }
    rec.version = this.hlc.next();
    if (options.durable === true) return this.write(k, rec).then((r) => this.durable(k, rec, r));
    return this.write(k, rec);
  }

  private async claimFull<T>(k: string, value: T, options: SetOptions, durable: boolean): Promise<ClaimResult<T>> {
    const expiresAt = this.keys.expiryFrom(options);
    if (options.requireFleetClock === true) this.checkFleetClock();
    const rec: StoredRecord = { version: this.hlc.next(), expiresAt, tombstone: false, json: serialise(value) };
    const r = await this.stack.claim<T>(k, rec);
    // The claim may have moved past a tombstone from a clock ahead (claims.ts): the version granted counts.
    if (durable && r.state === 'claimed') this.local.durable(k, { ...rec, version: r.version ?? rec.version });
    return r;
  }

  private deleteFull(k: string, options: WriteOptions): Promise<WriteResult> {
    if (options.requireFleetClock === true) {
      try {
        this.checkFleetClock();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const rec: StoredRecord = { version: this.hlc.next(), expiresAt: this.clock() + this.options.tombstoneTtlMs, tombstone: true, json: '' };
    if (options.durable === true) return this.write(k, rec).then((r) => this.durable(k, rec, r));
    return this.write(k, rec);
  }

  /** A write the caller marked durable: on this instance's disk before the caller hears of it. */
  private durable(k: string, rec: StoredRecord, r: WriteResult): WriteResult {
    // A write retried past a newer version from a clock ahead (CacheStack.retry) landed as r.version.
    this.local.durable(k, r.version === rec.version ? rec : { ...rec, version: r.version });
    return r;
  }

  /**
   * Versions order writes across the fleet only when stamped by the fleet's clock: not before Redis'
   * TIME was read, nor while versions this instance stamped by its host clock before then still run
   * ahead of it (docs/cache.md, "Clock"). Memory mode has no fleet to order against.
   */
  private checkFleetClock(): void {
    if (this.gateway === null) return;
    if (!this.engine.clockOffset.measured) {
      throw new CacheClockNotSyncedError(
        "This instance has not read Redis' clock since it started (Redis has not been reachable), so it cannot order this write against the other replicas' writes; nothing was written. Retry once Redis is reachable (see /health/ready).",
      );
    }
    const ahead = this.hlc.wallMs - this.clock();
    if (ahead > FLEET_CLOCK_TOLERANCE_MS) {
      throw new CacheClockNotSyncedError(
        `This instance stamped writes by its own clock before it could read Redis' clock, and those run ${Math.ceil(ahead / 1000)} s ahead of the fleet's; nothing was written. Retry in ${Math.ceil(ahead / 1000)} s.`,
      );
    }
  }

  private write(k: string, rec: StoredRecord): Promise<WriteResult> {
    return this.observer ? this.observedWrite(k, rec, this.observer) : this.stack.write(k, rec);
  }

  private async observedWrite(k: string, rec: StoredRecord, observer: CacheObserver): Promise<WriteResult> {
    const t0 = performance.now();
    const r = await this.stack.write(k, rec);
    observer.operation(rec.tombstone ? 'delete' : 'set', r.journaled ? 'journaled' : 'ok', r.store, performance.now() - t0);
    return r;
  }
}

/** The default options, one object for every call rather than a new `{}` per write. */
const NO_OPTIONS: SetOptions = Object.freeze({});

/** How far versions may run ahead of the fleet clock (other replicas' offsets are measured to ms). */
const FLEET_CLOCK_TOLERANCE_MS = 1_000;

function valueOfResult<T>(r: ReadResult<T>): T | undefined {
  return r.value;
}
