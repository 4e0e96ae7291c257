import { formatVersion } from '../core/hlc.js';
import { LogMemory, MAX_LOG_BYTES_IN_MEMORY, bound, union } from './log-memory.js';

const m = (wall: number, body = 'x') => `${formatVersion(wall, 0, '000000aa')}|${body}`;

describe('LogMemory', () => {
  it('union is sorted and keeps a member present in both lists once', () => {
    expect(union([m(1), m(3)], [m(2), m(3), m(4)])).toEqual([m(1), m(2), m(3), m(4)]);
  });

  it('bound drops members below the age cut-off, then the oldest beyond the count', () => {
    const cutoff = formatVersion(2, 0, '');
    expect(bound([m(1), m(2), m(3), m(4)], { maxEntries: 10 }, cutoff)).toEqual([m(2), m(3), m(4)]);
    expect(bound([m(1), m(2), m(3), m(4)], { maxEntries: 2 }, null)).toEqual([m(3), m(4)]);
  });

  it('merge keeps the union within the log limits', () => {
    const mem = new LogMemory(() => false);
    mem.merge('k', [m(1), m(2)], { maxEntries: 3 }, null);
    mem.merge('k', [m(2), m(3), m(4)], null, null);
    expect(mem.get('k')).toEqual([m(2), m(3), m(4)]);
  });

  it('evicts the least recently used log beyond the byte bound, never one with unconfirmed appends', () => {
    const pinned = new Set(['pinned']);
    const mem = new LogMemory((k) => pinned.has(k));
    const big = (wall: number) => m(wall, 'x'.repeat(1024 * 1024));
    mem.merge('pinned', [big(1)], null, null);
    for (let i = 0; i < 20; i++) mem.merge(`l${i}`, [big(10 + i)], null, null);
    expect(mem.bytes).toBeLessThanOrEqual(MAX_LOG_BYTES_IN_MEMORY);
    expect(mem.get('pinned')).toHaveLength(1);
    expect(mem.get('l19')).toHaveLength(1);
    expect(mem.get('l0')).toBeUndefined();
  });

  it('an append adds to the log in place (no copy of the whole log) and keeps order, bounds and byte count', () => {
    const mem = new LogMemory(() => false);
    const limits = { maxEntries: 500 };
    mem.add('k', m(1), limits, null);
    const held = mem.get('k')!;
    for (let i = 2; i <= 600; i++) mem.add('k', m(i), limits, null);
    // The same array throughout: entry 500 costs what entry 1 did, not a merge of everything held.
    expect(mem.get('k')).toBe(held);
    expect(held).toHaveLength(500);
    expect(held[0]).toBe(m(101));
    expect(held[499]).toBe(m(600));
    // An older member (another replica's, read late) goes to its place; a repeat changes nothing.
    mem.add('k', m(150, 'late'), limits, null);
    mem.add('k', m(600), limits, null);
    expect(held).toEqual([...held].sort());
    expect(new Set(held).size).toBe(held.length);
    expect(held).toHaveLength(500);
    expect(mem.bytes).toBe(held.reduce((n, x) => n + 2 * x.length, 0));
    // The age cut-off drops the front as the log moves on.
    mem.add('k', m(601), limits, formatVersion(590, 0, ''));
    expect(held[0]).toBe(m(590));
    expect(mem.bytes).toBe(held.reduce((n, x) => n + 2 * x.length, 0));
  });
});
