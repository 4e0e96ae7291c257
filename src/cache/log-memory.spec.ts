import { formatVersion } from './hlc.js';
import { LogMemory, bound, union } from './log-memory.js';

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
});
