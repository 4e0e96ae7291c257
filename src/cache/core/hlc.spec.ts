import { HybridLogicalClock, VERSION_LENGTH, formatVersion, parseVersion } from './hlc.js';

describe('HybridLogicalClock', () => {
  it('formats fixed-width versions that order as strings the way they order in time', () => {
    let now = 1_700_000_000_000;
    const hlc = new HybridLogicalClock('a1', () => now);
    const v1 = hlc.next();
    const v2 = hlc.next();
    now += 1;
    const v3 = hlc.next();
    expect(v1).toHaveLength(VERSION_LENGTH);
    expect(v1 < v2 && v2 < v3).toBe(true);
    expect(parseVersion(v2)).toEqual({ wall: 1_700_000_000_000, counter: 1, instance: '000000a1' });
    expect(parseVersion(v3)).toMatchObject({ counter: 0 });
    // next() caches the wall part per millisecond: it must still spell what formatVersion spells.
    expect([v1, v2, v3]).toEqual([formatVersion(now - 1, 0, '000000a1'), formatVersion(now - 1, 1, '000000a1'), formatVersion(now, 0, '000000a1')]);
  });

  it('never goes backwards when the wall clock does', () => {
    let now = 2_000;
    const hlc = new HybridLogicalClock('x', () => now);
    const before = hlc.next();
    now = 1_000;
    const after = hlc.next();
    expect(after > before).toBe(true);
  });

  it('moves past a version observed from another instance', () => {
    const ahead = formatVersion(5_000, 7, '000000bb');
    const hlc = new HybridLogicalClock('aa', () => 1_000);
    hlc.observe(ahead);
    const next = hlc.next();
    expect(next > ahead).toBe(true);
    expect(parseVersion(next)).toMatchObject({ wall: 5_000, counter: 8 });
  });

  it('ignores an older or malformed observed version', () => {
    const hlc = new HybridLogicalClock('aa', () => 9_000);
    hlc.observe(formatVersion(1_000, 0, '000000bb'));
    hlc.observe('garbage');
    expect(parseVersion(hlc.next())).toMatchObject({ wall: 9_000, counter: 0 });
  });

  it('carries the counter into the wall time instead of overflowing its width', () => {
    const hlc = new HybridLogicalClock('aa', () => 10);
    hlc.observe(formatVersion(10, 999_999, '000000aa'));
    const v = hlc.next();
    expect(parseVersion(v)).toMatchObject({ wall: 11, counter: 0 });
    expect(v).toHaveLength(VERSION_LENGTH);
  });

  it('orders two instances writing in the same millisecond by instance id, deterministically', () => {
    const a = new HybridLogicalClock('a', () => 1).next();
    const b = new HybridLogicalClock('b', () => 1).next();
    expect(a < b).toBe(true);
  });

  it('refuses instance ids that would break the fixed width', () => {
    expect(() => new HybridLogicalClock('TOO-LONG-ID')).toThrow(/instance id/);
    expect(() => new HybridLogicalClock('UPPER')).toThrow(/instance id/);
  });
});

describe('HybridLogicalClock.observe fast path', () => {
  it('a malformed version does not stop later observations; an older one changes nothing', () => {
    const clock = new HybridLogicalClock('a', () => 1_000);
    const first = clock.next();
    clock.observe('zzzz-not-a-version');
    const ahead = '000000000005000.000007.0000000b';
    clock.observe(ahead);
    expect(clock.next() > ahead).toBe(true);
    clock.observe(first);
    expect(clock.next() > ahead).toBe(true);
  });
});
