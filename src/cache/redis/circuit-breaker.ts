import { CommandNotSentError } from './command-not-sent.js';
import { reconnectDelay } from './redis-connection.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive command timeouts that open the breaker. */
  failureThreshold: number;
  /** First wait before a probe may pass; doubles (with jitter) on each failed probe, up to the max. */
  halfOpenAfterMs: number;
  halfOpenAfterMaxMs: number;
}

/** A command refused because the breaker is not closed: nothing was sent (callers serve from memory). */
export class CircuitOpenError extends CommandNotSentError {
  constructor() {
    super('Redis is not answering (circuit breaker open): the command was not sent');
    this.name = 'CircuitOpenError';
  }
}

/**
 * Opens after consecutive command timeouts (a hung Redis keeps its TCP connection); after a
 * jittered, capped exponential wait one probe may pass (half-open), whose answer closes it and
 * whose failure opens it again for longer. Hand-written because it sits on every command: while
 * closed, recording an outcome is a counter update (BENCHMARKS.md, "the 1-in-flight gap").
 */
export class CircuitBreaker {
  state: BreakerState = 'closed';
  private timeouts = 0;
  private openedAt = 0;
  private waitMs = 0;
  private failedProbes = 0;

  constructor(
    private readonly options: BreakerOptions,
    private readonly events: { opened(): void; closed(): void },
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {}

  /** A command answered. Other errors (an error reply, a closed connection) change nothing. */
  answered(): void {
    if (this.state === 'closed') this.timeouts = 0;
  }

  /** A command timed out. Only while closed: once open, only the probe's result counts. */
  timedOut(): void {
    if (this.state === 'closed' && ++this.timeouts >= this.options.failureThreshold) this.open();
  }

  /** Redis sent nothing for longer than the silence interval while commands waited: open now. */
  silenced(): void {
    if (this.state === 'closed') this.open();
  }

  /** Open and its wait is over: moves to half-open and lets the caller send the one probe. */
  tryProbe(): boolean {
    if (this.state !== 'open' || this.now() - this.openedAt < this.waitMs) return false;
    this.state = 'half-open';
    return true;
  }

  /** The probe was answered: closed again, and the next opening starts from the first wait. */
  probeAnswered(): void {
    if (this.state !== 'half-open') return;
    this.state = 'closed';
    this.timeouts = 0;
    this.failedProbes = 0;
    this.events.closed();
  }

  /** The probe timed out or failed: open again, waiting longer. */
  probeFailed(): void {
    if (this.state === 'half-open') this.open();
  }

  private open(): void {
    const { halfOpenAfterMs, halfOpenAfterMaxMs } = this.options;
    this.waitMs = reconnectDelay(this.failedProbes++, halfOpenAfterMs, halfOpenAfterMaxMs, this.random);
    this.openedAt = this.now();
    this.timeouts = 0;
    this.state = 'open';
    this.events.opened();
  }
}
