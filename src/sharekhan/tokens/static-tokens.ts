import { Inject, Injectable } from '@nestjs/common';
import { CacheService } from '../../cache/index.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from '../sharekhan.options.js';
import { maskToken, tokenFingerprint } from './token-crypto.js';
import { istTime } from './token-expiry.js';

/** Cache key remembering that the broker rejected a user's static token (its fingerprint), fleet-wide. */
export const staticTokenRejectedKey = (userId: string) => `sharekhan:static-token-rejected:${userId}`;
/** Cache key remembering that a user's static token (its fingerprint) was revoked with DELETE, fleet-wide. */
export const staticTokenRevokedKey = (userId: string) => `sharekhan:static-token-revoked:${userId}`;
const REJECTED_TTL_MS = 7 * 86_400_000;

export type StaticTokenState = 'active' | 'invalid' | 'revoked';

/** What the token endpoints report for a static token: no text, no expiry (configuration has none). */
export interface StaticTokenView {
  userId: string;
  status: StaticTokenState;
  source: 'env';
  mask: string;
  fingerprint: string;
  issuedAt: null;
  expiresAt: null;
  secondsLeft: null;
  /** Why it is not usable; null while usable. */
  statusReason: string | null;
}

/** The static token of a user with its state: the one answer every reader (endpoints, orders, readiness) uses. */
export interface StaticToken {
  accessToken: string;
  view: StaticTokenView;
}

interface RevokedMarker {
  fingerprint: string;
  reason: string;
}

/**
 * The static per-user tokens the app was configured with (`staticTokens`, from
 * `SHAREKHAN_ACCESS_TOKEN_<USER>`): they stand in where the store has no record, and are reported
 * like stored ones, so a user trading on one does not show as `missing`. A 403 or a DELETE
 * leaves a marker for that token's fingerprint; a different configured token is not affected.
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

  /** Every user id a static token was configured for (ids only). */
  userIds(): string[] {
    return [...this.settings.staticTokens.keys()].sort();
  }

  /** A marker the cache cannot confirm right now is not assumed: the broker's next 403 still stops the token. */
  async get(userId: string): Promise<StaticToken | null> {
    const accessToken = this.settings.staticTokens.get(userId);
    if (!accessToken) return null;
    const fingerprint = tokenFingerprint(accessToken);
    const [rejected, revoked] = await Promise.all([
      this.cache.read<string>(staticTokenRejectedKey(userId)).catch(() => null),
      this.cache.read<RevokedMarker>(staticTokenRevokedKey(userId)).catch(() => null),
    ]);
    const base = { userId, source: 'env' as const, mask: maskToken(accessToken), fingerprint, issuedAt: null, expiresAt: null, secondsLeft: null };
    if (revoked?.state === 'hit' && revoked.value?.fingerprint === fingerprint) {
      return { accessToken, view: { ...base, status: 'revoked', statusReason: revoked.value.reason } };
    }
    if (rejected?.state === 'hit' && rejected.value === fingerprint) {
      return { accessToken, view: { ...base, status: 'invalid', statusReason: 'ShareKhan rejected this static token (HTTP 403); submit a new token' } };
    }
    return { accessToken, view: { ...base, status: 'active', statusReason: null } };
  }

  async view(userId: string): Promise<StaticTokenView | null> {
    return (await this.get(userId))?.view ?? null;
  }

  /** The broker refused this static token (403): every instance stops using it. */
  async reject(userId: string, fingerprint: string): Promise<void> {
    await this.cache.set(staticTokenRejectedKey(userId), fingerprint, { ttlMs: REJECTED_TTL_MS });
  }

  /**
   * DELETE for a user on a static token: a marker for its fingerprint, kept until the configuration
   * changes (no expiry: the token itself does not expire either). Null when none is configured.
   */
  async revoke(userId: string, who: string, now: number): Promise<{ revoked: boolean; view: StaticTokenView } | null> {
    const current = await this.get(userId);
    if (!current) return null;
    if (current.view.status === 'revoked') return { revoked: false, view: current.view };
    const reason = `revoked by ${who} at ${istTime(now)}`;
    const marker: RevokedMarker = { fingerprint: current.view.fingerprint, reason };
    await this.cache.set(staticTokenRevokedKey(userId), marker);
    return { revoked: true, view: { ...current.view, status: 'revoked', statusReason: reason } };
  }
}
