import { istDate, istTime, nextCutoff, tokenExpiry } from './token-expiry.js';

const H = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const SIX = 6 * 60;

describe('tokenExpiry (Asia/Kolkata cut-off)', () => {
  it('a token issued in the trading day expires at the next 06:00 IST', () => {
    // 10:00 IST on 2030-01-07 = 04:30Z; next 06:00 IST = 2030-01-08T00:30Z
    expect(tokenExpiry(at('2030-01-07T04:30:00Z'), SIX, 24 * H)).toBe(at('2030-01-08T00:30:00Z'));
  });

  it('a token issued just before the cut-off expires at it', () => {
    // 05:59:30 IST = 00:29:30Z
    expect(tokenExpiry(at('2030-01-08T00:29:30Z'), SIX, 24 * H)).toBe(at('2030-01-08T00:30:00Z'));
  });

  it('a token issued exactly at the cut-off lives until the next one (capped by the lifetime)', () => {
    expect(tokenExpiry(at('2030-01-08T00:30:00Z'), SIX, 24 * H)).toBe(at('2030-01-09T00:30:00Z'));
    expect(tokenExpiry(at('2030-01-08T00:30:00Z'), SIX, 12 * H)).toBe(at('2030-01-08T12:30:00Z'));
  });

  it('the maximum lifetime wins when it is earlier', () => {
    expect(tokenExpiry(at('2030-01-07T04:30:00Z'), SIX, 2 * H)).toBe(at('2030-01-07T06:30:00Z'));
  });

  it('handles the IST day boundary (UTC date differs) and other cut-offs', () => {
    // 23:00 IST on 2030-01-07 = 17:30Z same UTC day; next 06:00 IST is 2030-01-08T00:30Z.
    expect(tokenExpiry(at('2030-01-07T17:30:00Z'), SIX, 24 * H)).toBe(at('2030-01-08T00:30:00Z'));
    // 00:30 IST on 2030-01-08 = 19:00Z on 2030-01-07; cut-off 06:00 the same IST day.
    expect(tokenExpiry(at('2030-01-07T19:00:00Z'), SIX, 24 * H)).toBe(at('2030-01-08T00:30:00Z'));
    // 15:30 IST cut-off: issued 10:00 IST expires 15:30 IST same day (10:00Z).
    expect(tokenExpiry(at('2030-01-07T04:30:00Z'), 15 * 60 + 30, 24 * H)).toBe(at('2030-01-07T10:00:00Z'));
  });

  it('istDate is the calendar date in India', () => {
    expect(istDate(at('2030-01-07T18:29:59Z'))).toBe('2030-01-07');
    expect(istDate(at('2030-01-07T18:30:00Z'))).toBe('2030-01-08');
  });
});

describe('nextCutoff', () => {
  it('is the first cut-off strictly after the instant (the console shows it)', () => {
    expect(nextCutoff(at('2030-01-07T04:30:00Z'), SIX)).toBe(at('2030-01-08T00:30:00Z'));
    expect(nextCutoff(at('2030-01-08T00:30:00Z'), SIX)).toBe(at('2030-01-09T00:30:00Z'));
    expect(nextCutoff(at('2030-01-08T00:29:59Z'), SIX)).toBe(at('2030-01-08T00:30:00Z'));
  });
});

describe('istTime', () => {
  it("says an instant in India's time with its label, whatever the server's zone", () => {
    expect(istTime(Date.UTC(2026, 11, 8, 0, 30))).toBe('2026-12-08 06:00:00 IST');
    expect(istTime('2026-12-07T20:15:07.123Z')).toBe('2026-12-08 01:45:07 IST');
    expect(istTime('not a time')).toBe('not a time');
  });
});
