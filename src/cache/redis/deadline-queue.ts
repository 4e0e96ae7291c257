interface Entry {
  at: number;
  resolve(v: unknown): void;
  reject(err: unknown): void;
  settled: boolean;
  outcome: Outcome | undefined;
  next: Continuation<never, unknown> | undefined;
}

/** Told once how a bounded operation ended: answered, failed, or expired (`timedOut`). */
export interface Outcome {
  answered(): void;
  failed(err: unknown, timedOut: boolean): void;
}

/**
 * What a caller does with the answer, run in the same step as the answer: the caller's result is
 * the bounded promise itself, with no promise (and no microtask hop) of its own on the hot path.
 */
export interface Continuation<T, R> {
  answered(value: T): R | PromiseLike<R>;
  failed(err: unknown): R | PromiseLike<R>;
}

/** Dropped entries are cut off the front of the array once there are this many. */
const COMPACT_AT = 1024;

/**
 * Bounds every in-flight operation with one shared timer instead of one timer per operation.
 * Every operation gets the same budget, so deadlines arrive in the order operations started and the
 * oldest unsettled entry is always the next to expire. On the hot path this replaces ioredis'
 * per-command timer, which costs about 7% of a lone GET (BENCHMARKS.md).
 */
export class DeadlineQueue {
  private entries: Entry[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly budgetMs: number,
    private readonly message = 'Command timed out',
  ) {}

  /** Operations started and not yet settled or expired (for tests: the queue must drain). */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.entries.length; i++) if (!this.entries[i].settled) n++;
    return n;
  }

  /** When the oldest operation still waiting started (performance.now), or null when none waits. */
  oldestStart(): number | null {
    this.dropSettled();
    return this.head < this.entries.length ? this.entries[this.head].at - this.budgetMs : null;
  }

  /**
   * `op`'s outcome, or a rejection with `message` once the budget has passed; `outcome` hears which
   * (the one promise per operation also feeds the circuit breaker). With `next`, the promise
   * settles with what `next` makes of the answer or the failure instead.
   */
  bound<T>(op: Promise<T>, outcome?: Outcome): Promise<T>;
  bound<T, R>(op: Promise<T>, outcome: Outcome | undefined, next: Continuation<T, R>): Promise<R>;
  bound<T, R>(op: Promise<T>, outcome?: Outcome, next?: Continuation<T, R>): Promise<T | R> {
    return new Promise<T | R>((resolve, reject) => {
      const e: Entry = { at: performance.now() + this.budgetMs, resolve: resolve as (v: unknown) => void, reject, settled: false, outcome, next: next as Continuation<never, unknown> | undefined };
      this.dropSettled();
      this.entries.push(e);
      op.then(
        (v) => {
          if (e.settled) return;
          e.settled = true;
          outcome?.answered();
          answer(e, v);
        },
        (err: unknown) => {
          if (e.settled) return;
          e.settled = true;
          outcome?.failed(err, false);
          fail(e, err);
        },
      );
      if (this.timer === null) this.arm();
    });
  }

  /** Expires every pending operation now, as if its budget had passed (a hung Redis noticed early). */
  expireAll(): void {
    const waiting = this.entries.slice(this.head);
    this.entries = [];
    this.head = 0;
    for (const e of waiting) {
      if (e.settled) continue;
      e.settled = true;
      const err = new Error(this.message);
      e.outcome?.failed(err, true);
      fail(e, err);
    }
    this.arm();
  }

  /** Stops the timer; whatever is pending settles with its operation. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    // A continuation run by expire() may have bound a new operation (and armed) meanwhile.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dropSettled();
    if (this.head === this.entries.length) return;
    const wait = Math.max(0, this.entries[this.head].at - performance.now());
    this.timer = setTimeout(() => this.expire(), Math.ceil(wait));
  }

  private expire(): void {
    this.timer = null;
    const now = performance.now();
    while (this.head < this.entries.length) {
      const e = this.entries[this.head];
      if (!e.settled && e.at > now) break;
      this.head++;
      if (!e.settled) {
        e.settled = true;
        const err = new Error(this.message);
        e.outcome?.failed(err, true);
        fail(e, err);
      }
    }
    this.arm();
  }

  /** Settled entries at the front are done with; operations mostly finish in the order they start. */
  private dropSettled(): void {
    while (this.head < this.entries.length && this.entries[this.head].settled) this.head++;
    if (this.head === this.entries.length) {
      this.entries.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

function answer(e: Entry, v: unknown): void {
  if (e.next === undefined) return e.resolve(v);
  try {
    e.resolve(e.next.answered(v as never));
  } catch (err) {
    e.reject(err);
  }
}

function fail(e: Entry, err: unknown): void {
  if (e.next === undefined) return e.reject(err);
  try {
    e.resolve(e.next.failed(err));
  } catch (thrown) {
    e.reject(thrown);
  }
}
