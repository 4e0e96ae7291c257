import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Logger } from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget, RedisTlsFiles, ResolvedCacheOptions } from '../core/cache.options.js';

export type RedisClient = Redis | Cluster;

/**
 * Capped exponential backoff with jitter: a fleet of instances reconnecting after an outage does
 * not hammer Redis in lockstep, and no instance waits longer than the cap.
 */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/** Errors that will not go away by reconnecting: the operator has to change the configuration. */
export type RedisConfigProblem = 'authentication' | 'permission' | 'tls';

export function configProblemOf(err: unknown): RedisConfigProblem | null {
  const m = innermost(err).message;
  if (/WRONGPASS|NOAUTH|invalid username-password|invalid password/i.test(m)) return 'authentication';
  if (/NOPERM/.test(m)) return 'permission';
  if (/certificate|self[- ]signed|SSL|TLS|wrong version number|handshake/i.test(m)) return 'tls';
  return null;
}

/**
 * The message an operator reads in status and logs. Redis' own replies never echo a password, but
 * the error objects ioredis builds carry the failed command's arguments (HELLO/AUTH include the
 * password), so only the message is ever taken from them.
 */
export function describeRedisError(err: unknown): string {
  const inner = innermost(err);
  const message = inner.message.split('\n')[0];
  switch (configProblemOf(inner)) {
    case 'authentication':
      return `authentication failed: Redis rejected the username or password (${message})`;
    case 'permission':
      return `permission denied by the Redis ACL: the cache user needs its key prefix and commands (${message})`;
    case 'tls':
      return `TLS connection failed: ${message}`;
    default:
      return message;
  }
}

/** A Cluster reports "Failed to refresh slots cache." and keeps the node's real reason inside. */
function innermost(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const inner = (e as { lastNodeError?: unknown }).lastNodeError;
  return inner instanceof Error ? inner : e;
}

function readPem(kind: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`Redis TLS ${kind} file ${path} cannot be read (${code})`);
  }
}

function tlsOptions(files: RedisTlsFiles | undefined): ConnectionOptions | undefined {
  if (!files) return undefined;
  if (Boolean(files.certFile) !== Boolean(files.keyFile)) {
    throw new Error('Redis TLS client certificate needs both a cert file and a key file');
  }
  return {
    ca: readPem('CA', files.caFile),
    cert: readPem('client certificate', files.certFile),
    key: readPem('client key', files.keyFile),
    rejectUnauthorized: files.rejectUnauthorized ?? true,
  };
}

/**
 * Options that keep every command bounded: nothing queues while disconnected, nothing is resent
 * blindly after a reconnect (a resent SET could land after a newer write), every command has a
 * timeout. No auto-pipelining: the gateway's CommandBatcher coalesces concurrent reads and writes
 * itself, and ioredis holds each auto-pipeline until the previous one is answered.
 */
function boundedOptions(o: ResolvedCacheOptions): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: o.connectTimeoutMs,
    enableAutoPipelining: false,
    retryStrategy: (times) => reconnectDelay(times, o.reconnect.baseDelayMs, o.reconnect.maxDelayMs),
    // After a Sentinel failover the old master turns replica: reconnect (not resend) to find the new one.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
}

/**
 * Cluster: a dead node, a failover in progress or CLUSTERDOWN fail the command at once (it is then
 * served from memory and journaled) instead of being retried inside ioredis, whose retries are
 * counted in redirections, not in time. MOVED and ASK are still followed at once: they are answers,
 * not outages. No Cluster-level offline queue, reads and writes on masters only (a replica may lag
 * behind the version the compare-and-set just wrote).
 */
function clusterOptions(o: ResolvedCacheOptions, redisOptions: ClusterOptions['redisOptions']): ClusterOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    // An automatic pipeline mixes slots: after a failover each command gets its own
    // "MOVED <slot> ..." and ioredis redirects a pipeline only when all errors are identical, so
    // every key of the moved slots would fail until the next slots refresh. Single commands follow
    // MOVED/ASK at once.
    enableAutoPipelining: false,
    scaleReads: 'master',
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnMoved: 0,
    maxRedirections: 16,
    slotsRefreshTimeout: o.connectTimeoutMs,
    // A promoted replica is usually learnt from a MOVED first; this bounds it when no key moved.
    slotsRefreshInterval: 2_000,
    clusterRetryStrategy: (times) => reconnectDelay(times, o.reconnect.baseDelayMs, o.reconnect.maxDelayMs),
    redisOptions,
  };
}

