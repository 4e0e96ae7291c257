/** Options of the cache as a library: no environment variables here, the app maps its config. */
import { z } from 'zod';
import { parseModuleOptions } from '../../common/module-options.js';
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

const SNAPSHOT_KEY_WANTS = '32 bytes, as a Buffer or base64 (e.g. `openssl rand -base64 32`)';
const isSnapshotKey = (key: string | Buffer): boolean => {
  try {
    snapshotKey(key);
    return true;
  } catch {
    return false;
  }
};

const ms = (wants: string) => z.number({ error: wants }).int({ error: wants }).min(0, { error: wants });
const positive = (wants: string) => z.number({ error: wants }).int({ error: wants }).min(1, { error: wants });
const port = z.number({ error: 'a port from 1 to 65535' }).int().min(1).max(65535);
const hostPort = z.object({ host: z.string().min(1, { error: 'a host name' }), port }).strict();
const fn = (wants: string) => z.custom<() => number>((v) => typeof v === 'function', { error: wants });
const tls = z
  .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional(), rejectUnauthorized: z.boolean().optional() })
  .strict()
  .optional();
const auth = { username: z.string().optional(), password: z.string().optional(), tls };
const db = z.number({ error: 'a database number of 0 or more' }).int().min(0).optional();

const redisTarget = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        kind: z.literal('standalone'),
        // The message never shows the URL: it may hold a password.
        url: z.string().refine(isUsableRedisUrl, { error: REDIS_URL_WANTS }).optional(),
        host: z.string().min(1).optional(),
        port: port.optional(),
        db,
        ...auth,
      })
      .strict(),
    z
      .object({
        kind: z.literal('sentinel'),
        sentinels: z.array(hostPort).min(1, { error: 'at least one sentinel' }),
        masterName: z.string().min(1, { error: 'the master name the sentinels know' }),
        sentinelUsername: z.string().optional(),
        sentinelPassword: z.string().optional(),
        db,
        ...auth,
      })
      .strict(),
    z.object({ kind: z.literal('cluster'), nodes: z.array(hostPort).min(1, { error: 'at least one cluster node' }), ...auth }).strict(),
  ],
  { error: "a target of kind 'standalone', 'sentinel' or 'cluster', or null for memory only" },
);

const MS = 'a whole number of milliseconds, 0 or more';
const COUNT = 'a whole number of at least 1';
const TIMEOUT = 'a whole number of milliseconds, at least 1';

/** The options, validated; defaults that depend on other options are filled in by resolveCacheOptions. */
const cacheOptionsSchema = z
  .object({
    redis: redisTarget.nullable().default(null),
    keyPrefix: z.string({ error: 'a string' }).default('tb:'),
    commandTimeoutMs: positive(TIMEOUT).default(250),
    connectTimeoutMs: positive(TIMEOUT).default(2_000),
    breaker: z
      .object({
        failureThreshold: positive(COUNT).default(3),
        halfOpenAfterMs: positive(TIMEOUT).default(500),
        halfOpenAfterMaxMs: positive(TIMEOUT).default(5_000),
        silenceFloorMs: positive(TIMEOUT).default(25),
      })
      .strict()
      .prefault({}),
    reconnect: z.object({ baseDelayMs: positive(TIMEOUT).default(50), maxDelayMs: positive(TIMEOUT).default(500) }).strict().prefault({}),
    memory: z.object({ maxEntries: positive(COUNT).default(50_000), maxBytes: positive(COUNT).default(64 * 1024 * 1024) }).strict().prefault({}),
    journal: z.object({ maxEntries: positive(COUNT).optional() }).strict().prefault({}),
    tombstoneTtlMs: positive(TIMEOUT).default(60 * 60 * 1000),
    l1: z.object({ enabled: z.boolean().default(false), heartbeatMs: positive(TIMEOUT).default(1_000), publish: z.boolean().optional() }).strict().prefault({}),
    snapshot: z
      .object({
        path: z.string().min(1, { error: 'a file path' }),
        key: z.union([z.string(), z.instanceof(Buffer)]).refine(isSnapshotKey, { error: SNAPSHOT_KEY_WANTS }),
        debounceMs: ms(MS).default(1_000),
        fsyncDurableWrites: z.boolean().default(false),
      })
      .strict()
      .nullable()
      .default(null),
    requireRedisOnStartup: z.boolean().default(false),
    instanceId: z.string().regex(/^[a-z0-9]{1,8}$/, { error: '1-8 of [a-z0-9]' }).optional(),
    maxKeyLength: positive(COUNT).default(512),
    batchFromInFlight: positive(COUNT).default(16),
    reseedWindowMs: ms(MS).optional(),
    clock: fn('a function returning epoch milliseconds').default(() => Date.now),
    monotonicClock: fn('a function returning monotonic milliseconds').default(() => () => performance.now()),
    clockSyncIntervalMs: positive(TIMEOUT).default(30_000),
    maxClockSkewMs: ms(MS).default(60_000),
  })
  .strict();

/**
 * Validates the options (every bad one named with what it wants, never its value: a `ModuleOptionsError`
 * with code `INVALID_MODULE_OPTIONS`, as the other modules) and fills in the defaults.
 */
export function resolveCacheOptions(input: CacheModuleOptions, randomId: () => string): ResolvedCacheOptions {
  const o = parseModuleOptions('CacheModule', cacheOptionsSchema, input);
  return {
    ...o,
    journal: { maxEntries: o.journal.maxEntries ?? o.memory.maxEntries },
    l1: { ...o.l1, publish: o.l1.publish ?? o.l1.enabled },
    snapshot: o.snapshot ? { ...o.snapshot, key: snapshotKey(o.snapshot.key) } : null,
    instanceId: o.instanceId ?? randomId(),
    reseedWindowMs: o.reseedWindowMs ?? Math.max(5_000, 10 * o.reconnect.maxDelayMs + o.breaker.halfOpenAfterMaxMs),
  };
}
