import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../config/load-config.js';
import { resolveCacheOptions, type RedisTarget } from '../core/cache.options.js';
import { configProblemOf, createRedisClient, describeRedisError, reconnectDelay } from './redis-connection.js';

const targetOf = (env: Record<string, string>) => loadConfig(env).cache.redis;

describe('Redis topology from environment variables', () => {
  it('no Redis variables: the embedded memory store', () => {
    expect(targetOf({})).toBeNull();
  });

  it('standalone from REDIS_URL, with ACL user and password', () => {
    expect(targetOf({ REDIS_URL: 'redis://10.0.0.5:6380/2', REDIS_USERNAME: 'tb', REDIS_PASSWORD: 's3cret' })).toEqual({
      kind: 'standalone',
      url: 'redis://10.0.0.5:6380/2',
      host: undefined,
      port: 6379,
      db: 0,
      username: 'tb',
      password: 's3cret',
      tls: undefined,
    });
  });

  it('standalone from REDIS_HOST/PORT; rediss:// or REDIS_SSL turns TLS on with the CA and client cert files', () => {
    expect(targetOf({ REDIS_HOST: 'cache.internal', REDIS_PORT: '6390', REDIS_DB: '3' })).toMatchObject({
      kind: 'standalone',
      host: 'cache.internal',
      port: 6390,
      db: 3,
      tls: undefined,
    });
    expect(targetOf({ REDIS_URL: 'rediss://cache.internal:6380' })).toMatchObject({ kind: 'standalone', tls: {} });
    expect(
      targetOf({
        REDIS_HOST: 'cache.internal',
        REDIS_SSL: 'true',
        REDIS_TLS_CA_FILE: '/etc/redis/ca.crt',
        REDIS_TLS_CERT_FILE: '/etc/redis/client.crt',
        REDIS_TLS_KEY_FILE: '/etc/redis/client.key',
      }),
    ).toMatchObject({
      tls: { caFile: '/etc/redis/ca.crt', certFile: '/etc/redis/client.crt', keyFile: '/etc/redis/client.key' },
    });
    // A CA file alone is enough to mean TLS.
    expect(targetOf({ REDIS_HOST: 'h', REDIS_TLS_CA_FILE: '/ca.crt' })).toMatchObject({ tls: { caFile: '/ca.crt' } });
  });

  it('sentinel: addresses, master name, sentinel and data credentials, TLS', () => {
    expect(
      targetOf({
        REDIS_SENTINELS: 'sent-a:26379, sent-b:26380,10.1.1.1:26381',
        REDIS_SENTINEL_MASTER_NAME: 'cache-master',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pass',
        REDIS_USERNAME: 'tb',
        REDIS_PASSWORD: 'data-pass',
        REDIS_SSL: 'yes',
        REDIS_TLS_CA_FILE: '/ca.crt',
      }),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'sent-a', port: 26379 },
        { host: 'sent-b', port: 26380 },
        { host: '10.1.1.1', port: 26381 },
      ],
      masterName: 'cache-master',
      sentinelPassword: 'sentinel-pass',
      db: 0,
      username: 'tb',
      password: 'data-pass',
      tls: { caFile: '/ca.crt', certFile: undefined, keyFile: undefined },
    });
    expect(targetOf({ REDIS_SENTINELS: 's:26379' })).toMatchObject({ kind: 'sentinel', masterName: 'mymaster' });
  });

  it('cluster: seed nodes win over sentinels and a standalone host', () => {
    expect(
      targetOf({
        REDIS_CLUSTER_NODES: 'n1:7000,n2:7001',
        REDIS_SENTINELS: 's:26379',
        REDIS_HOST: 'h',
        REDIS_USERNAME: 'tb',
        REDIS_PASSWORD: 'p',
      }),
    ).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      username: 'tb',
      password: 'p',
      tls: undefined,
    });
  });

  it('a malformed address list is a clear configuration error that never shows a password', () => {
    let error: unknown;
    try {
      loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2', REDIS_PASSWORD: 'hunter2-secret', REDIS_URL: 'ftp://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/REDIS_CLUSTER_NODES=.*host:port/);
    expect(message).toMatch(/REDIS_URL=\(hidden/);
    expect(message).not.toContain('hunter2-secret');
  });
});

