/** What a Redis URL must be, for error messages (never the URL itself: it may hold a password). */
export const REDIS_URL_WANTS = 'a redis:// or rediss:// URL with a host and, if given, a port from 1 to 65535';

/**
 * Whether ioredis can connect with this URL: parsed with WHATWG `URL` (which refuses a port over
 * 65535), scheme redis/rediss, a host. Checked up front so a bad URL never reaches ioredis, whose
 * `Invalid URL` error carries the URL, password included.
 */
export function isUsableRedisUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return false;
  if (u.hostname === '') return false;
  return u.port === '' || (Number(u.port) >= 1 && Number(u.port) <= 65535);
}
