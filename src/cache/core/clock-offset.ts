import type { Logger } from '@nestjs/common';

export interface ClockStatus {
  /** Redis' clock minus this instance's, in ms, as last measured (0 until measured). */
  offsetMs: number;
  /** When it was last measured (ISO), or null: until then versions use the local clock as is. */
  measuredAt: string | null;
  /** |offsetMs| above maxClockSkewMs: still corrected, but this host's clock needs fixing. */
  skewExceeded: boolean;
  maxSkewMs: number;
}

/** TIME readings per measurement at most; one with a round trip under 2 x PRECISE_MS ends it early. */
const SAMPLES = 3;
const PRECISE_MS = 1;
/** Monotonic clocks drift far less than this (100 ppm): how fast an anchor's error bound grows. */
const DRIFT = 1e-4;

/**
 * Versions order writes across the fleet only if the instances agree on the time, so each one
 * reads Redis' clock (TIME, halfway through the round trip) and from then on counts the time
 * passed on a monotonic clock: a write made later in real time gets a later version whatever the
 * local wall clocks say or do (a step of the host clock between two measurements moves nothing),
 * also during an outage. The offset to the wall clock is still measured and reported. See docs/cache.md.
 */
export class ClockOffset {
  private offset = 0;
  private measuredAt: number | null = null;
  private exceeded = false;
  private refused = false;
  /** Redis' time at the reading the fleet time counts from, the monotonic reading then, and its error bound. */
  private anchor: { fleetMs: number; monoMs: number; errMs: number } | null = null;
  readonly now: () => number;

  constructor(
    private readonly raw: () => number,
    private readonly maxSkewMs: number,
    private readonly logger: Logger,
    /** Monotonic ms (performance.now): a wall-clock step does not move it. */
    private readonly mono: () => number = () => performance.now(),
  ) {
    this.now = () => (this.anchor === null ? this.raw() : this.anchor.fleetMs + Math.round(this.mono() - this.anchor.monoMs));
  }

  /**
   * `time` answers Redis TIME: [seconds, microseconds]. Up to SAMPLES readings, the one with the
   * shortest round trip kept (its error is at most half of it): a reading delayed by a stalled
   * event loop would otherwise misplace the fleet time by half the stall. The anchor moves only to
   * a reading at least as precise as the current one, whose error bound grows with drift.
   */
  async measure(time: () => Promise<(string | number)[]>): Promise<void> {
    let best: { redisMs: number; monoMs: number; rawMs: number; errMs: number } | null = null;
    for (let i = 0; i < SAMPLES && (best === null || best.errMs > PRECISE_MS); i++) {
      const t0 = this.raw();
      const m0 = this.mono();
      let reply: (string | number)[];
      try {
        reply = await time();
      } catch (err) {
        if (best === null) throw err;
        break;
      }
      const m1 = this.mono();
      const t1 = this.raw();
      const redisMs = Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
      if (!Number.isFinite(redisMs)) return;
      const errMs = (m1 - m0) / 2;
      if (best === null || errMs < best.errMs) best = { redisMs, monoMs: (m0 + m1) / 2, rawMs: (t0 + t1) / 2, errMs };
    }
    if (best === null) return;
    const current = this.anchor === null ? Number.POSITIVE_INFINITY : this.anchor.errMs + (best.monoMs - this.anchor.monoMs) * DRIFT;
    if (best.errMs <= current) this.anchor = { fleetMs: best.redisMs, monoMs: best.monoMs, errMs: best.errMs };
    this.offset = Math.round(best.redisMs - best.rawMs);
    this.measuredAt = this.now();
    const exceeded = Math.abs(this.offset) > this.maxSkewMs;
    // One line when the skew appears (and one when it is gone), not one per measurement.
    if (exceeded && !this.exceeded) {
      this.logger.error(
        `This host's clock is ${Math.round(Math.abs(this.offset) / 1000)} s ${this.offset > 0 ? 'behind' : 'ahead of'} Redis' clock (more than the ${this.maxSkewMs / 1000} s allowed): cache versions are corrected by the measured offset, but fix the host's time sync (NTP)`,
      );
    } else if (!exceeded && this.exceeded) this.logger.log(`Clock skew back within ${this.maxSkewMs / 1000} s of Redis' clock`);
    this.exceeded = exceeded;
  }

  /** Redis refused TIME (an ACL without +time): reported once, the last offset stays in use. */
  failed(err: unknown): void {
    if (!(err instanceof Error) || !/NOPERM/.test(err.message) || this.refused) return;
    this.refused = true;
    this.logger.warn(`Redis refuses TIME (${err.message.split('\n')[0]}): writes are stamped with this host's own clock; allow +time in the cache's ACL user`);
  }

  /**
   * Whether Redis' clock was read since this process started. Never restored from a snapshot: the
   * monotonic reading an offset was anchored to means nothing in another process.
   */
  get measured(): boolean {
    return this.anchor !== null;
  }

  status(): ClockStatus {
    return {
      offsetMs: this.offset,
      measuredAt: this.measuredAt === null ? null : new Date(this.measuredAt).toISOString(),
      skewExceeded: this.exceeded,
      maxSkewMs: this.maxSkewMs,
    };
  }
}
