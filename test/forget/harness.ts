import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tokenFingerprint } from '../../src/sharekhan/tokens/token-crypto.js';
import {
  startFakeShareKhan,
  type FakeShareKhan,
  type OrderAttempt,
} from '../helpers/fake-sharekhan.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitUntil } from '../helpers/wait.js';
import type { AppBuild } from './build.js';
import { replicaProcess, type ReplicaProcess } from './replica-process.js';
import { SAMPLE_ORDER } from '../fixtures/orders.js';

/**
 * Three app replicas as their own processes (production mode, default policy `refuse`), each
 * reaching one redis-server through its own TCP fault proxy, and the fake ShareKhan in this process
 * as the independent count of every order. Everything stops when the test ends.
 */

export const USERS = { U1: 'C301', U2: 'C302', U3: 'C303' } as const;
export type UserId = keyof typeof USERS;
/** `unconfirmedTokenUseMs` of every replica: the revoke bound the scenarios hold orders to. */
export const REVOKE_BOUND_MS = 3_000;
/** Each order's tradingSymbol is set to its signal or order id, so the broker's record tells them apart. */
const ORDER = SAMPLE_ORDER;
const HTTP_TIMEOUT_MS = 10_000;

export interface Answer {
  status: number | null;
  body: any;
  at: number;
}

export interface ForgetFleet {
  redis: RedisProcess;
  fake: FakeShareKhan;
  proxies: TcpProxy[];
  replicas: ReplicaProcess[];
  http(
    replica: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer>;
  /** Mints a live broker token for the user and submits it; the answer carries the token. */
  submit(
    replica: number,
    user: UserId,
  ): Promise<Answer & { token: string; fingerprint: string }>;
  revoke(replica: number, user: UserId): Promise<Answer>;
  signal(replica: number, signalId: string, users: UserId[]): Promise<Answer>;
  /** Sends the signal until no user's result is IDEMPOTENCY_UNAVAILABLE (or the deadline passes). */
  signalUntilDecided(
    replica: number,
    signalId: string,
    users: UserId[],
    timeoutMs?: number,
  ): Promise<Answer>;
  /** The token fingerprint a replica reads for the user (null: none or revoked). */
  tokenOf(replica: number, user: UserId): Promise<string | null>;
  auditOf(
    replica: number,
    user: UserId,
  ): Promise<{ action: string; fingerprint: string | null }[]>;
  /** Until every replica's cache says `redis` mode with nothing left to replay. */
  waitAllOnRedis(timeoutMs?: number): Promise<void>;
  /**
   * Sends a fresh signal for the users every `everyMs` (not waiting for answers), round-robin over
   * the given replicas, until `until`; resolves with every answer.
   */
  hammer(
    prefix: string,
    users: UserId[],
    until: () => boolean,
    everyMs: number,
    onReplicas?: number[],
    /** `order`: a direct order (POST /orchestrator/orders, no idempotency claim) for users[0]. */
    kind?: 'signal' | 'order',
  ): Promise<Answer[]>;
  /** (signal id, customer) pairs the broker accepted more than once. */
  duplicates(): string[];
  /** Accepted orders that carried this token, sent after `at`. */
  ordersWithTokenAfter(token: string, at: number): OrderAttempt[];
}

export interface ForgetFleetOptions {
  redisArgs?: string[];
  replicas?: number;
}

export async function startForgetFleet(
  build: AppBuild,
  opts: ForgetFleetOptions = {},
): Promise<ForgetFleet> {
  const count = opts.replicas ?? 3;
  const apiKey = `adm-${randomBytes(12).toString('hex')}`;
  const skApiKey = `skapi-${randomBytes(8).toString('hex')}`;
  const secretKey = randomBytes(16).toString('hex');
  const snapshotDir = mkdtempSync(join(tmpdir(), 'forget-snapshots-'));
  onTestFinished(() => rmSync(snapshotDir, { recursive: true, force: true }));
  const redis = await startRedis({ args: opts.redisArgs });
  onTestFinished(() => redis.stop());
  const fake = await startFakeShareKhan({ secretKey, apiKey: skApiKey });
  onTestFinished(() => fake.close());
  const proxies: TcpProxy[] = [];
  for (let i = 0; i < count; i++) {
    const p = await startTcpProxy(redis.port);
    onTestFinished(() => p.close());
    proxies.push(p);
  }
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DOCS_ENABLED: 'false',
    CACHE_KEY_PREFIX: 'forget:',
    CACHE_L1_ENABLED: 'true',
    CACHE_SNAPSHOT_KEY: randomBytes(32).toString('base64'),
    ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE: 'refuse',
    ORCHESTRATOR_PREMARKET_CHECK_IST: '',
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY: skApiKey,
    SHAREKHAN_SECRET_KEY: secretKey,
    SHAREKHAN_REDIRECT_URL: 'https://trading.example.test/sharekhan/callback',
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    API_KEYS: `forget:admin:${apiKey}`,
    API_RATE_LIMIT: '1000000',
    TRADING_USERS: Object.entries(USERS)
      .map(([u, c]) => `${u}:live:${c}:L${c}`)
      .join(','),
    FORGET_UNCONFIRMED_TOKEN_USE_MS: String(REVOKE_BOUND_MS),
  };
  const replicas: ReplicaProcess[] = [];
  for (let i = 0; i < count; i++) {
    const r = await replicaProcess(`replica-${'ABC'[i] ?? i}`, build.entry, {
      ...env,
      REDIS_URL: proxies[i].url,
      CACHE_SNAPSHOT_PATH: join(snapshotDir, `replica-${i}.snap`),
      HOSTNAME: `forget-${i}`,
    });
    onTestFinished(() => r.kill());
    replicas.push(r);
  }
  await Promise.all(replicas.map((r) => r.start()));

