import { Inject, Injectable } from '@nestjs/common';
import { CacheService } from '../cache/index.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from './sharekhan.options.js';
import { maskToken, tokenFingerprint } from './token-crypto.js';

/** Cache key remembering that the broker rejected a user's static token (its fingerprint), fleet-wide. */
export const staticTokenRejectedKey = (userId: string) => `sharekhan:static-token-rejected:${userId}`;

/** What the token endpoints report for a static token: no text, no expiry (configuration has none). */
export interface StaticTokenView {
  userId: string;
  status: 'active' | 'invalid';
  source: 'env';
  mask: string;
  fingerprint: string;
  issuedAt: null;
  expiresAt: null;
  secondsLeft: null;
}

/**
 * The static per-user tokens the app was configured with (`staticTokens`, from
 * `SHAREKHAN_ACCESS_TOKEN_<USER>`): they stand in where the store has no record, and are reported
 * like stored ones, so a user trading on one does not show as `missing`.
 */
@Injectable()
export class StaticTokens {
  constructor(
    @Inject(SHAREKHAN_SETTINGS) private readonly settings: ShareKhanSettings,
    private readonly cache: CacheService,
  ) {}

  has(userId: string): boolean {
    return this.settings.staticTokens.has(userId);
  }

  /** A rejection the cache cannot confirm right now is not assumed: the broker's next 403 still stops it. */
  async view(userId: string): Promise<StaticTokenView | null> {
    const token = this.settings.staticTokens.get(userId);
    if (!token) return null;
    const fingerprint = tokenFingerprint(token);
    const rejected = await this.cache.read<string>(staticTokenRejectedKey(userId)).catch(() => null);
    const invalid = rejected?.state === 'hit' && rejected.value === fingerprint;
    return {
      userId,
      status: invalid ? 'invalid' : 'active',
      source: 'env',
      mask: maskToken(token),
      fingerprint,
      issuedAt: null,
      expiresAt: null,
      secondsLeft: null,
    };
  }
}
