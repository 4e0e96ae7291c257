import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { BehaviorSubject, Subject, distinctUntilChanged, type Observable, type Subscription } from 'rxjs';
import { MODULE_OPTIONS_TOKEN } from './cache.module-definition.js';
import { resolveCacheOptions, type CacheModuleOptions, type ResolvedCacheOptions } from './cache.options.js';
import { CacheStartupError, CacheValidationError } from './cache.errors.js';
import type {
  CacheMode,
  CacheObserver,
  CacheStatus,
  ModeTransition,
  ReadResult,
  SetOptions,
  WriteResult,
} from './cache.types.js';
import { decodeRecord, encodeRecord, type StoredRecord } from './cache-codec.js';
import { HybridLogicalClock } from './hlc.js';
import { MemoryStore, deepFreeze, type MemoryEntry } from './memory-store.js';
import { RecoveryJournal } from './recovery-journal.js';
import { RedisGateway } from './redis-gateway.js';

/** How long a delete's tombstone outlives it, so an older replayed write cannot resurrect the key. */
const TOMBSTONE_TTL_MS = 60 * 60 * 1000;
const REPLAY_BATCH = 64;

/**
 * Fallback-aware cache: Redis when it is usable, the memory store when it is not, with every
 * operation bounded by the command timeout and nothing written during an outage lost.
 */
