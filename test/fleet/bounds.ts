import type { Bounds, Op } from './history.js';

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
} as const;

export const CACHE_CALLS_PER_ROUTE = 10;
/** Three apps, the test client, the fake broker and Redis share one process on two busy cores. */
export const SLACK_MS = 300;

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