export function createRedisClient(target: RedisTarget, o: ResolvedCacheOptions): RedisClient {
  const client = buildClient(target, o);
  logConfigProblemsOnce(client, target);
  if (target.kind === 'sentinel') followSwitchMaster(client as Redis, target, o);
  return client;
}

type SentinelTarget = Extract<RedisTarget, { kind: 'sentinel' }>;

/**
 * A failover that kills nothing (maintenance, SENTINEL FAILOVER, a partition) leaves the old master
 * up and accepting writes until the sentinels demote it, which can take seconds; Redis then throws
 * those acknowledged writes away. So every sentinel's +switch-master is watched, and when the new
 * master is not where our connection goes, the connection is dropped: ioredis reconnects through
 * the sentinels, and the writes in between are served from memory and journaled, not lost.
 */
function followSwitchMaster(client: Redis, target: SentinelTarget, o: ResolvedCacheOptions): void {
  const tls = tlsOptions(target.tls);
  const watchers = target.sentinels.map((sentinel) => {
    const watcher = new Redis({
      host: sentinel.host,
      port: sentinel.port,
      username: target.sentinelUsername,
      password: target.sentinelPassword,
      lazyConnect: true,
      enableReadyCheck: false,
      connectTimeout: o.connectTimeoutMs,
      retryStrategy: (times) => reconnectDelay(times, o.reconnect.baseDelayMs * 4, o.reconnect.maxDelayMs * 10),
      ...(tls ? { tls } : {}),
    });
    // A sentinel being down is the sentinels' business; the data connection reports its own errors.
    watcher.on('error', () => undefined);
    watcher.on('message', (_channel: string, message: string) => {
      const [name, , , host, port] = message.split(' ');
      if (name !== target.masterName || client.status !== 'ready') return;
      const stream = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
      if (stream?.remotePort === Number(port) && stream.remoteAddress?.replace(/^::ffff:/, '') === host) return;
      client.disconnect(true);
    });
    return watcher;
  });
  let started = false;
  client.on('ready', () => {
    if (started) return;
    started = true;
    for (const w of watchers) w.subscribe('+switch-master').catch(() => undefined);
  });
  client.once('end', () => {
    for (const w of watchers) w.disconnect();
  });
}

function buildClient(target: RedisTarget, o: ResolvedCacheOptions): RedisClient {
  const base = boundedOptions(o);
  const tls = tlsOptions(target.tls);
  const auth = { username: target.username, password: target.password };
  const backoff = (times: number) => reconnectDelay(times, o.reconnect.baseDelayMs, o.reconnect.maxDelayMs);
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
        sentinelRetryStrategy: backoff,
        sentinelReconnectStrategy: backoff,
        sentinelCommandTimeout: o.connectTimeoutMs,
        // ioredis' own detector reconnects on every sentinel's +switch-master, including the late
        // ones that arrive after we already follow the new master: a needless outage per failover.
        // followSwitchMaster() reconnects only when the announced master is not the one we use.
        failoverDetector: false,
        ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      });
    case 'cluster': {
      const { retryStrategy: _unused, enableOfflineQueue: _queue, ...nodeOptions } = base;
      return new Cluster(target.nodes, clusterOptions(o, { ...nodeOptions, ...auth, ...(tls ? { tls } : {}) }));
    }
  }
}

/**
 * A wrong password, a missing ACL permission or a bad certificate repeat on every reconnect; the
 * operator gets one log line per problem (again only after a successful connection), never the
 * secret itself.
 */
function logConfigProblemsOnce(client: RedisClient, target: RedisTarget): void {
  const logger = new Logger('RedisConnection');
  let logged: RedisConfigProblem | null = null;
  const onError = (err: unknown) => {
    const problem = configProblemOf(err);
    if (!problem || problem === logged) return;
    logged = problem;
    const who = target.username ? ` as user '${target.username}'` : '';
    logger.error(`Redis ${target.kind}${who}: ${describeRedisError(err)}`);
  };
  client.on('error', onError);
  if (client instanceof Cluster) client.on('node error', onError);
  client.on('ready', () => {
    logged = null;
  });
}
