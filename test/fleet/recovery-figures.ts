import { REFUSED, signalCodes } from './checker.js';
import type { History } from './history.js';

/**
 * The two liveness figures RELIABILITY.md reports per run (issue 19): the share of per-user signal
 * results refused as IDEMPOTENCY_UNAVAILABLE, and how long after each fault healed the broker
 * accepted the first signal order.
 */

export interface HealToPlaced {
  /** ms from a fault's end to the first signal order the broker accepted, one per fault that saw one. */
  samples: number[];
  /** Faults after which no signal was placed before the next fault began (or the run ended). */
  none: number;
  /** Over every fault, one with none placed counting as Infinity (longer than the gap it had). */
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export function refusalShare(h: History): {
  refused: number;
  results: number;
  share: number;
} {
  const codes = h.ops.flatMap(signalCodes);
  const refused = codes.filter((c) => c === REFUSED).length;
  return {
    refused,
    results: codes.length,
    share: codes.length === 0 ? 0 : refused / codes.length,
  };
}

export function healToFirstPlaced(h: History): HealToPlaced {
  const signalIds = new Set(
    h.ops.filter((o) => o.kind === 'signal').map((o) => o.signalId),
  );
  const placed = h.broker
    .filter((b) => b.orderId !== null && signalIds.has(b.tradingSymbol))
    .map((b) => b.at)
    .sort((a, b) => a - b);
  const faults = [...h.faults].sort((a, b) => a.startAt - b.startAt);
  const samples: number[] = [];
  let none = 0;
  faults.forEach((f, i) => {
    const until = faults[i + 1]?.startAt ?? h.endedAt;
    const first = placed.find((at) => at >= f.endAt && at <= until);
    if (first === undefined) none++;
    else samples.push(first - f.endAt);
  });
  const all = [...samples, ...Array<number>(none).fill(Infinity)];
  return {
    samples,
    none,
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    max: all.length ? Math.max(...all) : null,
  };
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}
