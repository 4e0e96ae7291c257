import type { Bounds, Op, TokenTrust } from './history.js';

/**
 * The fleet's settings and the bounds the checker holds every operation to. The cache bound is
 * the documented one (docs/cache.md: every cache operation is bounded by the command timeout).
 * HTTP routes have no bound of their own in the docs, so RELIABILITY.md documents this one: a
 * route makes at most CACHE_CALLS_PER_ROUTE cache calls one after another, plus the broker's
 * order timeout for each order it sends, plus one scheduling allowance (SLACK_MS).
 */
export const FLEET_SETTINGS = {
  commandTimeoutMs: 250,
  orderTimeoutMs: 2_000,
  fanoutConcurrency: 4,
  brokerLatencyMs: 30,
  clients: 4,
  /** Faults start after this, so the fleet first reaches a steady state. */
  quietStartMs: 1_500,
  /** No fault starts that would end later than this before the deadline: the liveness rule judges the tail. */
  quietEndMs: 3_000,
  /**
   * ShareKhan's `unconfirmedTokenUseMs`, far below its 30 s default so that cut-offs of 0.7-3 s
   * (plus reconnecting) outlast it and the checker holds orders to the bound's edge.
   */
  unconfirmedTokenUseMs: 2_000,
} as const;

export const CACHE_CALLS_PER_ROUTE = 10;
/** Three apps, the test client, the fake broker and Redis share one process on two busy cores. */
export const SLACK_MS = 300;

/**
 * The revoke propagation allowance the checker grants a cut-off replica (RELIABILITY.md), from the
 * cache defaults the fleet runs with: L1 heartbeat 1 s, breaker half-open backoff up to 5 s,
 * reconnect delay up to 0.5 s.
 */
export function fleetTokenTrust(s = FLEET_SETTINGS): TokenTrust {
  return {
    unconfirmedUseMs: s.unconfirmedTokenUseMs,
    l1StalenessMs: 1_000 + s.commandTimeoutMs,
    reconnectMs: 5_000 + 500 + s.commandTimeoutMs,
    invalidationMs: s.commandTimeoutMs,
  };
}

export function fleetBounds(s = FLEET_SETTINGS): Bounds {
  const route = CACHE_CALLS_PER_ROUTE * s.commandTimeoutMs;
  const withOrder = route + s.orderTimeoutMs;
  return {
    cacheOpMs: s.commandTimeoutMs,
    slackMs: SLACK_MS,
    http: {
      'token.submit': () => route,
      'token.revoke': () => route,
      'token.read': () => route,
      'orders.read': () => route,
      'audit.read': () => route,
      order: () => withOrder,
      signal: (op: Op) => Math.ceil((op.users?.length ?? 1) / s.fanoutConcurrency) * withOrder,
    },
  };
}
