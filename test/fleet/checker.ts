import type { Bounds, BrokerOrder, Fault, FaultKind, FinalRead, History, Op } from './history.js';

/**
 * Judges a whole fleet history against the five safety rules of issue 11 and the liveness rule of
 * issue 19. Pure: it reads the
 * record only, so checker.spec.ts proves with hand-made histories that each rule catches its
 * violation. Real times are Date.now() of the one test process, which the nemesis never skews.
 */

export const RULES = ['at-most-once', 'token-isolation', 'final-state', 'audit', 'bounds', 'liveness'] as const;

/** Issue 19: once the last fault healed and every replica is back, claims are granted again within this. */
export const LIVENESS_MS = 1_000;
export const REFUSED = 'IDEMPOTENCY_UNAVAILABLE';
export type Rule = (typeof RULES)[number];

export interface Violation {
  rule: Rule;
  message: string;
  opIds?: number[];
  /** Real time the violation shows at, so the report can name the fault active then. */
  at?: number;
}

export interface CheckResult {
  violations: Violation[];
  byRule: Record<Rule, number>;
}

export function check(history: History, bounds: Bounds): CheckResult {
  const violations = [
    ...atMostOnce(history),
    ...tokenIsolation(history),
    ...finalState(history),
    ...auditTrail(history),
    ...withinBounds(history, bounds),
    ...liveness(history),
  ];
  const byRule = Object.fromEntries(RULES.map((r) => [r, 0])) as Record<Rule, number>;
  for (const v of violations) byRule[v.rule]++;
  return { violations, byRule };
}

const customerToUser = (h: History) => new Map(Object.entries(h.users).map(([u, c]) => [c, u]));

/** Rule 1: every (signal or order id, user) was accepted by the broker at most once. */
export function atMostOnce(h: History): Violation[] {
  const placed = new Map<string, BrokerOrder[]>();
  for (const b of h.broker) {
    if (b.orderId === null) continue;
    const key = `${b.tradingSymbol}|${b.customerId}`;
    placed.set(key, [...(placed.get(key) ?? []), b]);
  }
  const out: Violation[] = [];
  for (const [key, list] of placed) {
    if (list.length <= 1) continue;
    const [id, customer] = key.split('|');
    const ops = h.ops.filter((o) => o.signalId === id).map((o) => o.id);
    out.push({
      rule: 'at-most-once',
      message: `${id} reached the broker ${list.length} times for customer ${customer} (broker order ids ${list.map((b) => b.orderId).join(', ')})`,
      opIds: ops,
      at: list[1].at,
    });
  }
  return out;
}

/** Faults during which a replica cannot reach Redis: its own link, or Redis itself. */
const CUTS_OFF: ReadonlySet<FaultKind> = new Set([
  'partition-cut',
  'partition-blackhole',
  'skewed-partition',
  'redis-kill-keep',
  'redis-kill-empty',
  'redis-pause',
  'redis-restart-older',
  'failover-lagging',
]);

/**
 * The documented allowance (RELIABILITY.md): a replica that could not hear a revoke, because it
 * was cut off from Redis when the revoke was acknowledged (or was still reconnecting), may send an
 * order with the revoked token until `unconfirmedUseMs` (+ L1 staleness) after the last moment
 * something vouched for the token there: losing Redis, or its own submit of that token made while
 * cut off (which the revoking replica could not see either); no later.
 */
