import type { Response } from 'express';

/**
 * Only the app's own files: no inline script or style, no other origin, no framing. The page
 * talks to the API on the same origin (connect-src) and leaves for ShareKhan's login page by a
 * top-level navigation, which CSP does not restrict.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function setConsoleHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  // Revalidated on every load, so a deploy never leaves an old script next to a new page.
  res.setHeader('Cache-Control', 'no-cache');
}