  const http = async (
    replica: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer> => {
    try {
      const res = await fetch(`${replicas[replica].url}${path}`, {
        method,
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: keep the text.
      }
      return { status: res.status, body: parsed, at: Date.now() };
    } catch (err) {
      return {
        status: null,
        body: String((err as Error).message),
        at: Date.now(),
      };
    }
  };
  const signal = (replica: number, signalId: string, users: UserId[]) =>
    http(replica, 'POST', '/orchestrator/signals', {
      signalId,
      users,
      order: { ...ORDER, tradingSymbol: signalId },
    });
  const undecided = (a: Answer) =>
    a.status === null ||
    !Array.isArray(a.body?.results) ||
    a.body.results.some(
      (r: { code?: string }) => r.code === 'IDEMPOTENCY_UNAVAILABLE',
    );

  const fleet: ForgetFleet = {
    redis,
    fake,
    proxies,
    replicas,
    http,
    async submit(replica, user) {
      const token = fake.issueAccessToken(USERS[user]);
      const a = await http(replica, 'PUT', `/sharekhan/users/${user}/token`, {
        accessToken: token,
      });
      return { ...a, token, fingerprint: tokenFingerprint(token) };
    },
    revoke: (replica, user) =>
      http(replica, 'DELETE', `/sharekhan/users/${user}/token`),
    signal,
    async signalUntilDecided(replica, signalId, users, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let a = await signal(replica, signalId, users);
      while (undecided(a) && Date.now() < deadline) {
        await sleep(100);
        a = await signal(replica, signalId, users);
      }
      return a;
    },
    async tokenOf(replica, user) {
      const a = await http(replica, 'GET', `/sharekhan/users/${user}/token`);
      if (a.status !== 200)
        throw new Error(
          `${replicas[replica].name} could not read ${user}'s token: HTTP ${a.status} ${JSON.stringify(a.body)}`,
        );
      return a.body.present === false || a.body.status === 'revoked'
        ? null
        : (a.body.fingerprint ?? null);
    },
    async auditOf(replica, user) {
      const a = await http(replica, 'GET', `/sharekhan/users/${user}/audit`);
      return (a.body?.events ?? []).map(
        (e: { action: string; fingerprint: string | null }) => ({
          action: e.action,
          fingerprint: e.fingerprint,
        }),
      );
    },
    async waitAllOnRedis(timeoutMs = 20_000) {
      await waitUntil(
        Date.now() + timeoutMs,
        'every replica on Redis',
        async () => {
          const all = await Promise.all(
            replicas.map((_, i) => http(i, 'GET', '/health/ready')),
          );
          return all.every((a) => {
            const cache = a.body?.details?.cache;
            return cache?.mode === 'redis' && cache?.journalSize === 0;
          });
        },
        50,
      );
    },
    async hammer(
      prefix,
      users,
      until,
      everyMs,
      onReplicas = replicas.map((_, i) => i),
      kind = 'signal',
    ) {
      const sent: Promise<Answer>[] = [];
      for (let n = 0; !until(); n++) {
        const replica = onReplicas[n % onReplicas.length];
        const id = `${prefix}-${n}`;
        sent.push(
          kind === 'signal'
            ? signal(replica, id, users)
            : http(replica, 'POST', '/orchestrator/orders', {
                userId: users[0],
                order: { ...ORDER, tradingSymbol: id },
              }),
        );
        await sleep(everyMs);
      }
      return Promise.all(sent);
    },
    duplicates() {
      const seen = new Map<string, number>();
      for (const o of fake.orderAttempts)
        if (o.orderId)
          seen.set(
            `${o.tradingSymbol}|${o.customerId}`,
            (seen.get(`${o.tradingSymbol}|${o.customerId}`) ?? 0) + 1,
          );
      return [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`);
    },
    ordersWithTokenAfter(token, at) {
      return fake.orderAttempts.filter(
        (o) => o.orderId && o.accessToken === token && o.at > at,
      );
    },
  };
  await fleet.waitAllOnRedis();
  return fleet;
}

/** Per-user result codes of signal answers, counted (placed, TOKEN_UNCONFIRMED, ...). */
export function resultCodes(answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const codes: string[] =
      a.body?.outcome === 'placed'
        ? ['placed']
        : typeof a.body?.code === 'string'
          ? [a.body.code]
          : Array.isArray(a.body?.results)
            ? a.body.results.map(
                (r: { code?: string; outcome: string }) => r.code ?? r.outcome,
              )
            : [`HTTP ${a.status}`];
    for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  }
  return out;
}
