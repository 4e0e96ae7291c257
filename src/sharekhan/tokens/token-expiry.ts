/** India has one offset all year (UTC+05:30, no daylight saving), so plain arithmetic is exact. */
export const IST_OFFSET_MS = 330 * 60_000;
const DAY_MS = 86_400_000;

/**
 * When a token issued at `issuedAt` stops being served: the earlier of the next daily cut-off
 * (minutes after midnight IST; a token issued exactly at the cut-off lives until the next one)
 * and `issuedAt + maxLifetimeMs`.
 */
export function tokenExpiry(issuedAt: number, cutoffMinutesIst: number, maxLifetimeMs: number): number {
  return Math.min(nextCutoff(issuedAt, cutoffMinutesIst), issuedAt + maxLifetimeMs);
}

/** The first daily cut-off (minutes after midnight IST) strictly after `at`. */
export function nextCutoff(at: number, cutoffMinutesIst: number): number {
  const ist = at + IST_OFFSET_MS;
  let cutoff = Math.floor(ist / DAY_MS) * DAY_MS + cutoffMinutesIst * 60_000;
  if (cutoff <= ist) cutoff += DAY_MS;
  return cutoff - IST_OFFSET_MS;
}

/** The IST calendar date (YYYY-MM-DD) of an instant. */
export function istDate(at: number): string {
  return new Date(at + IST_OFFSET_MS).toISOString().slice(0, 10);
}

/** An instant as operators read it: `2026-12-08 06:00:00 IST` (India's time, labelled, whatever the server's zone). */
export function istTime(at: number | string): string {
  const ms = typeof at === 'string' ? Date.parse(at) : at;
  if (!Number.isFinite(ms)) return String(at);
  return `${new Date(ms + IST_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ')} IST`;
}
