/** Options of the cache as a library: no environment variables here, the app maps its config. */
import { CacheValidationError } from './cache.errors.js';
import { isUsableRedisUrl, REDIS_URL_WANTS } from './redis-url.js';

export interface RedisTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Defaults to true; only a test against a throwaway CA should ever turn it off. */
  rejectUnauthorized?: boolean;
}

export interface HostPort {
  host: string;
  port: number;
}

interface RedisAuth {
  username?: string;
  password?: string;
  tls?: RedisTlsFiles;
}

export type RedisTarget =
  | ({ kind: 'standalone'; url?: string; host?: string; port?: number; db?: number } & RedisAuth)
  | ({
      kind: 'sentinel';
      sentinels: HostPort[];
      masterName: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
      db?: number;
    } & RedisAuth)
  | ({ kind: 'cluster'; nodes: HostPort[] } & RedisAuth);

export interface CacheModuleOptions {
  /** Where Redis is; `null` runs the embedded memory store only (`memory` mode). */
  redis: RedisTarget | null;
  keyPrefix?: string;
  /** No Redis command waits longer than this. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /**
   * `silenceFloorMs` (default 25): while commands wait, Redis sending nothing for the larger of this
   * and 4x the longest gap seen in the last 10-20 s opens the breaker at once (docs/cache.md,
   * "Silence is a hang"); at or above commandTimeoutMs only timeouts open it.
   */
  breaker?: { failureThreshold?: number; halfOpenAfterMs?: number; halfOpenAfterMaxMs?: number; silenceFloorMs?: number };
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number };
  memory?: { maxEntries?: number; maxBytes?: number };
  /**
   * Writes Redis has not confirmed, kept for replay. When full, the entry with the oldest version
   * is dropped (policy `drop-oldest`), counted in status and warned about once per outage.
   * Defaults to memory.maxEntries.
   */
  journal?: { maxEntries?: number };
  /** How long a delete's tombstone lives (ms); longer than the longest outage you want to survive. */
  tombstoneTtlMs?: number;
  /** Near-cache in `redis` mode, kept coherent across instances by pub/sub invalidations. */
  l1?: {
    enabled?: boolean;
    /** The subscriber connection is PINGed this often; a silent one is reconnected and L1 flushed. */
    heartbeatMs?: number;
    /**
     * Publish invalidations on every write (default: same as enabled). Every instance sharing the
     * prefix must publish if any uses L1; an ACL user then needs PUBLISH on `&<prefix>*`.
     */
    publish?: boolean;
  };
  /** Encrypted file copy of the memory store and journal, so a restart during an outage loses nothing. */
  snapshot?: {
    path: string;
    /** AES-256 key: 32 bytes, as a Buffer or base64. */
    key: string | Buffer;
    /** A change is on disk at most this long after it was made. */
    debounceMs?: number;
    /**
     * fdatasync each durable write (write-ahead file), so it also survives a crash of the machine,
     * not only of the process; costs a disk flush per durable write (BENCHMARKS.md). Default false.
     */
    fsyncDurableWrites?: boolean;
  } | null;
  /** Fail start-up when Redis cannot be reached within connectTimeoutMs. */
  requireRedisOnStartup?: boolean;
  /** Part of every write's version; defaults to a random id per process. */
  instanceId?: string;
  maxKeyLength?: number;
  /**
   * Above this many commands in flight, concurrent GETs and CAS writes are coalesced (MGET,
   * multi-key CAS). A batch answers all its callers at once, after its last key, which raises the
   * tail latency of small bursts; from this concurrency on the saved commands win. Default 16.
   */
  batchFromInFlight?: number;
  /**
   * After Redis comes back empty, claims (setIfAbsent) of keys Redis does not hold are refused
   * for this long, so every live replica can reconnect and re-seed what it holds first.
   * Default: 10 x reconnect.maxDelayMs + breaker.halfOpenAfterMaxMs, at least 5 s.
   */
  reseedWindowMs?: number;
  /** Wall clock in ms; injectable so tests can move time (or skew one instance). */
  clock?: () => number;
  /**
   * Monotonic ms (default performance.now): between two measurements of Redis' TIME the fleet
   * time advances on it, so a step of the wall clock cannot reorder writes. Tests that move
   * `clock` by hand move this one too.
   */
  monotonicClock?: () => number;
  /**
   * Writes are stamped with this clock corrected by its offset to Redis' TIME, measured on every
   * connect and every `clockSyncIntervalMs` (default 30 s). An offset above `maxClockSkewMs`
   * (default 60 s) is still corrected but reported: status, health, a metric and one log line.
   */
  clockSyncIntervalMs?: number;
  maxClockSkewMs?: number;
}

