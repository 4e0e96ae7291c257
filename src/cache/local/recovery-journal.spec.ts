import type { StoredRecord } from '../core/cache-codec.js';
import { formatVersion } from '../core/hlc.js';
import { RecoveryJournal } from './recovery-journal.js';

let n = 0;
const rec = (over: Partial<StoredRecord> = {}): StoredRecord => ({
  version: formatVersion(1_000 + n++, 0, '000000aa'),
  expiresAt: null,
  tombstone: false,
  json: '1',
  ...over,
});

describe('RecoveryJournal', () => {
  let now = 10_000;
  const journal = (max = 10) => new RecoveryJournal({ maxEntries: max }, () => now);

  it('keeps one entry per key: the newest version', () => {
    const j = journal();
    const older = rec({ json: '"old"' });
    const newer = rec({ json: '"new"' });
    j.record('k', newer);
    j.record('k', older);
    expect(j.size).toBe(1);
    expect(j.get('k')?.json).toBe('"new"');
  });

  it('settle removes only the version that was replayed', () => {
    const j = journal();
    const first = rec();
    const second = rec();
    j.record('k', first);
    j.record('k', second);
    j.settle('k', first.version);
    expect(j.has('k')).toBe(true);
    j.settle('k', second.version);
    expect(j.has('k')).toBe(false);
  });

  it('settleUpTo drops an older pending write once a newer one is confirmed, never a newer one', () => {
    const j = journal();
    const pending = rec();
    const confirmed = rec();
    j.record('k', pending);
    j.settleUpTo('k', confirmed.version);
    expect(j.has('k')).toBe(false);
    const later = rec();
    j.record('k', later);
    j.settleUpTo('k', confirmed.version);
    expect(j.has('k')).toBe(true);
  });

  it('when full drops the oldest write (policy drop-oldest), counts it and names the key', () => {
    const j = journal(2);
    j.record('a', rec());
    j.record('b', rec());
    j.record('a', rec()); // updating a key moves it to the newest end
    expect(j.record('c', rec())).toBe('b');
    expect([...j.snapshot()].map(([k]) => k)).toEqual(['a', 'c']);
    expect(j.dropped).toBe(1);
    expect(j.capacity).toBe(2);
    expect(j.record('a', rec())).toBeNull();
  });

  it('drops entries whose expiry has passed: Redis would discard them anyway', () => {
    const j = journal();
    j.record('gone', rec({ expiresAt: now - 1 }));
    j.record('live', rec({ expiresAt: now + 1_000 }));
    j.record('forever', rec());
    expect(j.dropExpired()).toBe(1);
    expect(j.has('gone')).toBe(false);
    expect(j.size).toBe(2);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => journal(0)).toThrow(/positive integer/);
  });

  it('log members: one entry per member (a member journaled twice is one), settled by version', () => {
    const j = journal();
    const v1 = formatVersion(2_000, 0, '000000aa');
    const v2 = formatVersion(2_000, 1, '000000aa');
    j.recordLog('log', v1, `${v1}|1`);
    j.recordLog('log', v1, `${v1}|1`);
    j.recordLog('log', v2, `${v2}|2`);
    j.record('k', rec());
    expect(j.size).toBe(3);
    expect(j.pendingLog('log')).toEqual([`${v1}|1`, `${v2}|2`]);
    j.settleLog('log', [v1]);
    expect(j.pendingLog('log')).toEqual([`${v2}|2`]);
    j.settleLog('log', [v2]);
    expect(j.hasLog('log')).toBe(false);
    expect(j.size).toBe(1);
  });

  it('log members: when full, the oldest member of any log is dropped and counted', () => {
    const j = journal(2);
    const v = (w: number) => formatVersion(w, 0, '000000aa');
    j.recordLog('a', v(1), `${v(1)}|a`);
    j.recordLog('b', v(2), `${v(2)}|b`);
    j.recordLog('a', v(3), `${v(3)}|a`);
    expect(j.dropped).toBe(1);
    expect(j.pendingLog('a')).toEqual([`${v(3)}|a`]);
    expect(j.pendingLog('b')).toEqual([`${v(2)}|b`]);
  });
});
