import type { CacheMode } from '../cache/index.js';

export interface CacheModeNotice {
  mode: CacheMode;
  /** `ok` needs nothing; `warning` is shown as a banner on the console. */
  level: 'ok' | 'warning';
  /** What the mode means for trading, in an operator's words (docs/operations.md says more). */
  message: string;
}

const NOTICES: Record<CacheMode, Omit<CacheModeNotice, 'mode'>> = {
  redis: { level: 'ok', message: 'Redis connected: tokens are shared by every instance.' },
  memory: {
    level: 'ok',
    message: 'No Redis configured: this instance keeps tokens in its own memory (fine for one replica only).',
  },
  fallback: {
    level: 'warning',
    message:
      'Redis is unreachable: this instance serves tokens from its own memory. Users whose token it holds keep trading; ' +
      'a token submitted on another instance is not visible here, so those users show "unknown" and their orders are refused. ' +
      'Tokens submitted now are kept here and written to Redis when it is back. Do not restart instances: that discards the memory they trade from.',
  },
  recovering: {
    level: 'warning',
    message:
      'Redis is back and this instance is replaying the writes it kept during the outage (normally seconds). ' +
      'Statuses may still change until it is done.',
  },
};

export function cacheModeNotice(mode: CacheMode): CacheModeNotice {
  return { mode, ...NOTICES[mode] };
}
