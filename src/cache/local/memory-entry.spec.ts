import { MemoryEntry } from './memory-entry.js';

describe('MemoryEntry', () => {
  it('returns the expiry it was given: none, near (small integer offset) and far or fractional (absolute)', () => {
    const now = Date.now();
    for (const at of [null, now + 60_000, now - 5, now + 400 * 86_400_000, 1, now + 0.5]) {
      const e = new MemoryEntry('v', at, false, '1');
      expect(e.expiresAt).toBe(at);
      if (at !== null) expect([e.expiredAt(at - 1), e.expiredAt(at)]).toEqual([false, true]);
    }
    expect(new MemoryEntry('v', null, false, '1').expiredAt(Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('keeps the JSON until parsed, then only the frozen value, and gives the same JSON back', () => {
    const e = new MemoryEntry('v', null, false, '{"a":[1,2],"b":"x"}');
    expect(e.value).toBeUndefined();
    const v = e.parsed() as { a: number[] };
    expect(v).toEqual({ a: [1, 2], b: 'x' });
    expect(Object.isFrozen(v.a)).toBe(true);
    expect(e.parsed()).toBe(v);
    expect(e.value).toBe(v);
    expect(e.json).toBe('{"a":[1,2],"b":"x"}');
  });

  it('tombstones have no value; flags and size do not disturb each other', () => {
    const t = new MemoryEntry('v', 5, true, 'ignored');
    expect([t.tombstone, t.json, t.parsed()]).toEqual([true, '', undefined]);
    t.bytes = 123_456_789;
    t.touch();
    expect([t.bytes, t.tombstone, t.referenced, t.expiresAt]).toEqual([123_456_789, true, true, 5]);
    t.untouch();
    expect([t.bytes, t.referenced]).toEqual([123_456_789, false]);
  });
});