function cutOffAllowance(h: History, b: BrokerOrder, revoke: Op, causes: Op[]): Fault | undefined {
  const t = h.tokenTrust;
  if (!t) return undefined;
  const sending = [...new Set(causes.filter((c) => c.invokeAt <= b.at && b.at <= c.completeAt).map((c) => c.replica))];
  for (const replica of sending) {
    const found = h.faults.find((f) => {
      if (!CUTS_OFF.has(f.kind) || (f.replica !== undefined && f.replica !== replica) || f.startAt > b.at) return false;
      if (revoke.completeAt < f.startAt - t.invalidationMs || revoke.completeAt > f.endAt + t.reconnectMs) return false;
      const ownSubmits = h.ops
        .filter((o) => o.kind === 'token.submit' && o.replica === replica && o.fingerprint === b.tokenFingerprint && o.outcome !== 'fail' && o.invokeAt >= f.startAt && o.invokeAt <= b.at)
        .map((o) => Math.min(o.completeAt, b.at));
      const vouched = Math.max(f.startAt, ...ownSubmits);
      return b.at <= vouched + t.unconfirmedUseMs + t.l1StalenessMs;
    });
    if (found) return found;
  }
  return undefined;
}

/**
 * Rule 2: an order carries its own user's token, and never a token whose revoke was acknowledged
 * before the operation that sent the order was even invoked (an order already in flight when the
 * revoke was acknowledged may legitimately still carry it), except within the documented bound on
 * a replica cut off from Redis (cutOffAllowance).
 */
export function tokenIsolation(h: History): Violation[] {
  const byCustomer = customerToUser(h);
  const out: Violation[] = [];
  for (const b of h.broker) {
    const user = byCustomer.get(b.customerId);
    if (b.tokenUserId !== null && user !== undefined && b.tokenUserId !== user) {
      out.push({ rule: 'token-isolation', message: `an order for ${user} (${b.tradingSymbol}) carried ${b.tokenUserId}'s token ${b.tokenFingerprint}`, at: b.at });
      continue;
    }
    if (b.tokenCustomerId !== null && b.tokenCustomerId !== b.customerId) {
      out.push({ rule: 'token-isolation', message: `an order for customer ${b.customerId} (${b.tradingSymbol}) carried customer ${b.tokenCustomerId}'s token`, at: b.at });
      continue;
    }
    if (user === undefined) continue;
    const causes = h.ops.filter((o) => o.signalId === b.tradingSymbol && (o.kind === 'order' ? o.userId === user : o.users?.includes(user)));
    if (causes.length === 0) continue;
    const firstInvoke = Math.min(...causes.map((o) => o.invokeAt));
    const submits = h.ops.filter((o) => o.kind === 'token.submit' && o.userId === user && o.outcome === 'ok' && o.fingerprint === b.tokenFingerprint);
    const revoke = h.ops.find(
      (r) => r.kind === 'token.revoke' && r.userId === user && r.outcome === 'ok' && submits.some((s) => s.completeAt < r.invokeAt) && r.completeAt < firstInvoke,
    );
    if (revoke && !cutOffAllowance(h, b, revoke, causes)) {
      out.push({
        rule: 'token-isolation',
        message: `${b.tradingSymbol} for ${user} carried token ${b.tokenFingerprint} at ${iso(b.at)}, revoked (op ${revoke.id} on replica ${revoke.replica}, acknowledged ${iso(revoke.completeAt)}) before the order was requested (${iso(firstInvoke)}); in flight on replica(s) ${[...new Set(causes.filter((c) => c.invokeAt <= b.at && b.at <= c.completeAt).map((c) => c.replica))].join(', ') || 'none'}`,
        opIds: [revoke.id, ...causes.map((o) => o.id)],
        at: b.at,
      });
    }
  }
  return out;
}

type State = { fingerprint: string | null; invalidOk: boolean };

/**
 * Rule 3: what every replica reads at the end is the effect of a token write (or revoke) that no
 * acknowledged write strictly followed in real time, and all replicas read the same. A write with
 * no answer may have landed at any time, so it is never "strictly followed".
 */