@Injectable()
export class CacheService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('CacheService');
  private readonly options: ResolvedCacheOptions;
  private readonly clock: () => number;
  private readonly hlc: HybridLogicalClock;
  private readonly memory: MemoryStore;
  private readonly journal: RecoveryJournal;
  private readonly gateway: RedisGateway | null;
  private readonly modeSubject: BehaviorSubject<CacheMode>;
  private readonly transitionSubject = new Subject<ModeTransition>();
  private lastTransitionAt = new Date();
  private transitions = 0;
  private replayed = 0;
  private replayRejected = 0;
  private recovery: Promise<void> | null = null;
  private availabilitySub: Subscription | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private observer: CacheObserver | null = null;

  constructor(@Inject(MODULE_OPTIONS_TOKEN) options: CacheModuleOptions) {
    this.options = resolveCacheOptions(options, () => randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 8));
    this.clock = this.options.clock;
    this.hlc = new HybridLogicalClock(this.options.instanceId, this.clock);
    this.journal = new RecoveryJournal({ maxEntries: this.options.memory.maxEntries }, this.clock);
    this.memory = new MemoryStore(this.options.memory, this.clock, (k) => this.journal.has(k));
    this.gateway = this.options.redis ? new RedisGateway(this.options) : null;
    this.modeSubject = new BehaviorSubject<CacheMode>(this.gateway ? 'fallback' : 'memory');
  }

  async onModuleInit(): Promise<void> {
    this.sweepTimer = setInterval(() => {
      this.memory.sweepExpired();
      this.journal.dropExpired();
    }, 30_000);
    this.sweepTimer.unref();
    if (!this.gateway) {
      this.logger.log('No Redis configured: serving from the embedded memory store (mode memory)');
      return;
    }
    this.availabilitySub = this.gateway.available$.subscribe((up) => this.onAvailability(up));
    this.gateway.start();
    if (this.options.requireRedisOnStartup) {
      try {
        await this.gateway.waitUntilAvailable(this.options.connectTimeoutMs);
      } catch (err) {
        throw new CacheStartupError(`Redis is required at start-up but not reachable: ${(err as Error).message}`);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.availabilitySub?.unsubscribe();
    if (this.recovery) await this.recovery.catch(() => undefined);
    if (this.gateway) await this.gateway.close();
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
    try {
      await this.gateway.waitUntilAvailable(timeoutMs);
      return true;
    } catch {
      return false;
    }
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

  private async readKey<T>(k: string): Promise<ReadResult<T>> {
    if (!this.gateway) return this.fromMemory<T>(k, true);
    if (!this.redisUsableFor(k)) return this.fromMemory<T>(k, false);
    let raw: string | null;
    try {
      raw = await this.gateway.run((c) => c.get(k));
    } catch {
      return this.fromMemory<T>(k, false);
    }
    if (raw === null) {
      if (!this.journal.has(k)) this.memory.delete(k);
      return { state: 'miss', source: 'redis' };
    }
    const rec = decodeRecord(raw);
    if (!rec) return { state: 'miss', source: 'redis' };
    this.hlc.observe(rec.version);
    const entry = this.mirror(k, rec);
    if (rec.tombstone) return { state: 'miss', source: 'redis' };
    return { state: 'hit', value: valueOf(entry) as T, source: 'redis', version: rec.version, expiresAt: rec.expiresAt };
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<WriteResult> {
    const k = this.fullKey(key);
    const json = serialise(value);
    const expiresAt = this.expiryFrom(options);
    return this.write(k, { version: this.hlc.next(), expiresAt, tombstone: false, json });
  }

  async delete(key: string): Promise<WriteResult> {
    const k = this.fullKey(key);
    return this.write(k, {
      version: this.hlc.next(),
      expiresAt: this.clock() + TOMBSTONE_TTL_MS,
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
      lastError: this.gateway?.lastError ?? null,
      lastTransitionAt: this.lastTransitionAt.toISOString(),
      transitions: this.transitions,
      reconnectAttempts: this.gateway?.reconnectAttempts ?? 0,
      instanceId: this.options.instanceId,
    };
  }

  private async write(k: string, rec: StoredRecord): Promise<WriteResult> {
    if (!this.observer) return this.writeRecord(k, rec);
    const t0 = performance.now();
    const r = await this.writeRecord(k, rec);
    this.observer.operation(rec.tombstone ? 'delete' : 'set', r.journaled ? 'journaled' : 'ok', r.store, performance.now() - t0);
    return r;
  }

  private async writeRecord(k: string, rec: StoredRecord): Promise<WriteResult> {
    this.mirror(k, rec);
    if (!this.gateway) return { version: rec.version, store: 'memory', journaled: false };
    if (!this.gateway.available || this.mode === 'fallback') {
      this.journal.record(k, rec);
      return { version: rec.version, store: 'memory', journaled: true };
    }
    try {
      const version = await this.casWrite(k, rec);
      return { version, store: 'redis', journaled: false };
    } catch {
      // Failed or timed out: the write may or may not have landed, so replay decides by version.
      this.journal.record(k, rec);
      return { version: rec.version, store: 'memory', journaled: true };
    }
  }

  /**
   * A live write is the newest thing the caller knows, so if Redis holds a version from a clock
   * that runs ahead, the write moves past it once rather than being dropped.
   */
  private async casWrite(k: string, rec: StoredRecord): Promise<string> {
    const gateway = this.gateway!;
    // One deadline for both attempts: a live write never waits longer than one command timeout.
    const deadline = performance.now() + this.options.commandTimeoutMs;
    const first = await gateway.run((c) => c.casSet(k, rec.version, encodeRecord(rec), pxat(rec)), deadline);
    if (first === 1) return rec.version;
    this.hlc.observe(String(first));
    const bumped = { ...rec, version: this.hlc.next() };
    this.mirror(k, bumped);
    const second = await gateway.run((c) => c.casSet(k, bumped.version, encodeRecord(bumped), pxat(bumped)), deadline);
    if (second !== 1) this.memory.delete(k);
    return bumped.version;
  }

  private onAvailability(up: boolean): void {
    if (!up) {
      this.setMode('fallback', this.gateway?.lastError ?? 'Redis unavailable');
      return;
    }
    if (this.journal.size === 0 && !this.recovery) {
      this.setMode('redis', 'Redis available');
      return;
    }
    this.startRecovery();
  }

  private startRecovery(): void {
    if (this.recovery) return;
    this.setMode('recovering', `replaying ${this.journal.size} journaled writes`);
    this.recovery = this.replayJournal()
      .then(() => {
        if (this.gateway?.available) this.setMode('redis', 'journal replayed');
      })
      .catch((err: Error) => {
        this.setMode('fallback', `replay interrupted: ${err.message}`);
      })
      .finally(() => {
        this.recovery = null;
        // A write journaled while the last batch was in flight, or Redis back again already.
        if (this.gateway?.available && this.journal.size > 0) this.startRecovery();
      });
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
            this.journal.settle(k, rec.version);
            return;
          }
          const result = await gateway.run((c) => c.casSet(k, rec.version, encodeRecord(rec), pxat(rec)));
          if (result === 1) this.replayed++;
          else {
            this.replayRejected++;
            this.hlc.observe(String(result));
          }
          this.journal.settle(k, rec.version);
          await this.reconcile(k);
        }),
      );
    }
  }

  /** After replay, memory holds exactly what Redis holds for the key (unless a newer local write is pending). */
  private async reconcile(k: string): Promise<void> {
    if (this.journal.has(k)) return;
    const raw = await this.gateway!.run((c) => c.get(k));
    const rec = raw === null ? null : decodeRecord(raw);
    if (!rec) this.memory.delete(k);
    else this.mirror(k, rec);
  }

  private setMode(next: CacheMode, reason: string): void {
    const from = this.modeSubject.value;
    if (from === next) return;
    this.lastTransitionAt = new Date(this.clock());
    this.transitions++;
    const line = `Cache mode ${from} -> ${next}: ${reason}`;
    if (next === 'fallback') this.logger.warn(line);
    else this.logger.log(line);
    this.modeSubject.next(next);
    this.transitionSubject.next({ from, to: next, at: this.lastTransitionAt, reason });
  }

  private redisUsableFor(k: string): boolean {
    if (!this.gateway!.available) return false;
    const mode = this.mode;
    if (mode === 'fallback') return false;
    // While replaying, a key with a journaled write is newer in memory than in Redis.
    return !(mode === 'recovering' && this.journal.has(k));
  }

  private fromMemory<T>(k: string, authoritative: boolean): ReadResult<T> {
    const e = this.memory.get(k);
    if (!e) return { state: authoritative ? 'miss' : 'unavailable', source: 'none' };
    if (e.tombstone) return { state: 'miss', source: 'memory', version: e.version };
    return { state: 'hit', value: valueOf(e) as T, source: 'memory', version: e.version, expiresAt: e.expiresAt };
  }

  private mirror(k: string, rec: StoredRecord): MemoryEntry | undefined {
    const existing = this.memory.peek(k);
    if (existing?.version === rec.version) return existing;
    this.memory.set(k, { ...rec, value: undefined });
    return this.memory.peek(k);
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
      return this.clock() + Math.ceil(ttl);
    }
    if ('expiresAt' in options) {
      const at = options.expiresAt instanceof Date ? options.expiresAt.getTime() : options.expiresAt;
      if (typeof at !== 'number' || !Number.isFinite(at)) throw new CacheValidationError('expiresAt must be a Date or epoch milliseconds');
      if (at <= this.clock()) throw new CacheValidationError('expiresAt is in the past');
      return Math.ceil(at);
    }
    return null;
  }
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

/** Parses lazily and once: most mirrored entries are never read from memory. */
function valueOf(e: MemoryEntry | undefined): unknown {
  if (!e) return undefined;
  if (e.value === undefined && e.json !== '') e.value = deepFreeze(JSON.parse(e.json));
  return e.value;
}

function pxat(rec: StoredRecord): string {
  return rec.expiresAt === null ? '0' : String(rec.expiresAt);
}
