import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget, RedisTlsFiles, ResolvedCacheOptions } from './cache.options.js';

export type RedisClient = Redis | Cluster;

/**
 * Capped exponential backoff with jitter: a fleet of instances reconnecting after an outage does
 * not hammer Redis in lockstep, and no instance waits longer than the cap.
 */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

function tlsOptions(files: RedisTlsFiles | undefined): ConnectionOptions | undefined {
  if (!files) return undefined;
  return {
    ca: files.caFile ? readFileSync(files.caFile) : undefined,
    cert: files.certFile ? readFileSync(files.certFile) : undefined,
    key: files.keyFile ? readFileSync(files.keyFile) : undefined,
    rejectUnauthorized: files.rejectUnauthorized ?? true,
  };
}

/**
 * Options that keep every command bounded: nothing queues while disconnected, nothing is resent
 * blindly after a reconnect (a resent SET could land after a newer write), every command has a
 * timeout. Same-tick commands are pipelined automatically, which is where the throughput comes from.
 */
function boundedOptions(o: ResolvedCacheOptions): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: o.connectTimeoutMs,
    enableAutoPipelining: true,
    retryStrategy: (times) => reconnectDelay(times, o.reconnect.baseDelayMs, o.reconnect.maxDelayMs),
    // After a Sentinel failover the old master turns replica: reconnect to find the new one.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
}

export function createRedisClient(target: RedisTarget, o: ResolvedCacheOptions): RedisClient {
  const base = boundedOptions(o);
  const tls = tlsOptions(target.tls);
  const auth = { username: target.username, password: target.password };
  switch (target.kind) {
    case 'standalone': {
      const opts: RedisOptions = { ...base, ...auth, db: target.db, ...(tls ? { tls } : {}) };
      if (target.url) return new Redis(target.url, opts);
      return new Redis({ ...opts, host: target.host ?? '127.0.0.1', port: target.port ?? 6379 });
    }
    case 'sentinel':
      return new Redis({
        ...base,
        ...auth,
        db: target.db,
        sentinels: target.sentinels,
        name: target.masterName,
        sentinelUsername: target.sentinelUsername,
        sentinelPassword: target.sentinelPassword,
        sentinelRetryStrategy: (times) => reconnectDelay(times, o.reconnect.baseDelayMs, o.reconnect.maxDelayMs),
        ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      });
    case 'cluster': {
      const { retryStrategy: _unused, ...nodeOptions } = base;
      const opts: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        scaleReads: 'master',
        clusterRetryStrategy: (times) => reconnectDelay(times, o.reconnect.baseDelayMs, o.reconnect.maxDelayMs),
        slotsRefreshTimeout: o.connectTimeoutMs,
        redisOptions: { ...nodeOptions, ...auth, ...(tls ? { tls } : {}) },
      };
      return new Cluster(target.nodes, opts);
    }
  }
}
