import type { OrderResult } from './orchestrator.types.js';
import { LocalClaims } from './local-claims.js';

const result = (orderId: string): OrderResult => ({ userId: 'U', mode: 'live', outcome: 'placed', message: 'ok', orderId, at: '2030-01-01T00:00:00.000Z' });

describe('LocalClaims', () => {
  it('keeps results for the TTL, then forgets them', () => {
    let now = 1_000;
    const claims = new LocalClaims(500, 10, () => now);
    claims.remember('a', result('1'));
    expect(claims.get('a')?.orderId).toBe('1');
    now = 1_499;
    expect(claims.get('a')?.orderId).toBe('1');
    now = 1_500;
    expect(claims.get('a')).toBeUndefined();
  });

  it('is bounded: beyond the cap the oldest go first', () => {
    const claims = new LocalClaims(60_000, 3);
    for (const k of ['a', 'b', 'c', 'd']) claims.remember(k, result(k));
    expect(claims.get('a')).toBeUndefined();
    expect(['b', 'c', 'd'].map((k) => claims.get(k)?.orderId)).toEqual(['b', 'c', 'd']);
  });
});
