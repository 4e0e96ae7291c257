/**
 * The record of one fleet run: every client operation with its real invoke and complete times,
 * every fault, every order the fake broker received, and the final reads. The checker judges
 * this record alone, so a history can also be written by hand (checker.spec.ts does).
 */

export type OpKind =
  | 'token.submit'
  | 'token.revoke'
  | 'token.read'
  | 'signal'
  | 'order'
  | 'orders.read'
  | 'audit.read';

/**
 * ok: the server answered 2xx. fail: it answered and said nothing happened (4xx, 5xx), or the
 * connection was refused. info: no answer (timeout, reset): the effect may or may not have happened.
 */
export type OpOutcome = 'ok' | 'fail' | 'info';

export interface Op {
  id: number;
  kind: OpKind;
  replica: number;
  userId?: string;
  /** Signals: the signal id (the same on every retry). Orders: a unique id per order op. */
  signalId?: string;
  /** Users a signal targets. */
  users?: string[];
  /** Submits: the fingerprint of the submitted token (never the token itself). */
  fingerprint?: string;
  /** Submits: the broker no longer accepts this token (so an `invalid` final state is legitimate). */
  brokerDead?: boolean;
  /** Real time (Date.now()) when the request was sent and when the answer (or error) came. */
  invokeAt: number;
  completeAt: number;
  status: number | null;
  outcome: OpOutcome;
  /** The answer's JSON body (or the error text). */
  body: unknown;
}

export type FaultKind =
  | 'redis-kill-keep'
  | 'redis-kill-empty'
  | 'redis-pause'
  | 'partition-cut'
  | 'partition-blackhole'
  | 'replica-restart'
  | 'clock-skew'
  | 'skewed-partition'
  | 'redis-restart-older'
  | 'failover-lagging'
  | 'replica-kill';

export interface Fault {
  kind: FaultKind;
  /** Replica index for replica-scoped faults. */
  replica?: number;
  startAt: number;
  endAt: number;
  detail?: string;
}

/** One POST /orders the fake broker received (see OrderAttempt in the fake). */
export interface BrokerOrder {
  at: number;
  customerId: string;
  /** Which user the token was minted for by the workload (null: unknown to the workload). */
  tokenUserId: string | null;
  tokenFingerprint: string;
  tokenCustomerId: string | null;
  tradingSymbol: string;
  status: number;
  orderId: string | null;
}

/** A replica's view of a user after the faults healed. */
export interface FinalRead {
  replica: number;
  userId: string;
  /** null: no token (missing or revoked). */
  fingerprint: string | null;
  status: string;
  /** Audit events (action and fingerprint) this replica returns for the user. */
  audit: { action: string; fingerprint: string | null }[];
}

/** How long one call into the CacheService took on a replica. */
export interface CacheSample {
  replica: number;
  method: string;
  ms: number;
  at: number;
}

/**
 * A moment the test process's event loop did not run (GC, another replica's synchronous work).
 * The three replicas share this process, which production replicas never do, so the bounds
 * check does not charge a replica for a stall of the shared loop.
 */
export interface Stall {
  at: number;
  ms: number;
}

export interface Bounds {
  /** Documented bound of one cache operation (the command timeout). */
  cacheOpMs: number;
  /** Allowance for scheduling on a loaded machine (timers fire late, three apps share a process). */
  slackMs: number;
  /** Bound of each HTTP operation kind. */
  http: Record<OpKind, (op: Op) => number>;
}

/**
 * How long a replica cut off from Redis may keep trading with a token that only its memory
 * vouches for (docs/sharekhan.md, `unconfirmedTokenUseMs`), and the slacks the checker needs to
 * tell from the nemesis log alone when a replica could not hear a revoke.
 */
export interface TokenTrust {
  /** The replica's `unconfirmedTokenUseMs`, counted from when it lost Redis. */
  unconfirmedUseMs: number;
  /** L1's worst-case staleness on a silently dead link (heartbeat + command timeout), added to the bound. */
  l1StalenessMs: number;
  /** After a fault heals, how long a replica may still be reconnecting (breaker half-open backoff + reconnect delay). */
  reconnectMs: number;
  /** A revoke acknowledged this shortly before a cut may have had its invalidation in flight. */
  invalidationMs: number;
}

export interface History {
  seed: number;
  /** Absent: no allowance at all (every revoked token in an order is a violation). */
  tokenTrust?: TokenTrust;
  startedAt: number;
  /** When every replica had started and the workload began (absent: startedAt). */
  readyAt?: number;
  endedAt: number;
  /** user id → customer id */
  users: Record<string, string>;
  ops: Op[];
  faults: Fault[];
  broker: BrokerOrder[];
  final: FinalRead[];
  /** Only the slowest cache calls are kept (those near or over the bound) plus a count. */
  cacheSamples: CacheSample[];
  cacheOpCount: number;
  stalls: Stall[];
}

/** Collects ops as they complete; ids are given in invoke order. */
export class HistoryRecorder {
  private nextId = 1;
  readonly ops: Op[] = [];
  readonly faults: Fault[] = [];
  readonly cacheSamples: CacheSample[] = [];
  cacheOpCount = 0;

  newId(): number {
    return this.nextId++;
  }

  op(op: Op): void {
    this.ops.push(op);
  }

  fault(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Keeps only calls slower than keepAboveMs: a run makes tens of thousands of fast ones. */
  cacheCall(sample: CacheSample, keepAboveMs: number): void {
    this.cacheOpCount++;
    if (sample.ms > keepAboveMs) this.cacheSamples.push(sample);
  }
}