describe('createRedisClient', () => {
  const options = (redis: RedisTarget) => resolveCacheOptions({ redis, commandTimeoutMs: 200, connectTimeoutMs: 900 }, () => 'test');
  let dir: string;
  const clients: (Redis | Cluster)[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-conn-spec-'));
    writeFileSync(join(dir, 'ca.crt'), 'CA-PEM');
    writeFileSync(join(dir, 'client.crt'), 'CERT-PEM');
    writeFileSync(join(dir, 'client.key'), 'KEY-PEM');
  });
  afterAll(() => {
    for (const c of clients) c.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });
  const make = (target: RedisTarget) => {
    const c = createRedisClient(target, options(target));
    clients.push(c);
    return c;
  };

  it('standalone: bounded (no offline queue, no resend, per-command timeout) and lazy', () => {
    const c = make({ kind: 'standalone', host: '127.0.0.1', port: 1 }) as Redis;
    expect(c).toBeInstanceOf(Redis);
    expect(c.status).toBe('wait');
    expect(c.options).toMatchObject({
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 200,
      connectTimeout: 900,
    });
    expect(c.options.reconnectOnError?.(new Error('READONLY You can’t write against a read only replica.'))).toBe(true);
    expect(c.options.reconnectOnError?.(new Error('ERR something else'))).toBe(false);
  });

  it('standalone URL: credentials in the URL survive when no separate ones are configured', () => {
    const c = make({ kind: 'standalone', url: 'redis://user1:pw1@127.0.0.1:1/4' }) as Redis;
    expect(c.options).toMatchObject({ username: 'user1', password: 'pw1', db: 4, port: 1 });
  });

  it('TLS: CA, client cert and key are read from their files; certificate checks stay on', () => {
    const tls = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') };
    const c = make({ kind: 'standalone', host: '127.0.0.1', port: 1, tls }) as Redis;
    const t = c.options.tls as { ca: Buffer; cert: Buffer; key: Buffer; rejectUnauthorized: boolean };
    expect(t.ca.toString()).toBe('CA-PEM');
    expect(t.cert.toString()).toBe('CERT-PEM');
    expect(t.key.toString()).toBe('KEY-PEM');
    expect(t.rejectUnauthorized).toBe(true);
  });

  it('TLS: an unreadable file or a cert without its key is a clear error naming the file, not the contents', () => {
    expect(() => make({ kind: 'standalone', host: 'h', tls: { caFile: join(dir, 'missing.crt') } })).toThrow(
      /TLS CA file .*missing\.crt cannot be read \(ENOENT\)/,
    );
    expect(() => make({ kind: 'standalone', host: 'h', tls: { certFile: join(dir, 'client.crt') } })).toThrow(/both a cert file and a key file/);
  });

  it('sentinel: master name, sentinel credentials, TLS to sentinels and data nodes', () => {
    const tls = { caFile: join(dir, 'ca.crt') };
    const c = make({
      kind: 'sentinel',
      sentinels: [{ host: '127.0.0.1', port: 1 }],
      masterName: 'm1',
      sentinelPassword: 'sp',
      username: 'tb',
      password: 'dp',
      tls,
    }) as Redis;
    expect(c.options).toMatchObject({
      name: 'm1',
      sentinels: [{ host: '127.0.0.1', port: 1 }],
      sentinelPassword: 'sp',
      username: 'tb',
      password: 'dp',
      failoverDetector: false,
      enableTLSForSentinelMode: true,
      enableOfflineQueue: false,
      commandTimeout: 200,
    });
    expect((c.options.sentinelTLS as { ca: Buffer }).ca.toString()).toBe('CA-PEM');
  });

  it('cluster: fails fast on a dead node or CLUSTERDOWN instead of retrying past the command timeout', () => {
    const c = make({ kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }], username: 'tb', password: 'p' }) as Cluster;
    expect(c).toBeInstanceOf(Cluster);
    expect(c.options).toMatchObject({
      enableOfflineQueue: false,
      scaleReads: 'master',
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnMoved: 0,
      lazyConnect: true,
    });
    expect(c.options.redisOptions).toMatchObject({
      commandTimeout: 200,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      username: 'tb',
      password: 'p',
    });
  });
});

describe('describeRedisError', () => {
  it('says authentication failed for WRONGPASS / NOAUTH, without any secret', () => {
    const wrong = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
      command: { name: 'hello', args: ['3', 'AUTH', 'tb', 'the-password'] },
    });
    const text = describeRedisError(wrong);
    expect(text).toMatch(/^authentication failed/);
    expect(text).not.toContain('the-password');
    expect(configProblemOf(new Error('NOAUTH Authentication required.'))).toBe('authentication');
  });

  it('reads the node error inside a Cluster slots-refresh failure', () => {
    const outer = Object.assign(new Error('Failed to refresh slots cache.'), {
      lastNodeError: new Error('WRONGPASS invalid username-password pair or user is disabled.'),
    });
    expect(describeRedisError(outer)).toMatch(/^authentication failed/);
  });

  it('names ACL and TLS problems, leaves other errors as they are', () => {
    expect(describeRedisError(new Error("NOPERM User tb has no permissions to run the 'flushall' command"))).toMatch(/^permission denied/);
    expect(describeRedisError(new Error('self-signed certificate in certificate chain'))).toMatch(/^TLS connection failed/);
    expect(describeRedisError(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });
});

describe('reconnectDelay', () => {
  it('grows exponentially, is jittered into the upper half and capped', () => {
    expect(reconnectDelay(1, 50, 500, () => 0)).toBe(50);
    expect(reconnectDelay(1, 50, 500, () => 1)).toBe(100);
    expect(reconnectDelay(30, 50, 500, () => 1)).toBe(500);
    expect(reconnectDelay(30, 50, 500, () => 0)).toBe(250);
  });
});
