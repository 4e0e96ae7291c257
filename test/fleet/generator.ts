import type { OpKind } from './history.js';
import type { Prng } from './prng.js';

/**
 * The workload: what the next client does, drawn from the seeded PRNG. Plans only; fleet.ts
 * mints the tokens and sends the requests. Signals carry their retries: the same signal id sent
 * to random replicas, some at once, some after a pause (a client retrying after a timeout).
 */

export interface Attempt {
  replica: number;
  /** Delay after the previous attempt was sent (0: concurrent with it). */
  delayMs: number;
  /** Wait for the previous attempt's answer before sending this one. */
  afterAnswer: boolean;
}

export type Plan =
  | { kind: 'token.submit'; userId: string; replica: number; brokerDead: boolean }
  | { kind: 'token.revoke' | 'token.read' | 'orders.read' | 'audit.read'; userId: string; replica: number }
  | { kind: 'order'; userId: string; replica: number; orderId: string }
  | { kind: 'signal'; signalId: string; users: string[] | 'all'; attempts: Attempt[] };

export const OP_WEIGHTS: Readonly<Record<OpKind, number>> = {
  'token.submit': 14,
  'token.revoke': 5,
  'token.read': 8,
  signal: 40,
  order: 15,
  'orders.read': 4,
  'audit.read': 4,
};

export class Generator {
  private signals = 0;
  private orders = 0;

  constructor(
    private readonly rng: Prng,
    private readonly userIds: readonly string[],
    private readonly replicas: number,
    /** Keeps ids unique across clients, each of which has its own generator. */
    private readonly prefix: string,
  ) {}

  next(): Plan {
    const kind = this.rng.weighted(OP_WEIGHTS);
    const userId = this.rng.pick(this.userIds);
    const replica = this.rng.int(0, this.replicas - 1);
    switch (kind) {
      case 'token.submit':
        // A token the broker no longer accepts: its orders get a 403 and invalidate it.
        return { kind, userId, replica, brokerDead: this.rng.chance(0.1) };
      case 'order':
        return { kind, userId, replica, orderId: `${this.prefix}-ord-${++this.orders}` };
      case 'signal':
        return { kind, signalId: `${this.prefix}-sig-${++this.signals}`, users: this.targets(), attempts: this.attempts() };
      default:
        return { kind, userId, replica };
    }
  }

  /** Pause between two plans of one client. */
  thinkMs(): number {
    return this.rng.int(0, 120);
  }

  private targets(): string[] | 'all' {
    if (this.rng.chance(0.3)) return 'all';
    const n = this.rng.int(1, this.userIds.length);
    const shuffled = [...this.userIds].sort(() => this.rng.next() - 0.5);
    return shuffled.slice(0, n);
  }

  private attempts(): Attempt[] {
    const count = this.rng.weighted({ 1: 4, 2: 4, 3: 2 });
    const out: Attempt[] = [];
    for (let i = 0; i < Number(count); i++) {
      const concurrent = i > 0 && this.rng.chance(0.3);
      out.push({
        replica: this.rng.int(0, this.replicas - 1),
        delayMs: i === 0 || concurrent ? 0 : this.rng.int(50, 2000),
        afterAnswer: i > 0 && !concurrent && this.rng.chance(0.5),
      });
    }
    return out;
  }
}
