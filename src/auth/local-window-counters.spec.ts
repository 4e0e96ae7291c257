import { LocalWindowCounters } from './local-window-counters.js';

describe('LocalWindowCounters', () => {
  it('counts per key in fixed windows that start at the first hit', () => {
    const c = new LocalWindowCounters();
    expect(c.increment('a', 1_000, 0)).toEqual({ count: 1, remainingMs: 1_000 });
    expect(c.increment('a', 1_000, 400)).toEqual({ count: 2, remainingMs: 600 });
    expect(c.increment('b', 1_000, 400)).toEqual({ count: 1, remainingMs: 1_000 });
    expect(c.increment('a', 1_000, 999)).toEqual({ count: 3, remainingMs: 1 });
    // The window ended: a new one starts at this hit.
    expect(c.increment('a', 1_000, 1_000)).toEqual({ count: 1, remainingMs: 1_000 });
  });

  it('keeps counting past a large budget (one count per key, not one entry per hit)', () => {
    const c = new LocalWindowCounters();
    let last = 0;
    for (let i = 0; i < 200_000; i++) last = c.increment('k', 60_000, 5).count;
    expect(last).toBe(200_000);
  });

  it('forgets ended windows once many keys are held', () => {
    const c = new LocalWindowCounters();
    for (let i = 0; i < 10_000; i++) c.increment(`old${i}`, 100, 0);
    c.increment('new', 100, 200);
    expect((c as unknown as { windows: Map<string, unknown> }).windows.size).toBe(1);
    expect(c.increment('old1', 100, 200).count).toBe(1);
  });
});
