import { setTimeout as sleep } from 'node:timers/promises';
import {
  failoverToLagging,
  startLaggingReplica,
} from '../helpers/redis-replica.js';
import { buildApp, type AppBuild } from './build.js';
import {
  resultCodes,
  REVOKE_BOUND_MS,
  startForgetFleet,
  type ForgetFleet,
  type UserId,
} from './harness.js';

/**
 * Issue 19: Redis that forgets. Each scenario runs three replica processes (A, B, C) against one
 * Redis and an independent fake broker, makes Redis lose acknowledged writes the way production
 * Redis does (restart from an older RDB, failover to a lagging replica, empty restart, a replica
 * SIGKILLed at the same time), then holds the broker's own record and every replica's view to:
 * no (signal, user) placed twice, no order on a revoked token past the bound, no acknowledged
 * token write or audit event lost. Soft assertions, so a failing run reports every number.
 */

let build: AppBuild;
beforeAll(async () => {
  build = await buildApp();
}, 120_000);
afterAll(() => build?.remove());

const report = (line: string) => process.stdout.write(`[forget] ${line}\n`);
const placedAll = (body: any) =>
  Array.isArray(body?.results) &&
  body.results.every((r: { outcome: string }) => r.outcome === 'placed');
const SIGNAL_USERS: UserId[] = ['U1', 'U2'];

async function expectSignalsPlaced(
  fleet: ForgetFleet,
  replica: number,
  ids: string[],
  users: UserId[],
): Promise<void> {
  for (const id of ids) {
    const a = await fleet.signal(replica, id, users);
    expect(placedAll(a.body), `${id}: ${JSON.stringify(a.body)}`).toBe(true);
  }
}

/** Every replica reads `fingerprint` as the user's current token and has it in its audit trail. */
async function expectTokenEverywhere(
  fleet: ForgetFleet,
  user: UserId,
  fingerprint: string,
): Promise<void> {
  for (let i = 0; i < fleet.replicas.length; i++) {
    expect
      .soft(
        await fleet.tokenOf(i, user),
        `${fleet.replicas[i].name}: ${user}'s token`,
      )
      .toBe(fingerprint);
    expect
      .soft(
        await fleet.auditOf(i, user),
        `${fleet.replicas[i].name}: ${user}'s audit`,
      )
      .toContainEqual({ action: 'submitted', fingerprint });
  }
}

/** Every replica reads no token for the user and has the revoke in its audit trail. */
async function expectRevokedEverywhere(
  fleet: ForgetFleet,
  user: UserId,
  fingerprint: string,
): Promise<void> {
  for (let i = 0; i < fleet.replicas.length; i++) {
    expect
      .soft(
        await fleet.tokenOf(i, user),
        `${fleet.replicas[i].name}: ${user}'s token after its revoke`,
      )
      .toBeNull();
    expect
      .soft(
        await fleet.auditOf(i, user),
        `${fleet.replicas[i].name}: ${user}'s audit`,
      )
      .toContainEqual({ action: 'deleted', fingerprint });
  }
}

/** Orders on the revoked token after its 200, and after the bound (the violation). */
function revokedTokenUse(fleet: ForgetFleet, token: string, ackAt: number) {
  const after = fleet.ordersWithTokenAfter(token, ackAt);
  const past = after.filter((o) => o.at > ackAt + REVOKE_BOUND_MS);
  return {
    after: after.length,
    past: past.length,
    latestMs: after.length ? Math.max(...after.map((o) => o.at - ackAt)) : null,
  };
}

/**
 * Keeps trading for the user with fresh signals on every replica until well past the revoke bound
 * (and at least `minMs`), so a resurrected token shows at the broker.
 */
async function tradeThroughBound(
  fleet: ForgetFleet,
  prefix: string,
  user: UserId,
  revokeAckAt: number,
  minMs = 1500,
) {
  const until = Math.max(
    revokeAckAt + REVOKE_BOUND_MS + 1500,
    Date.now() + minMs,
  );
  await fleet.hammer(prefix, [user], () => Date.now() >= until, 100);
}

