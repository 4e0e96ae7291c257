import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineSection } from './config-section.js';
import { boolVar, intVar, listVar, optionalString } from './env-types.js';
import type { CacheModuleOptions, RedisTarget, RedisTlsFiles } from '../cache/index.js';
import { isUsableRedisUrl, REDIS_URL_WANTS } from '../cache/index.js';

const hostPort = /^[^\s:]+:\d{1,5}$/;
const hostPortList = () =>
  listVar().pipe(
    z.array(z.string().regex(hostPort, { error: 'comma-separated host:port pairs' })),
  );

const parseHostPort = (s: string) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

const cacheEnvSchema = z.object({
    NODE_ENV: optionalString(),
    // Several replicas on their own memory stores each hold different tokens: production needs Redis unless told otherwise.
    ALLOW_MEMORY_ONLY_IN_PRODUCTION: boolVar(false),
    REDIS_URL: optionalString().refine((v) => v === undefined || isUsableRedisUrl(v), { error: REDIS_URL_WANTS }),
    REDIS_HOST: optionalString(),
    REDIS_PORT: intVar(6379, 1, 65535),
    REDIS_USERNAME: optionalString(),
    REDIS_PASSWORD: optionalString(),
    REDIS_DB: intVar(0, 0, 15),
    REDIS_SSL: boolVar(false),
    REDIS_TLS_CA_FILE: optionalString(),
    REDIS_TLS_CERT_FILE: optionalString(),
    REDIS_TLS_KEY_FILE: optionalString(),
    REDIS_SENTINELS: hostPortList(),
    REDIS_SENTINEL_MASTER_NAME: optionalString(),
    REDIS_SENTINEL_PASSWORD: optionalString(),
    REDIS_CLUSTER_NODES: hostPortList(),
    CACHE_KEY_PREFIX: z.string().max(64, { error: 'at most 64 characters' }).default('tb:'),
    CACHE_COMMAND_TIMEOUT_MS: intVar(250, 10, 60_000),
    CACHE_L1_ENABLED: boolVar(false),
    CACHE_SNAPSHOT_PATH: optionalString(),
    CACHE_SNAPSHOT_KEY: optionalString().refine((v) => v === undefined || isKey32(v), {
      error: 'base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)',
    }),
  })
  .superRefine((e, ctx) => {
    const noRedis = !e.REDIS_URL && !e.REDIS_HOST && e.REDIS_SENTINELS.length === 0 && e.REDIS_CLUSTER_NODES.length === 0;
    if (noRedis && e.NODE_ENV === 'production' && !e.ALLOW_MEMORY_ONLY_IN_PRODUCTION) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message:
          'a Redis in production (REDIS_URL, REDIS_HOST, REDIS_SENTINELS or REDIS_CLUSTER_NODES): without one each replica keeps its own tokens; for a single replica on the memory store set ALLOW_MEMORY_ONLY_IN_PRODUCTION=true',
      });
    }
    if (e.CACHE_SNAPSHOT_PATH !== undefined && e.CACHE_SNAPSHOT_KEY === undefined) {
      ctx.addIssue({ code: 'custom', path: ['CACHE_SNAPSHOT_KEY'], message: 'base64 of 32 bytes, required when CACHE_SNAPSHOT_PATH is set' });
    }
  });

function isKey32(v: string): boolean {
  const buf = Buffer.from(v, 'base64');
  return buf.length === 32 && buf.toString('base64') === v.trim();
}

type CacheEnv = z.infer<typeof cacheEnvSchema>;

export const cacheSection = defineSection({
  schema: cacheEnvSchema,
  secrets: ['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'REDIS_URL', 'CACHE_SNAPSHOT_KEY'],
  build: (e, env): CacheModuleOptions => ({
    redis: redisTarget(e),
    keyPrefix: e.CACHE_KEY_PREFIX,
    commandTimeoutMs: e.CACHE_COMMAND_TIMEOUT_MS,
    instanceId: instanceIdFor(env.HOSTNAME),
    l1: { enabled: e.CACHE_L1_ENABLED },
    snapshot:
      e.CACHE_SNAPSHOT_PATH && e.CACHE_SNAPSHOT_KEY
        ? { path: e.CACHE_SNAPSHOT_PATH, key: e.CACHE_SNAPSHOT_KEY }
        : null,
  }),
});

/**
 * The pod name's last characters (the part Kubernetes makes unique per pod) so an operator can
 * tell instances apart in versions and status, plus random ones: two processes sharing a host
 * name must still never share an id (versions would tie).
 */
export function instanceIdFor(hostname: string | undefined): string {
  const pod = (hostname ?? '').toLowerCase().replace(/[^a-z0-9]/g, '').slice(-4);
  return `${pod}${randomBytes(4).toString('hex')}`.slice(0, 8);
}

/** Which Redis topology the variables describe; none means the embedded memory store. */
function redisTarget(e: CacheEnv): RedisTarget | null {
  const tls: RedisTlsFiles | undefined =
    e.REDIS_SSL || e.REDIS_TLS_CA_FILE || e.REDIS_URL?.startsWith('rediss://')
      ? { caFile: e.REDIS_TLS_CA_FILE, certFile: e.REDIS_TLS_CERT_FILE, keyFile: e.REDIS_TLS_KEY_FILE }
      : undefined;
  const auth = { username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD };
  if (e.REDIS_CLUSTER_NODES.length > 0) {
    return { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES.map(parseHostPort), ...auth, tls };
  }
  if (e.REDIS_SENTINELS.length > 0) {
    return {
      kind: 'sentinel',
      sentinels: e.REDIS_SENTINELS.map(parseHostPort),
      masterName: e.REDIS_SENTINEL_MASTER_NAME ?? 'mymaster',
      sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
      db: e.REDIS_DB,
      ...auth,
      tls,
    };
  }
  if (e.REDIS_URL || e.REDIS_HOST) {
    return {
      kind: 'standalone',
      url: e.REDIS_URL,
      host: e.REDIS_HOST,
      port: e.REDIS_PORT,
      db: e.REDIS_DB,
      ...auth,
      tls,
    };
  }
  return null;
}
