export interface SilenceOptions {
  /** The interval never drops below this (ms), however fast Redis has been. */
  floorMs: number;
  /** The interval is this many times the longest gap seen recently. */
  multiplier: number;
  /** Beyond this (the command timeout) silence is the timeout's business. */
  ceilingMs: number;
}

/** Gaps are remembered for one to two windows of this length (ms). */
const WINDOW_MS = 10_000;
/** Silence is judged only once this many gaps have shown what normal looks like on this machine. */
const LEARN_GAPS = 200;

/**
 * Notices a hung Redis without waiting for the command timeout: while a command waits, Redis sends
 * something within a few times the longest gap seen recently, so a longer silence is a hang.
 * Every chunk read from the socket counts, and so does Redis taking more of a long command we are
 * still writing: a long reply or request that keeps moving is not silence. docs/cache.md,
 * "Silence is a hang".
 */
export class SilenceWatch {
  /** When Redis last sent anything (performance.now). */
  private heardAt = 0;
  /** Silence so far while a command waited, counting only time this process was free to listen. */
  private silentMs = 0;
  private lastTickAt = 0;
  private lastOutgoing = 0;
  private gaps = 0;
  private peak = 0;
  private previousPeak = 0;
  private windowEndsAt = 0;
  /** Since when Redis had been silent when the breaker opened on it; its next byte says how long it really was. */
  private silentSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private judging = false;
  private readonly periodMs: number;

  constructor(
    private readonly options: SilenceOptions,
    /** When the oldest command still waiting for its answer was sent, or null. */
    private readonly waitingSince: () => number | null,
    /** Bytes of our commands not yet taken by the connection. */
    private readonly outgoing: () => number,
    private readonly silenced: (quietMs: number, intervalMs: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.periodMs = Math.max(1, Math.floor(options.floorMs / 5));
  }

  /** The silence (ms) that counts as a hang now: a multiple of recent gaps, within floor and ceiling. */
  get intervalMs(): number {
    const { floorMs, multiplier, ceilingMs } = this.options;
    return Math.min(
      ceilingMs,
      Math.max(floorMs, multiplier * Math.max(this.peak, this.previousPeak)),
    );
  }

  /** A command was sent: watch until none waits. */
  started(): void {
    if (this.timer !== null) return;
    this.lastTickAt = this.now();
    this.timer = setInterval(() => this.tick(), this.periodMs);
    this.timer.unref();
  }

  /** Redis sent something (a socket `data` event): the gap before it feeds the interval. */
  readonly heard = (): void => {
    const now = this.now();
    const since = this.waitingSince();
    if (since !== null) {
      this.gaps++;
      this.learn(now - Math.max(this.heardAt, since));
    } else if (this.silentSince !== null) {
      // The breaker opened on a silence that ended before the command timeout: a stall, not a hang.
      const gap = now - this.silentSince;
      if (gap < this.options.ceilingMs) this.learn(gap);
    }
    this.silentSince = null;
    this.heardAt = now;
    this.silentMs = 0;
  };

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.silentMs = 0;
  }

  private learn(gap: number): void {
    if (gap > this.peak) this.peak = gap;
  }

  private tick(): void {
    const at = this.now();
    if (at >= this.windowEndsAt) {
      this.previousPeak = this.peak;
      this.peak = 0;
      this.windowEndsAt = at + WINDOW_MS;
    }
    if (this.waitingSince() === null) return this.stop();
    if (this.judging) return;
    this.judging = true;
    // Judged after the event loop's next poll, so whatever Redis sent before `at` has been read.
    setImmediate(() => this.judge(at));
  }

  private judge(at: number): void {
    this.judging = false;
    const since = this.waitingSince();
    const prev = this.lastTickAt;
    this.lastTickAt = at;
    const outgoing = this.outgoing();
    const moving = outgoing < this.lastOutgoing;
    this.lastOutgoing = outgoing;
    if (since === null || this.gaps < LEARN_GAPS) return;
    if (moving) {
      this.silentMs = 0;
      return;
    }
    const from = Math.max(this.heardAt, since);
    if (from >= at) return;
    // A late tick means this process was busy (GC, CPU, its own work) and may not have sent what
    // it meant to meanwhile: at most two periods of such a gap count.
    const step = Math.min(at - Math.max(from, prev), 2 * this.periodMs);
    this.silentMs = (from > prev ? 0 : this.silentMs) + step;
    const interval = this.intervalMs;
    if (this.silentMs <= interval) return;
    this.silentSince = from;
    this.silenced(this.silentMs, interval);
  }
}
