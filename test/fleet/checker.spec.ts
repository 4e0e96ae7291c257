import { check, LIVENESS_MS, type Rule } from './checker.js';
import { healToFirstPlaced, refusalShare } from './recovery-figures.js';
import type { Bounds, BrokerOrder, FinalRead, History, Op } from './history.js';

/**
 * The checker must provably catch each violation: every rule is shown a hand-made history that
 * breaks it (and a near miss that does not), so a clean fleet run means something.
 */

const USERS = { U1: 'C1', U2: 'C2' };
const T1 = 'fp-t1';
const T2 = 'fp-t2';
const T_OTHER = 'fp-u2';

const bounds: Bounds = {
  cacheOpMs: 250,
  slackMs: 100,
  http: {
    'token.submit': () => 1000,
    'token.revoke': () => 1000,
    'token.read': () => 1000,
    'orders.read': () => 1000,
    'audit.read': () => 1000,
    order: () => 3000,
    signal: () => 3000,
  },
};

let nextId = 1;
function op(kind: Op['kind'], invokeAt: number, completeAt: number, extra: Partial<Op> = {}): Op {
  return { id: nextId++, kind, replica: 0, invokeAt, completeAt, status: 200, outcome: 'ok', body: {}, ...extra };
}
const submit = (userId: string, fingerprint: string, invokeAt: number, completeAt: number, extra: Partial<Op> = {}) =>
  op('token.submit', invokeAt, completeAt, { userId, fingerprint, ...extra });
const revoke = (userId: string, fingerprint: string, invokeAt: number, completeAt: number, extra: Partial<Op> = {}) =>
  op('token.revoke', invokeAt, completeAt, { userId, body: { revoked: true, token: { fingerprint } }, ...extra });
const signal = (signalId: string, users: string[], invokeAt: number, completeAt: number) => op('signal', invokeAt, completeAt, { signalId, users });

function placed(tradingSymbol: string, customerId: string, at: number, token: { user: string; fp: string }, orderId: string | null = `B${at}`): BrokerOrder {
  return {
    at,
    customerId,
    tokenUserId: token.user,
    tokenFingerprint: token.fp,
    tokenCustomerId: USERS[token.user as keyof typeof USERS],
    tradingSymbol,
    status: orderId ? 200 : 403,
    orderId,
  };
}

function read(replica: number, userId: string, fingerprint: string | null, status = fingerprint ? 'active' : 'none', audit: FinalRead['audit'] = []): FinalRead {
  return { replica, userId, fingerprint, status, audit };
}

/** U1 gets T1, U2 gets T_OTHER, every replica reads that and has both submits audited: clean. */
function baseline(): History {
  const audit1 = [{ action: 'submitted', fingerprint: T1 }];
  const audit2 = [{ action: 'submitted', fingerprint: T_OTHER }];
  return {
    seed: 1,
    startedAt: 0,
    endedAt: 10_000,
    users: USERS,
    ops: [submit('U1', T1, 0, 10), submit('U2', T_OTHER, 0, 10), signal('S1', ['U1', 'U2'], 100, 200)],
    faults: [],
    broker: [placed('S1', 'C1', 150, { user: 'U1', fp: T1 }), placed('S1', 'C2', 150, { user: 'U2', fp: T_OTHER })],
    final: [0, 1].flatMap((r) => [read(r, 'U1', T1, 'active', audit1), read(r, 'U2', T_OTHER, 'active', audit2)]),
    cacheSamples: [],
    cacheOpCount: 10,
    stalls: [],
  };
}

const rulesOf = (h: History): Rule[] => check(h, bounds).violations.map((v) => v.rule);