/** Counted at the broker: no (signal, user) pair placed twice. */
function expectNoPairPlacedTwice(fleet: { duplicates(): unknown[] }): void {
  expect.soft(fleet.duplicates(), 'pairs placed twice at the broker').toEqual([]);
}

/** Counted at the broker: no order carried the revoked token past the bound after the revoke's 200. */
function expectNoOrderPastTheBound(use: { past: number }): void {
  expect.soft(use.past, 'orders on the revoked token past the bound').toBe(0);
}

describe('Redis that forgets (issue 19), replicas as processes', () => {
  it('(a) restart from an RDB saved before: acknowledged signals are not placed again on other replicas, a later submit survives', async () => {
    const fleet = await startForgetFleet(build);
    for (const u of SIGNAL_USERS)
      expect((await fleet.submit(0, u)).status).toBe(200);
    const copy = await fleet.redis.copyData();
    const signals = ['a-sig-1', 'a-sig-2', 'a-sig-3', 'a-sig-4', 'a-sig-5'];
    await expectSignalsPlaced(fleet, 0, signals, SIGNAL_USERS);
    const u3 = await fleet.submit(0, 'U3');
    expect(u3.status).toBe(200);

    await fleet.redis.restartFrom(copy);
    await fleet.waitAllOnRedis();
    for (const s of signals)
      for (const replica of [1, 2])
        await fleet.signalUntilDecided(replica, s, SIGNAL_USERS);

    report(
      `(a) pairs placed twice: ${fleet.duplicates().length} of ${signals.length * SIGNAL_USERS.length}`,
    );
    expectNoPairPlacedTwice(fleet);
    await expectTokenEverywhere(fleet, 'U3', u3.fingerprint);
  }, 60_000);

  it('(b) restart from an RDB saved before: a revoke acknowledged after it holds, a submit acknowledged after it stays current', async () => {
    const fleet = await startForgetFleet(build);
    const t1 = await fleet.submit(0, 'U1');
    await fleet.submit(0, 'U2');
    // Every replica has traded with both tokens, as a live fleet has.
    for (const replica of [0, 1, 2])
      await expectSignalsPlaced(
        fleet,
        replica,
        [`b-warm-${replica}`],
        SIGNAL_USERS,
      );
    const copy = await fleet.redis.copyData();
    const revoke = await fleet.revoke(0, 'U1');
    expect(revoke.status).toBe(200);
    const t2 = await fleet.submit(0, 'U2');
    expect(t2.status).toBe(200);

    await fleet.redis.restartFrom(copy);
    await fleet.waitAllOnRedis();
    await tradeThroughBound(fleet, 'b-after', 'U1', revoke.at);

    const use = revokedTokenUse(fleet, t1.token, revoke.at);
    report(
      `(b) orders on the revoked token after its 200: ${use.after}, past the ${REVOKE_BOUND_MS} ms bound: ${use.past} (latest ${use.latestMs} ms after the 200)`,
    );
    expectNoOrderPastTheBound(use);
    await expectRevokedEverywhere(fleet, 'U1', t1.fingerprint);
    await expectTokenEverywhere(fleet, 'U2', t2.fingerprint);
  }, 60_000);

  it('(c) failover to a replica that missed the last writes: no signal placed twice, the revoke holds, the submit stays current', async () => {
    const fleet = await startForgetFleet(build);
    const lagging = await startLaggingReplica(fleet.redis);
    onTestFinished(() => lagging.stop());
    const t1 = await fleet.submit(0, 'U1');
    await fleet.submit(0, 'U2');
    for (const replica of [0, 1, 2])
      await expectSignalsPlaced(
        fleet,
        replica,
        [`c-warm-${replica}`],
        SIGNAL_USERS,
      );
    await lagging.waitInSync();
    lagging.pauseReplication();
    const signals = ['c-sig-1', 'c-sig-2', 'c-sig-3'];
    await expectSignalsPlaced(fleet, 0, signals, SIGNAL_USERS);
    const revoke = await fleet.revoke(0, 'U1');
    expect(revoke.status).toBe(200);
    const t2 = await fleet.submit(0, 'U2');
    expect(t2.status).toBe(200);

    await failoverToLagging(fleet.redis, lagging, fleet.proxies);
    await fleet.waitAllOnRedis();
    for (const s of signals)
      for (const replica of [1, 2])
        await fleet.signalUntilDecided(replica, s, SIGNAL_USERS);
    await tradeThroughBound(fleet, 'c-after', 'U1', revoke.at);

    const use = revokedTokenUse(fleet, t1.token, revoke.at);
    report(
      `(c) pairs placed twice: ${fleet.duplicates().length} of ${signals.length * SIGNAL_USERS.length}; orders on the revoked token past the bound: ${use.past} of ${use.after} (latest ${use.latestMs} ms after the 200)`,
    );
    expectNoPairPlacedTwice(fleet);
    expectNoOrderPastTheBound(use);
    // U1's revoke was made after the pause, so its audit event must come back from the replicas.
    await expectRevokedEverywhere(fleet, 'U1', t1.fingerprint);
    await expectTokenEverywhere(fleet, 'U2', t2.fingerprint);
  }, 60_000);

  it('(d) empty restart: a token revoked while one replica was cut off is not resurrected by that replica', async () => {
    const fleet = await startForgetFleet(build);
    const t1 = await fleet.submit(0, 'U1');
    // B has traded with the token, so it holds it in memory; then B loses Redis and misses the revoke.
    await expectSignalsPlaced(fleet, 1, ['d-warm'], ['U1']);
    fleet.proxies[1].cut();
    const revoke = await fleet.revoke(0, 'U1');
    expect(revoke.status).toBe(200);
    await fleet.redis.kill();
    // A (which holds the revoke) is back a little after B: B's stale copy reaches the empty Redis first.
    fleet.proxies[0].cut();
    await sleep(Math.max(0, revoke.at + REVOKE_BOUND_MS + 300 - Date.now()));
    await fleet.redis.restart();
    fleet.proxies[1].restore();
    const backAt = Date.now();
    const beforeA = await fleet.hammer(
      'd-before-a',
      ['U1'],
      () => Date.now() >= backAt + 2000,
      30,
      [1, 1, 2],
      'order',
    );
    fleet.proxies[0].restore();
    const afterA = await fleet.hammer(
      'd-after-a',
      ['U1'],
      () => Date.now() >= backAt + 3500,
      50,
      undefined,
      'order',
    );

    const use = revokedTokenUse(fleet, t1.token, revoke.at);
    const past = fleet
      .ordersWithTokenAfter(t1.token, revoke.at + REVOKE_BOUND_MS)
      .map((o) => o.at - backAt);
    report(
      `(d) orders on the revoked token past the bound: ${use.past} (${past.length ? `${past[0]}-${past[past.length - 1]}` : '-'} ms after Redis was back, A back at 2000 ms); results before A: ${JSON.stringify(resultCodes(beforeA))}, after: ${JSON.stringify(resultCodes(afterA))}`,
    );
    expectNoOrderPastTheBound(use);
    await fleet.waitAllOnRedis();
    await expectRevokedEverywhere(fleet, 'U1', t1.fingerprint);
  }, 60_000);

  it('(e) a replica SIGKILLed right after acknowledging a claim, a revoke and a submit, Redis restarting empty: nothing lost', async () => {
    const fleet = await startForgetFleet(build);
    const t1 = await fleet.submit(0, 'U1');
    await fleet.submit(0, 'U2');
    await fleet.submit(0, 'U3');
    for (const replica of [1, 2])
      await expectSignalsPlaced(
        fleet,
        replica,
        [`e-warm-${replica}`],
        SIGNAL_USERS,
      );
    // Past the snapshot's debounce: A's file holds the state before the three writes.
    await sleep(1500);
    const claim = await fleet.signal(0, 'e-sig-1', ['U3']);
    expect(placedAll(claim.body), JSON.stringify(claim.body)).toBe(true);
    const revoke = await fleet.revoke(0, 'U1');
    expect(revoke.status).toBe(200);
    const t2 = await fleet.submit(0, 'U2');
    expect(t2.status).toBe(200);
    await fleet.replicas[0].kill();
    const killedMs = Date.now() - claim.at;
    await fleet.redis.kill();
    await fleet.redis.restart();
    await fleet.replicas[0].start();
    await fleet.waitAllOnRedis();
    for (const replica of [1, 2, 0])
      await fleet.signalUntilDecided(replica, 'e-sig-1', ['U3']);
    await tradeThroughBound(fleet, 'e-after', 'U1', revoke.at);

    const use = revokedTokenUse(fleet, t1.token, revoke.at);
    report(
      `(e) A killed ${killedMs} ms after the claim's answer; pairs placed twice: ${fleet.duplicates().length}; orders on the revoked token past the bound: ${use.past} of ${use.after}`,
    );
    expectNoPairPlacedTwice(fleet);
    expectNoOrderPastTheBound(use);
    await expectRevokedEverywhere(fleet, 'U1', t1.fingerprint);
    await expectTokenEverywhere(fleet, 'U2', t2.fingerprint);
  }, 60_000);

  it('(f) trading resumes soon after Redis answers again: empty restart, restart from an older RDB, 2 s SIGSTOP', async () => {
    const fleet = await startForgetFleet(build);
    await fleet.submit(0, 'U1');
    for (const replica of [0, 1, 2])
      await expectSignalsPlaced(fleet, replica, [`f-warm-${replica}`], ['U1']);
    const faults: [string, () => Promise<void>][] = [
      [
        'empty restart',
        async () => (await fleet.redis.kill(), await fleet.redis.restart()),
      ],
      [
        'restart from an older RDB',
        async () => {
          const copy = await fleet.redis.copyData();
          await fleet.submit(0, 'U2');
          await fleet.redis.kill();
          await fleet.redis.restartFrom(copy);
        },
      ],
      [
        '2 s SIGSTOP',
        async () => (
          fleet.redis.pause(),
          await sleep(2000),
          fleet.redis.resume()
        ),
      ],
    ];
    const measured: Record<string, number | null> = {};
    for (const [name, fault] of faults) {
      await fleet.waitAllOnRedis();
      const prefix = `f-${name.replace(/\W+/g, '-')}`;
      let backAt = Infinity;
      const firstPlaced = () =>
        fleet.fake.orderAttempts.find(
          (o) =>
            o.orderId && o.tradingSymbol.startsWith(prefix) && o.at >= backAt,
        );
      const trading = fleet.hammer(
        prefix,
        ['U1'],
        () => firstPlaced() !== undefined || Date.now() > backAt + 15_000,
        50,
      );
      await fault();
      backAt = Date.now();
      await trading;
      const first = firstPlaced();
      measured[name] = first ? first.at - backAt : null;
    }
    report(
      `(f) Redis answering again → first placed signal (retrying every 50 ms): ${Object.entries(
        measured,
      )
        .map(([k, v]) => `${k} ${v ?? '>15000'} ms`)
        .join('; ')}`,
    );
    // The goal is 1 s (issue 19); 5 s keeps margin for three processes on a loaded 2-core machine.
    for (const [name, ms] of Object.entries(measured))
      expect
        .soft(ms ?? Infinity, `${name}: ms to the first placed signal`)
        .toBeLessThanOrEqual(5_000);
  }, 90_000);
});
