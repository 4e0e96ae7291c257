/** Options of the cache as a library: no environment variables here, the app maps its config. */

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
  breaker?: { failureThreshold?: number; halfOpenAfterMs?: number; halfOpenAfterMaxMs?: number };
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number };
  memory?: { maxEntries?: number; maxBytes?: number };
  /** Fail start-up when Redis cannot be reached within connectTimeoutMs. */
  requireRedisOnStartup?: boolean;
  /** Part of every write's version; defaults to a random id per process. */
  instanceId?: string;
  maxKeyLength?: number;
  /** Wall clock in ms; injectable so tests can move time. */
  clock?: () => number;
}

export type ResolvedCacheOptions = Required<Omit<CacheModuleOptions, 'instanceId' | 'breaker' | 'reconnect' | 'memory'>> & {
  instanceId: string;
  breaker: Required<NonNullable<CacheModuleOptions['breaker']>>;
  reconnect: Required<NonNullable<CacheModuleOptions['reconnect']>>;
  memory: Required<NonNullable<CacheModuleOptions['memory']>>;
};

export function resolveCacheOptions(o: CacheModuleOptions, randomId: () => string): ResolvedCacheOptions {
  return {
    redis: o.redis,
    keyPrefix: o.keyPrefix ?? 'tb:',
    commandTimeoutMs: o.commandTimeoutMs ?? 250,
    connectTimeoutMs: o.connectTimeoutMs ?? 2_000,
    breaker: {
      failureThreshold: o.breaker?.failureThreshold ?? 3,
      halfOpenAfterMs: o.breaker?.halfOpenAfterMs ?? 500,
      halfOpenAfterMaxMs: o.breaker?.halfOpenAfterMaxMs ?? 5_000,
    },
    reconnect: {
      baseDelayMs: o.reconnect?.baseDelayMs ?? 50,
      maxDelayMs: o.reconnect?.maxDelayMs ?? 500,
    },
    memory: { maxEntries: o.memory?.maxEntries ?? 50_000, maxBytes: o.memory?.maxBytes ?? 64 * 1024 * 1024 },
    requireRedisOnStartup: o.requireRedisOnStartup ?? false,
    instanceId: o.instanceId ?? randomId(),
    maxKeyLength: o.maxKeyLength ?? 512,
    clock: o.clock ?? Date.now,
  };
}
