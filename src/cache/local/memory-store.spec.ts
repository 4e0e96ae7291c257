import { MemoryStore, deepFreeze, entryOf } from './memory-store.js';

const entry = (version: string, json = '1', expiresAt: number | null = null) => entryOf({ version, expiresAt, tombstone: false, json });

describe('MemoryStore', () => {
  let now = 1_000;
  const store = (maxEntries = 100, maxBytes = 1 << 20, pinned: (k: string) => boolean = () => false) =>
    new MemoryStore({ maxEntries, maxBytes }, () => now, pinned);

  it('newer version wins; an older one never replaces it', () => {
    const s = store();
    expect(s.set('k', entry('2', '"new"'))).toBe(true);
    expect(s.set('k', entry('1', '"old"'))).toBe(false);
    expect(s.get('k')?.json).toBe('"new"');
    expect(s.set('k', entry('2', '"same version"'))).toBe(true);
  });

  it('expires at the absolute instant', () => {
    const s = store();
    s.set('k', entry('1', '1', now + 100));
    expect(s.get('k')).toBeDefined();
    now += 100;
    expect(s.get('k')).toBeUndefined();
    expect(s.peek('k')).toBeUndefined();
    expect(s.has('k')).toBe(false);
  });

  it('evicts the least recently used first, by entries and by bytes', () => {
    const s = store(2);
    s.set('a', entry('1'));
    s.set('b', entry('1'));
    s.get('a');
    s.set('c', entry('1'));
    expect(s.has('b')).toBe(false);
    expect(s.has('a') && s.has('c')).toBe(true);
    expect(s.evicted).toBe(1);

    const small = store(100, 300);
    small.set('x', entry('1', 'x'.repeat(50)));
    small.set('y', entry('1', 'y'.repeat(50)));
    expect(small.has('x')).toBe(false);
    expect(small.bytes).toBeLessThanOrEqual(300);
  });

  it('recency is a second chance: a hit marks the entry, eviction moves a marked one to the newest end', () => {
    const s = store(4);
    for (const k of ['a', 'b', 'c', 'd']) s.set(k, entry('1'));
    s.get('a'); // marked: survives the next eviction once
    expect([...s.entries()].map(([k]) => k)).toEqual(['a', 'b', 'c', 'd']);
    s.set('e', entry('1'));
    expect([...s.entries()].map(([k]) => k)).toEqual(['c', 'd', 'e', 'a']);
    s.set('f', entry('1')); // a is unmarked now: c goes, then a would be next
    s.set('g', entry('1'));
    expect([...s.entries()].map(([k]) => k)).toEqual(['e', 'a', 'f', 'g']);
  });

  it('never evicts pinned keys (writes not yet in Redis)', () => {
    const s = store(2, 1 << 20, (k) => k === 'pinned');
    s.set('pinned', entry('1'));
    s.set('b', entry('1'));
    s.set('c', entry('1'));
    expect(s.has('pinned')).toBe(true);
    expect(s.has('b')).toBe(false);
  });

  it('tracks bytes through replace, delete and clear', () => {
    const s = store();
    s.set('k', entry('1', 'aaaa'));
    const one = s.bytes;
    s.set('k', entry('2', 'aaaa'));
    expect(s.bytes).toBe(one);
    s.delete('k');
    expect(s.bytes).toBe(0);
    s.set('k', entry('3'));
    s.clear();
    expect(s.size).toBe(0);
    expect(s.bytes).toBe(0);
  });

  it('lists only live entries, oldest-used first, and sweeps expired ones', () => {
    const s = store();
    s.set('old', entry('1', '1', now + 10));
    s.set('a', entry('1'));
    s.set('b', entry('1'));
    now += 10;
    expect([...s.entries()].map(([k]) => k)).toEqual(['a', 'b']);
    expect(s.sweepExpired()).toBe(1);
    expect(s.size).toBe(2);
  });

  it('deepFreeze freezes nested objects and arrays', () => {
    const v = deepFreeze({ a: { b: [1, { c: 2 }] } });
    expect(Object.isFrozen(v.a.b[1])).toBe(true);
    expect(() => (v.a.b as unknown[]).push(3)).toThrow();
  });
});
