import { createHash } from 'node:crypto';

/** Safe to log and return: identifies a token without revealing it. */
export function fingerprintOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);
}

/** Shows only that a token exists and its last characters, so an operator can match it. */
export function maskOf(token: string): string {
  return token.length >= 16 ? `****${token.slice(-4)}` : '****';
}