export function finalState(h: History): Violation[] {
  const out: Violation[] = [];
  for (const userId of Object.keys(h.users)) {
    const reads = h.final.filter((f) => f.userId === userId);
    if (reads.length === 0) continue;
    const writes = h.ops.filter((o) => o.userId === userId && (o.kind === 'token.submit' || o.kind === 'token.revoke') && o.outcome !== 'fail');
    const acked = writes.filter((w) => w.outcome === 'ok');
    const last = writes.filter((w) => !acked.some((a) => a !== w && w.outcome === 'ok' && a.invokeAt > w.completeAt));
    const allowed: State[] = last.map((w) => ({ fingerprint: w.kind === 'token.submit' ? (w.fingerprint ?? null) : null, invalidOk: w.brokerDead === true }));
    if (acked.length === 0) allowed.push({ fingerprint: null, invalidOk: false });
    for (const r of reads) {
      const fits =
        !r.status.startsWith('unreadable') && allowed.some((s) => s.fingerprint === r.fingerprint && (r.fingerprint === null || r.status === 'active' || (r.status === 'invalid' && s.invalidOk)));
      if (!fits) {
        out.push({
          rule: 'final-state',
          message: `replica ${r.replica} reads ${userId}'s token as ${r.fingerprint ?? 'none'} (${r.status}); allowed: ${allowed.map((s) => s.fingerprint ?? 'none').join(' or ')} (active)`,
          opIds: last.map((w) => w.id),
        });
      }
    }
    const seen = new Set(reads.map((r) => `${r.fingerprint}/${r.status}`));
    if (seen.size > 1) {
      out.push({ rule: 'final-state', message: `replicas disagree on ${userId}'s token: ${[...seen].join(' vs ')}` });
    }
  }
  return out;
}

/** Rule 4: every acknowledged submit and revoke is in the audit trail every replica returns. */
export function auditTrail(h: History): Violation[] {
  const out: Violation[] = [];
  for (const op of h.ops) {
    if (op.outcome !== 'ok') continue;
    const expected = expectedAudit(op);
    if (!expected) continue;
    const lacking = h.final
      .filter((f) => f.userId === op.userId)
      .filter((r) => !r.audit.some((e) => e.action === expected.action && e.fingerprint === expected.fingerprint))
      .map((r) => r.replica);
    if (lacking.length > 0) {
      out.push({
        rule: 'audit',
        message: `the audit trail of ${op.userId} lacks "${expected.action}" ${expected.fingerprint ?? '(no fingerprint)'} (op ${op.id} on replica ${op.replica}, acknowledged ${iso(op.completeAt)}) on replica(s) ${lacking.join(', ')}`,
        opIds: [op.id],
        at: op.completeAt,
      });
    }
  }
  return out;
}

function expectedAudit(op: Op): { action: string; fingerprint: string | null } | undefined {
  if (op.kind === 'token.submit' && op.fingerprint) return { action: 'submitted', fingerprint: op.fingerprint };
  if (op.kind === 'token.revoke') {
    const body = op.body as { revoked?: boolean; token?: { fingerprint?: string } | null } | null;
    // A revoke whose record was unreadable is audited without a fingerprint.
    if (body?.revoked) return { action: 'deleted', fingerprint: body.token?.fingerprint ?? null };
  }
  return undefined;
}

/**
 * Rule 5: no HTTP operation and no cache call waited longer than its documented bound. Time the
 * shared event loop stood still during the operation is not charged to it (see Stall).
 */
export function withinBounds(h: History, bounds: Bounds): Violation[] {
  const out: Violation[] = [];
  const stalled = (from: number, to: number) => stalledBetween(h, from, to);
  for (const op of h.ops) {
    const bound = bounds.http[op.kind](op) + bounds.slackMs;
    const took = op.completeAt - op.invokeAt;
    const charged = took - stalled(op.invokeAt, op.completeAt);
    if (charged > bound) {
      out.push({ rule: 'bounds', message: `op ${op.id} ${op.kind} on replica ${op.replica} took ${took} ms (${charged} ms not counting stalls of the shared event loop; bound ${bound} ms, status ${op.status ?? 'none'})`, opIds: [op.id], at: op.invokeAt });
    }
  }
  const cacheBound = bounds.cacheOpMs + bounds.slackMs;
  for (const s of h.cacheSamples) {
    const charged = s.ms - stalled(s.at, s.at + s.ms);
    if (charged > cacheBound) {
      out.push({ rule: 'bounds', message: `cache ${s.method} on replica ${s.replica} took ${Math.round(s.ms)} ms at ${iso(s.at)} (${Math.round(charged)} ms not counting stalls of the shared event loop; bound ${cacheBound} ms)`, at: s.at });
    }
  }
  return out;
}