describe('fleet checker', () => {
  it('passes a clean history', () => {
    expect(check(baseline(), bounds).violations).toEqual([]);
  });

  describe('at-most-once', () => {
    it('catches one signal placed twice for one user (a retry on another replica)', () => {
      const h = baseline();
      h.ops.push(signal('S1', ['U1', 'U2'], 300, 400));
      h.broker.push(placed('S1', 'C1', 350, { user: 'U1', fp: T1 }));
      expect(rulesOf(h)).toEqual(['at-most-once']);
    });

    it('does not count a request the broker refused, nor the same signal for another user', () => {
      const h = baseline();
      h.broker.push(placed('S1', 'C1', 350, { user: 'U1', fp: T1 }, null));
      expect(rulesOf(h)).toEqual([]);
    });
  });

  describe('token-isolation', () => {
    it("catches an order that carried another user's token", () => {
      const h = baseline();
      h.ops.push(signal('S2', ['U1'], 300, 400));
      h.broker.push(placed('S2', 'C1', 350, { user: 'U2', fp: T_OTHER }));
      expect(rulesOf(h)).toEqual(['token-isolation']);
    });

    it('catches an order requested after the revoke of its token was acknowledged', () => {
      const h = baseline();
      h.ops.push(revoke('U1', T1, 300, 320), signal('S2', ['U1'], 400, 500));
      h.broker.push(placed('S2', 'C1', 450, { user: 'U1', fp: T1 }));
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, fingerprint: null, status: 'none', audit: [...r.audit, { action: 'deleted', fingerprint: T1 }] } : r));
      expect(rulesOf(h)).toEqual(['token-isolation']);
    });

    it('allows a revoked token on a replica cut off from Redis within the documented bound, and catches it past the bound', () => {
      const cutOff = (orderAt: number) => {
        const h = baseline();
        h.tokenTrust = { unconfirmedUseMs: 2_000, l1StalenessMs: 500, reconnectMs: 1_000, invalidationMs: 100 };
        h.faults.push({ kind: 'partition-blackhole', replica: 1, startAt: 1_000, endAt: 3_000 });
        // Revoked on replica 0 (Redis has it) while replica 1 is cut off; replica 1 sends the order.
        h.ops.push(revoke('U1', T1, 1_100, 1_200), op('signal', orderAt - 10, orderAt + 100, { signalId: 'S2', users: ['U1'], replica: 1 }));
        h.broker.push(placed('S2', 'C1', orderAt, { user: 'U1', fp: T1 }));
        h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, fingerprint: null, status: 'none', audit: [...r.audit, { action: 'deleted', fingerprint: T1 }] } : r));
        return h;
      };
      expect(rulesOf(cutOff(3_400))).toEqual([]);
      // 1,000 + 2,000 + 500: the bound ends at 3,500 ms.
      expect(rulesOf(cutOff(3_600))).toEqual(['token-isolation']);
      // The same order from replica 0, which was never cut off, is no exception.
      const h = cutOff(2_000);
      h.ops[h.ops.length - 1].replica = 0;
      expect(rulesOf(h)).toEqual(['token-isolation']);
      // Nor without the documented bound.
      const none = cutOff(2_000);
      delete none.tokenTrust;
      expect(rulesOf(none)).toEqual(['token-isolation']);
      // A token submitted on the cut-off replica while cut off: the bound counts from that submit.
      const own = cutOff(4_000);
      own.ops.push(submit('U1', 'fp-own', 1_500, 1_600, { replica: 1 }));
      own.broker[own.broker.length - 1] = placed('S2', 'C1', 4_000, { user: 'U1', fp: 'fp-own' });
      own.ops.splice(own.ops.findIndex((o) => o.kind === 'token.revoke'), 1, revoke('U1', 'fp-own', 1_700, 1_800));
      for (const r of own.final) if (r.userId === 'U1') r.audit.push({ action: 'submitted', fingerprint: 'fp-own' }, { action: 'deleted', fingerprint: 'fp-own' });
      expect(rulesOf(own)).toEqual([]);
      own.broker[own.broker.length - 1] = placed('S2', 'C1', 4_200, { user: 'U1', fp: 'fp-own' });
      own.ops.find((o) => o.signalId === 'S2')!.invokeAt = 4_190;
      expect(rulesOf(own)).toEqual(['token-isolation']);
    });

    it('allows an order requested before the revoke was acknowledged (in flight), even if it arrives later', () => {
      const h = baseline();
      h.ops.push(signal('S2', ['U1'], 300, 500), revoke('U1', T1, 310, 320));
      h.broker.push(placed('S2', 'C1', 450, { user: 'U1', fp: T1 }));
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, fingerprint: null, status: 'none', audit: [...r.audit, { action: 'deleted', fingerprint: T1 }] } : r));
      expect(rulesOf(h)).toEqual([]);
    });
  });

  describe('final-state', () => {
    it('catches an older acknowledged write that won over a later one', () => {
      const h = baseline();
      h.ops.push(submit('U1', T2, 300, 320));
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, audit: [...r.audit, { action: 'submitted', fingerprint: T2 }] } : r));
      expect(rulesOf(h)).toEqual(['final-state', 'final-state']);
    });

    it('catches a token that is back after an acknowledged revoke (a lost revoke)', () => {
      const h = baseline();
      h.ops.push(revoke('U1', T1, 300, 320));
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, audit: [...r.audit, { action: 'deleted', fingerprint: T1 }] } : r));
      expect(rulesOf(h)).toEqual(['final-state', 'final-state']);
    });

    it('accepts either of two concurrent writes, and a write whose answer never came', () => {
      const h = baseline();
      h.ops.push(submit('U1', T2, 5, 20), submit('U1', 'fp-lost', 30, 40, { status: null, outcome: 'info' }));
      const withT2 = [...h.final[0].audit, { action: 'submitted', fingerprint: T2 }];
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, audit: withT2 } : r));
      expect(rulesOf(h)).toEqual([]);
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, fingerprint: 'fp-lost' } : r));
      expect(rulesOf(h)).toEqual([]);
    });

    it('catches replicas that disagree, and a final read that failed', () => {
      const h = baseline();
      h.ops.push(submit('U1', T2, 5, 20));
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, audit: [...r.audit, { action: 'submitted', fingerprint: T2 }] } : r));
      h.final[0] = { ...h.final[0], fingerprint: T2 };
      expect(rulesOf(h)).toEqual(['final-state']);
      h.final[0] = { ...h.final[0], fingerprint: null, status: 'unreadable (HTTP 503)' };
      expect(rulesOf(h)).toEqual(['final-state', 'final-state']);
    });

    it('catches a newer token marked invalid (an old token’s 403), but allows a dead token to be invalid', () => {
      const h = baseline();
      h.final = h.final.map((r) => (r.userId === 'U1' ? { ...r, status: 'invalid' } : r));
      expect(rulesOf(h)).toEqual(['final-state', 'final-state']);
      h.ops[0] = { ...h.ops[0], brokerDead: true };
      expect(rulesOf(h)).toEqual([]);
    });
  });

  describe('audit', () => {
    it('catches an acknowledged submit missing from a replica’s audit trail', () => {
      const h = baseline();
      h.final[2] = { ...h.final[2], audit: [] };
      const result = check(h, bounds);
      expect(result.violations.map((v) => v.rule)).toEqual(['audit']);
      expect(result.violations[0].message).toContain('replica(s) 1');
    });

    it('does not require an event for a submit that was refused', () => {
      const h = baseline();
      h.ops.push(submit('U1', 'fp-refused', 5, 6, { status: 400, outcome: 'fail' }));
      expect(rulesOf(h)).toEqual([]);
    });
  });

  describe('bounds', () => {
    it('catches an HTTP operation slower than its bound plus the slack', () => {
      const h = baseline();
      h.ops.push(op('token.read', 1000, 2101, { userId: 'U1' }));
      expect(rulesOf(h)).toEqual(['bounds']);
      h.ops[h.ops.length - 1] = op('token.read', 1000, 2100, { userId: 'U1' });
      expect(rulesOf(h)).toEqual([]);
    });

    it('catches a cache call slower than the command timeout plus the slack', () => {
      const h = baseline();
      h.cacheSamples.push({ replica: 1, method: 'setIfAbsent', ms: 351, at: 500 });
      expect(rulesOf(h)).toEqual(['bounds']);
    });

    it('does not charge an operation for a stall of the shared event loop', () => {
      const h = baseline();
      h.cacheSamples.push({ replica: 1, method: 'set', ms: 500, at: 500 });
      h.stalls.push({ at: 800, ms: 200 });
      expect(rulesOf(h)).toEqual([]);
    });
  });
  describe('liveness', () => {
    const refused = (signalId: string, invokeAt: number, completeAt: number, replica = 0) =>
      op('signal', invokeAt, completeAt, {
        signalId,
        users: ['U1', 'U2'],
        replica,
        status: 200,
        body: { results: [{ outcome: 'not_placed', code: 'IDEMPOTENCY_UNAVAILABLE' }, { outcome: 'placed' }] },
      });
    const withFault = () => {
      const h = baseline();
      h.readyAt = 0;
      h.faults.push({ kind: 'redis-kill-empty', startAt: 1_000, endAt: 2_000 });
      return h;
    };

    it('catches a signal refused IDEMPOTENCY_UNAVAILABLE more than 1 s after the last fault healed', () => {
      const h = withFault();
      h.ops.push(refused('S2', 2_000 + LIVENESS_MS + 1, 2_000 + LIVENESS_MS + 50));
      const result = check(h, bounds);
      expect(result.violations.map((v) => v.rule)).toEqual(['liveness']);
      expect(result.violations[0].message).toContain(`${LIVENESS_MS + 1} ms after the last fault healed`);
    });

    it('allows a refusal within 1 s of the heal, during a fault, or by a request that overlapped one', () => {
      const h = withFault();
      h.ops.push(refused('S2', 2_000 + LIVENESS_MS, 2_000 + LIVENESS_MS + 50), refused('S3', 1_500, 1_600), refused('S4', 900, 1_100));
      expect(rulesOf(h)).toEqual([]);
    });

    it('counts from the start of the workload when no fault came before, and from the latest heal', () => {
      const early = baseline();
      early.readyAt = 0;
      early.ops.push(refused('S2', 500, 550));
      expect(rulesOf(early)).toEqual([]);
      early.ops.push(refused('S3', 1_100, 1_150));
      expect(rulesOf(early)).toEqual(['liveness']);
      // A later fault restarts the allowance; the earlier one's heal does not count.
      const h = withFault();
      h.faults.push({ kind: 'replica-kill', replica: 2, startAt: 5_000, endAt: 6_000 });
      h.ops.push(refused('S2', 6_500, 6_600));
      expect(rulesOf(h)).toEqual([]);
    });

    it('does not count other refusals (SIGNAL_IN_PROGRESS) or orders', () => {
      const h = withFault();
      h.ops.push(op('signal', 5_000, 5_100, { signalId: 'S2', users: ['U1'], body: { results: [{ outcome: 'unknown', code: 'SIGNAL_IN_PROGRESS' }] } }));
      h.ops.push(op('order', 5_000, 5_100, { signalId: 'O1', userId: 'U1', status: 503, outcome: 'fail', body: { code: 'IDEMPOTENCY_UNAVAILABLE' } }));
      expect(rulesOf(h)).toEqual([]);
    });
  });

  describe('liveness figures', () => {
    it('refusal share: refused per-user signal results over all per-user signal results', () => {
      const h = baseline();
      h.ops.push(op('signal', 300, 400, { signalId: 'S2', users: ['U1', 'U2'], body: { results: [{ outcome: 'not_placed', code: 'IDEMPOTENCY_UNAVAILABLE' }, { outcome: 'placed' }] } }));
      h.ops.push(op('signal', 500, 600, { signalId: 'S3', users: ['U1', 'U2'], body: { results: [{ outcome: 'placed' }, { outcome: 'placed' }] } }));
      expect(refusalShare(h)).toEqual({ refused: 1, results: 4, share: 0.25 });
    });

    it('heal → first placed signal per fault; a fault with none before the next one counts as infinite', () => {
      const h = baseline();
      h.endedAt = 20_000;
      h.faults.push({ kind: 'redis-kill-empty', startAt: 1_000, endAt: 2_000 }, { kind: 'redis-pause', startAt: 3_000, endAt: 4_000 }, { kind: 'partition-cut', replica: 1, startAt: 9_000, endAt: 10_000 });
      h.ops.push(signal('S2', ['U1'], 1_500, 2_500), signal('S3', ['U1'], 4_000, 4_800), signal('S4', ['U1'], 12_000, 12_100));
      // S2 placed 400 ms after the first heal; nothing between 4,000 and 9,000 but an order; S4 2,050 ms after the last.
      h.broker.push(placed('S2', 'C1', 2_400, { user: 'U1', fp: T1 }), placed('ORD', 'C1', 5_000, { user: 'U1', fp: T1 }), placed('S3', 'C1', 4_700, { user: 'U1', fp: T1 }, null), placed('S4', 'C1', 12_050, { user: 'U1', fp: T1 }));
      expect(healToFirstPlaced(h)).toEqual({ samples: [400, 2_050], none: 1, p50: 2_050, p99: Infinity, max: Infinity });
    });
  });
});