export interface ResolvedSnapshotOptions {
  path: string;
  key: Buffer;
  debounceMs: number;
  fsyncDurableWrites: boolean;
}

export type ResolvedCacheOptions = Required<
  Omit<CacheModuleOptions, 'instanceId' | 'breaker' | 'reconnect' | 'memory' | 'journal' | 'l1' | 'snapshot'>
> & {
  instanceId: string;
  breaker: Required<NonNullable<CacheModuleOptions['breaker']>>;
  reconnect: Required<NonNullable<CacheModuleOptions['reconnect']>>;
  memory: Required<NonNullable<CacheModuleOptions['memory']>>;
  journal: Required<NonNullable<CacheModuleOptions['journal']>>;
  l1: Required<NonNullable<CacheModuleOptions['l1']>>;
  snapshot: ResolvedSnapshotOptions | null;
};

/** A snapshot key that is not 32 bytes is a configuration mistake, not a runtime condition. */
export function snapshotKey(key: string | Buffer): Buffer {
  const buf = typeof key === 'string' ? Buffer.from(key, 'base64') : key;
  if (buf.length !== 32 || (typeof key === 'string' && buf.toString('base64') !== key.trim())) {
    throw new Error('cache snapshot key must be 32 bytes (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)');
  }
  return buf;
}

export function resolveCacheOptions(o: CacheModuleOptions, randomId: () => string): ResolvedCacheOptions {
  if (o.redis?.kind === 'standalone' && o.redis.url !== undefined && !isUsableRedisUrl(o.redis.url)) {
    throw new CacheValidationError(`redis.url must be ${REDIS_URL_WANTS} (the URL is not shown: it may hold a password)`);
  }
  return {
    redis: o.redis,
    keyPrefix: o.keyPrefix ?? 'tb:',
    commandTimeoutMs: o.commandTimeoutMs ?? 250,
    connectTimeoutMs: o.connectTimeoutMs ?? 2_000,
    breaker: {
      failureThreshold: o.breaker?.failureThreshold ?? 3,
      halfOpenAfterMs: o.breaker?.halfOpenAfterMs ?? 500,
      halfOpenAfterMaxMs: o.breaker?.halfOpenAfterMaxMs ?? 5_000,
      silenceFloorMs: o.breaker?.silenceFloorMs ?? 25,
    },
    reconnect: {
      baseDelayMs: o.reconnect?.baseDelayMs ?? 50,
      maxDelayMs: o.reconnect?.maxDelayMs ?? 500,
    },
    memory: { maxEntries: o.memory?.maxEntries ?? 50_000, maxBytes: o.memory?.maxBytes ?? 64 * 1024 * 1024 },
    journal: { maxEntries: o.journal?.maxEntries ?? o.memory?.maxEntries ?? 50_000 },
    tombstoneTtlMs: o.tombstoneTtlMs ?? 60 * 60 * 1000,
    l1: {
      enabled: o.l1?.enabled ?? false,
      heartbeatMs: o.l1?.heartbeatMs ?? 1_000,
      publish: o.l1?.publish ?? o.l1?.enabled ?? false,
    },
    snapshot: o.snapshot
      ? {
          path: o.snapshot.path,
          key: snapshotKey(o.snapshot.key),
          debounceMs: o.snapshot.debounceMs ?? 1_000,
          fsyncDurableWrites: o.snapshot.fsyncDurableWrites ?? false,
        }
      : null,
    requireRedisOnStartup: o.requireRedisOnStartup ?? false,
    instanceId: o.instanceId ?? randomId(),
    maxKeyLength: o.maxKeyLength ?? 512,
    batchFromInFlight: o.batchFromInFlight ?? 16,
    clock: o.clock ?? Date.now,
    monotonicClock: o.monotonicClock ?? (() => performance.now()),
    clockSyncIntervalMs: o.clockSyncIntervalMs ?? 30_000,
    maxClockSkewMs: o.maxClockSkewMs ?? 60_000,
    reseedWindowMs:
      o.reseedWindowMs ?? Math.max(5_000, 10 * (o.reconnect?.maxDelayMs ?? 500) + (o.breaker?.halfOpenAfterMaxMs ?? 5_000)),
  };
}
