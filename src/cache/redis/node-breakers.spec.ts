import calculateSlot from 'cluster-key-slot';
import { NodeBreakers } from './node-breakers.js';
import type { Outcome } from './deadline-queue.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const C = '127.0.0.1:7003';

/** Three masters with ranges like `redis-cli --cluster create`'s; the slot table is mutable as ioredis' is. */
function cluster() {
  const slots: (string[] | undefined)[] = [];
  const assign = (from: number, to: number, node: string) => {
    const keys = [node];
    for (let s = from; s <= to; s++) slots[s] = keys;
  };
  assign(0, 5460, A);
  assign(5461, 10922, B);
  assign(10923, 16383, C);
  const clock = { now: 0 };
  const events: string[] = [];
  const outcomes = new Map<string, Outcome>();
  const nodes = new NodeBreakers(
    { failureThreshold: 2, halfOpenAfterMs: 100, halfOpenAfterMaxMs: 1_000 },
    () => slots,
    (breaker, node) => {
      const o = {
        answered: () => breaker.answered(),
        failed: () => breaker.timedOut(),
      };
      outcomes.set(node, o);
      return o;
    },
    {
      opened: (n) => events.push(`opened ${n}`),
      released: (n) => events.push(`released ${n}`),
    },
    () => clock.now,
    () => 1,
  );
  nodes.refresh();
  return { slots, assign, clock, events, nodes };
}

/** A key whose slot falls in [from, to]. */
function keyIn(from: number, to: number, tag = ''): string {
  for (let i = 0; ; i++) {
    const k = `k:${tag}${i}`;
    const s = calculateSlot(k);
    if (s >= from && s <= to) return k;
  }
}

const timeOut = (nodes: NodeBreakers, key: string, times: number) => {
  for (let i = 0; i < times; i++)
    nodes.forKey(key)!.outcome.failed(new Error('Command timed out'), true);
};

describe('NodeBreakers (Cluster: one breaker per master)', () => {
  it('attributes a key to the master of its slot (hash tags included)', () => {
    const { nodes } = cluster();
    expect(nodes.nodeOf(keyIn(0, 5460))).toBe(A);
    expect(nodes.nodeOf(keyIn(5461, 10922))).toBe(B);
    expect(nodes.nodeOf(keyIn(10923, 16383))).toBe(C);
    const tagged = keyIn(5461, 10922, 'x');
    expect(nodes.nodeOf(`{${tagged}}:other`)).toBe(B);
    expect(nodes.forKey(keyIn(0, 5460))!.node).toBe(A);
    expect(nodes.forKey(keyIn(0, 5460))).toBe(
      nodes.forKey(keyIn(0, 5460, 'y')),
    );
  });

  it("opens one master's breaker on its keys' timeouts while the others stay closed", () => {
    const { nodes, events } = cluster();
    const [a, b, c] = [keyIn(0, 5460), keyIn(5461, 10922), keyIn(10923, 16383)];
    timeOut(nodes, b, 1);
    nodes.forKey(a)!.outcome.failed(new Error('Command timed out'), true);
    expect(nodes.openNodes).toEqual([]);
    timeOut(nodes, b, 1);
    expect(events).toEqual([`opened ${B}`]);
    expect(nodes.openNodes).toEqual([B]);
    expect(nodes.usableFor(b)).toBe(false);
    expect(nodes.usableFor(a)).toBe(true);
    expect(nodes.usableFor(c)).toBe(true);
    expect(nodes.allOpen).toBe(false);
    expect([...nodes.notClosed()].map((n) => n.node)).toEqual([B]);
  });

  it('all masters open: allOpen, until one probe is answered', () => {
    const { nodes, clock, events } = cluster();
    const keys = [keyIn(0, 5460), keyIn(5461, 10922), keyIn(10923, 16383)];
    for (const k of keys) timeOut(nodes, k, 2);
    expect(nodes.allOpen).toBe(true);
    clock.now = 100;
    const a = nodes.forKey(keys[0])!;
    expect(a.breaker.tryProbe()).toBe(true);
    expect(nodes.usableFor(keys[0])).toBe(false);
    a.breaker.probeAnswered();
    expect(nodes.allOpen).toBe(false);
    expect(nodes.usableFor(keys[0])).toBe(true);
    expect(nodes.openNodes).toEqual([B, C]);
    expect(events.at(-1)).toBe(`released ${A}`);
  });

  it('a failover: the old master (no slot any more) is dropped, releasing its keys; the promoted one starts closed', () => {
    const { nodes, assign, events } = cluster();
    const b = keyIn(5461, 10922);
    timeOut(nodes, b, 2);
    expect(nodes.usableFor(b)).toBe(false);
    // Its replica on 7004 is promoted: ioredis' next slots refresh names it.
    assign(5461, 10922, '127.0.0.1:7004');
    expect(nodes.usableFor(b)).toBe(true);
    nodes.refresh();
    expect(events).toEqual([`opened ${B}`, `released ${B}`]);
    expect(nodes.openNodes).toEqual([]);
    expect(nodes.forKey(b)!.node).toBe('127.0.0.1:7004');
    expect(nodes.forKey(b)!.breaker.state).toBe('closed');
  });

  it('a breaker dropped by a failover stays silent: a late probe of the old master raises no event', () => {
    const { nodes, assign, events, clock } = cluster();
    const b = keyIn(5461, 10922);
    timeOut(nodes, b, 2);
    const old = nodes.forKey(b)!.breaker;
    assign(5461, 10922, '127.0.0.1:7004');
    nodes.refresh();
    events.length = 0;
    clock.now += 10_000;
    expect(old.tryProbe()).toBe(true);
    old.probeFailed();
    old.probeAnswered();
    expect(events).toEqual([]);
    expect(nodes.openNodes).toEqual([]);
  });

  it('a closed breaker of a node that left is dropped without an event; an unknown slot has no breaker', () => {
    const { nodes, slots, events } = cluster();
    const b = keyIn(5461, 10922);
    nodes.forKey(b);
    for (let s = 5461; s <= 10922; s++) slots[s] = undefined;
    nodes.refresh();
    expect(events).toEqual([]);
    expect(nodes.forKey(b)).toBeNull();
    expect(nodes.usableFor(b)).toBe(true);
  });
});
