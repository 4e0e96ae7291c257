import calculateSlot from 'cluster-key-slot';
import { CircuitBreaker, type BreakerOptions } from './circuit-breaker.js';
import type { Outcome } from './deadline-queue.js';

/** One Cluster master ("host:port", as in ioredis' slot table), its breaker and how its commands' outcomes reach it. */
export interface NodeBreaker {
  readonly node: string;
  readonly breaker: CircuitBreaker;
  readonly outcome: Outcome;
}

export interface NodeBreakerEvents {
  opened(node: string): void;
  /** The breaker closed, or it was dropped while not closed (the node no longer masters a slot): its keys may drain. */
  released(node: string): void;
}

/**
 * Cluster: one breaker per master, found through the slot of the command's key, so a master that
 * stops answering sends only its own slots to memory. Breakers are made on a key's first command
 * (closed), and dropped once their node masters no slot (a replica was promoted in its place).
 */
export class NodeBreakers {
  private readonly byNode = new Map<string, NodeBreaker>();
  /** The masters of the last slot-table refresh. */
  private masters = new Set<string>();
  /** Every master's breaker is open or half-open: nothing can be sent (the gateway is then unavailable). */
  allOpen = false;

  constructor(
    private readonly options: BreakerOptions,
    /** ioredis' `cluster.slots`: per slot the node keys serving it, master first. */
    private readonly slots: () => readonly (readonly string[] | undefined)[],
    private readonly outcomeFor: (
      breaker: CircuitBreaker,
      node: string,
    ) => Outcome,
    private readonly events: NodeBreakerEvents,
    private readonly now?: () => number,
    private readonly random?: () => number,
  ) {}

  /** The master serving `key`'s slot, or undefined while the slot table does not know it. */
  nodeOf(key: string): string | undefined {
    return this.slots()[calculateSlot(key)]?.[0];
  }

  /** The breaker of `key`'s master (made closed on first use); null while the slot has no known master. */
  forKey(key: string): NodeBreaker | null {
    const node = this.nodeOf(key);
    if (node === undefined) return null;
    return this.byNode.get(node) ?? this.add(node);
  }

  /** False when `key`'s master has a breaker that is not closed. */
  usableFor(key: string): boolean {
    const node = this.nodeOf(key);
    const b = node === undefined ? undefined : this.byNode.get(node);
    return b === undefined || b.breaker.state === 'closed';
  }

  /** Nodes whose breaker is open or half-open. */
  get openNodes(): string[] {
    const open: string[] = [];
    for (const [node, b] of this.byNode)
      if (b.breaker.state !== 'closed') open.push(node);
    return open;
  }

  /** Breakers that are open or half-open, for the probe. */
  *notClosed(): IterableIterator<NodeBreaker> {
    for (const b of this.byNode.values())
      if (b.breaker.state !== 'closed') yield b;
  }

  /** After ioredis refreshed its slot table: drops breakers of nodes that master no slot any more. */
  refresh(): void {
    const masters = new Set<string>();
    for (const nodes of this.slots())
      if (nodes?.[0] !== undefined) masters.add(nodes[0]);
    this.masters = masters;
    const released: string[] = [];
    for (const [node, b] of this.byNode) {
      if (masters.has(node)) continue;
      this.byNode.delete(node);
      if (b.breaker.state !== 'closed') released.push(node);
    }
    this.recount();
    for (const node of released) this.events.released(node);
  }

  private add(node: string): NodeBreaker {
    // A breaker dropped by a failover may still hear a late probe: it no longer speaks for the node.
    const current = () => this.byNode.get(node) === entry;
    const breaker: CircuitBreaker = new CircuitBreaker(
      this.options,
      {
        opened: () => {
          if (!current()) return;
          this.recount();
          this.events.opened(node);
        },
        closed: () => {
          if (!current()) return;
          this.recount();
          this.events.released(node);
        },
      },
      this.now,
      this.random,
    );
    const entry: NodeBreaker = { node, breaker, outcome: this.outcomeFor(breaker, node) };
    this.byNode.set(node, entry);
    return entry;
  }

  private recount(): void {
    if (this.masters.size === 0) {
      this.allOpen = false;
      return;
    }
    for (const m of this.masters) {
      const b = this.byNode.get(m);
      if (!b || b.breaker.state === 'closed') {
        this.allOpen = false;
        return;
      }
    }
    this.allOpen = true;
  }
}
