import { formatVersion } from '../clock/hlc.js';
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
});