/** Per-user result codes of a signal op (placed, IDEMPOTENCY_UNAVAILABLE, ...). */
export function signalCodes(op: Op): string[] {
  const body = op.body as { results?: { outcome?: string; code?: string }[] } | null;
  return op.kind === 'signal' ? (body?.results ?? []).map((r) => r.code ?? r.outcome ?? 'unknown') : [];
}

/** Milliseconds the shared event loop stood still between two moments (see Stall). */
function stalledBetween(h: History, from: number, to: number): number {
  return h.stalls.filter((s) => s.at >= from && s.at - s.ms <= to).reduce((sum, s) => sum + s.ms, 0);
}

/**
 * Rule 6 (issue 19): no signal is refused as IDEMPOTENCY_UNAVAILABLE more than LIVENESS_MS after
 * the last fault healed (a restarted replica is back when its fault ends). A signal whose request
 * overlapped a fault is not judged: the fault may be why. As for the bounds, time the shared event
 * loop stood still since the heal is not counted: the replicas could not run then.
 */
export function liveness(h: History): Violation[] {
  const out: Violation[] = [];
  for (const op of h.ops) {
    const refused = signalCodes(op).filter((c) => c === REFUSED).length;
    if (refused === 0) continue;
    if (h.faults.some((f) => f.startAt <= op.completeAt && op.invokeAt <= f.endAt)) continue;
    const healedAt = Math.max(h.readyAt ?? h.startedAt, ...h.faults.filter((f) => f.endAt < op.invokeAt).map((f) => f.endAt));
    const charged = op.invokeAt - healedAt - stalledBetween(h, healedAt, op.invokeAt);
    if (charged > LIVENESS_MS) {
      out.push({
        rule: 'liveness',
        message: `signal ${op.signalId} on replica ${op.replica} was refused ${REFUSED} for ${refused} user(s) ${op.invokeAt - healedAt} ms after the last fault healed (${charged} ms not counting stalls of the shared event loop; bound ${LIVENESS_MS} ms)`,
        opIds: [op.id],
        at: op.invokeAt,
      });
    }
  }
  return out;
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : String(ms));

/** The fault active at a moment, else the one that healed last before it (effects such as a replay come right after). */
export function faultAround(h: History, at: number, afterMs = 3_000): string | undefined {
  const where = (f: History['faults'][number]) => (f.replica === undefined ? '' : ` replica ${f.replica}`);
  const during = h.faults.find((x) => x.startAt <= at && at <= x.endAt);
  if (during) return `during ${during.kind}${where(during)}`;
  const before = h.faults.filter((x) => x.endAt < at && at <= x.endAt + afterMs).sort((a, b) => b.endAt - a.endAt)[0];
  return before ? `just after ${before.kind}${where(before)}` : undefined;
}

/** Summary lines for the test output and RELIABILITY.md. */
export function describeViolations(result: CheckResult, h?: History, max = 20): string {
  const lines = RULES.map((r) => `  ${r}: ${result.byRule[r]}`);
  for (const v of result.violations.slice(0, max)) {
    const context = h && v.at !== undefined ? faultAround(h, v.at) : undefined;
    lines.push(`  [${v.rule}] ${v.message}${context ? ` [${context}]` : h && v.at !== undefined ? ' [no fault nearby]' : ''}`);
  }
  if (result.violations.length > max) lines.push(`  ... and ${result.violations.length - max} more`);
  return lines.join('\n');
}

export type { FinalRead };
