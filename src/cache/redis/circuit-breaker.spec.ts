import { CircuitBreaker } from './circuit-breaker.js';

function breakerAt(options = { failureThreshold: 3, halfOpenAfterMs: 100, halfOpenAfterMaxMs: 1_000 }) {
  const clock = { now: 0 };
  const events: string[] = [];
  // random() = 1: the wait is the full (doubling, capped) ceiling, so the test can name it.
  const breaker = new CircuitBreaker(options, { opened: () => events.push('opened'), closed: () => events.push('closed') }, () => clock.now, () => 1);
  return { breaker, clock, events };
}

describe('CircuitBreaker', () => {
  it('opens only after the threshold of consecutive timeouts; an answer in between starts the count again', () => {
    const { breaker, events } = breakerAt();
    breaker.timedOut();
    breaker.timedOut();
    breaker.answered();
    breaker.timedOut();
    breaker.timedOut();
    expect(breaker.state).toBe('closed');
    breaker.timedOut();
    expect(breaker.state).toBe('open');
    expect(events).toEqual(['opened']);
  });

  it('lets one probe through once the wait is over; its answer closes the breaker', () => {
    const { breaker, clock, events } = breakerAt({ failureThreshold: 1, halfOpenAfterMs: 100, halfOpenAfterMaxMs: 1_000 });
    breaker.timedOut();
    clock.now = 99;
    expect(breaker.tryProbe()).toBe(false);
    clock.now = 100;
    expect(breaker.tryProbe()).toBe(true);
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryProbe()).toBe(false);
    breaker.probeAnswered();
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['opened', 'closed']);
  });

  it('a failed probe opens it again for twice as long, up to the maximum', () => {
    const { breaker, clock } = breakerAt({ failureThreshold: 1, halfOpenAfterMs: 100, halfOpenAfterMaxMs: 300 });
    breaker.timedOut();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const openedAt = clock.now;
      while (!breaker.tryProbe()) clock.now += 1;
      waits.push(clock.now - openedAt);
      breaker.probeFailed();
      expect(breaker.state).toBe('open');
    }
    expect(waits).toEqual([100, 200, 300, 300]);
  });

  it('after closing, the next opening waits the first interval again', () => {
    const { breaker, clock } = breakerAt({ failureThreshold: 1, halfOpenAfterMs: 100, halfOpenAfterMaxMs: 1_000 });
    breaker.timedOut();
    clock.now += 100;
    breaker.tryProbe();
    breaker.probeFailed();
    clock.now += 200;
    expect(breaker.tryProbe()).toBe(true);
    breaker.probeAnswered();
    breaker.timedOut();
    clock.now += 100;
    expect(breaker.tryProbe()).toBe(true);
  });

  it('once open, only the probe counts: late answers and timeouts of commands sent before change nothing', () => {
    const { breaker, clock, events } = breakerAt({ failureThreshold: 1, halfOpenAfterMs: 100, halfOpenAfterMaxMs: 1_000 });
    breaker.timedOut();
    breaker.answered();
    expect(breaker.state).toBe('open');
    clock.now = 100;
    expect(breaker.tryProbe()).toBe(true);
    breaker.timedOut();
    breaker.answered();
    expect(breaker.state).toBe('half-open');
    breaker.probeAnswered();
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['opened', 'closed']);
  });
});
