import { CacheService } from '../../cache/index.js';
import { MarkerAbsence, markerAbsenceFor } from './marker-absence.js';

describe('MarkerAbsence', () => {
  it('remembers an absent marker until a write of it; a read that overlapped a write is not remembered', () => {
    const memo = new MarkerAbsence();
    memo.sawAbsent('m1', memo.begin());
    expect(memo.knownAbsent('m1')).toBe(true);
    memo.writing('m1');
    expect(memo.knownAbsent('m1')).toBe(false);
    // Read started, then a write (of any marker) began and ended: that read saw the old state.
    const g = memo.begin();
    memo.writing('m2');
    memo.writing('m2');
    memo.sawAbsent('m2', g);
    expect(memo.knownAbsent('m2')).toBe(false);
  });

  it('exists only for a cache without Redis, one per cache', () => {
    const memory = new CacheService({ redis: null });
    expect(markerAbsenceFor(memory)).toBe(markerAbsenceFor(memory));
    expect(markerAbsenceFor(new CacheService({ redis: null }))).not.toBe(
      markerAbsenceFor(memory),
    );
    const withRedis = new CacheService({
      redis: { kind: 'standalone', url: 'redis://127.0.0.1:1' },
    });
    onTestFinished(() => withRedis.onApplicationShutdown());
    expect(withRedis.mode).not.toBe('memory');
    expect(markerAbsenceFor(withRedis)).toBeNull();
  });
});
