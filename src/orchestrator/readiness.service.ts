import { Inject, Injectable, Optional } from '@nestjs/common';
import type { OrchestratorSettings, OrderLimits, TradingMode, TradingUser } from './orchestrator.options.js';
import { mapBounded } from './keyed-mutex.js';
import { LiveBroker } from './live-broker.js';
import { limitsOf } from './order-limits.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { TokenResolver } from './token-resolver.js';
import { UserRegistry } from './user-registry.js';

/**
 * `unknown`: the token store cannot be read right now (not the same as "no token").
 * `not_configured`: a live user whose orders cannot leave because the broker has no API key.
 */
export type TokenReadiness = 'ready' | 'missing' | 'expired' | 'invalid' | 'revoked' | 'unknown' | 'not_configured';

export interface UserReadiness {
  userId: string;
  mode: TradingMode;
  status: TokenReadiness;
  /** Whether this user's next order would leave now: token resolved and, for live users, a configured broker. */
  canTrade: boolean;
  tokenRequired: boolean;
  source: string | null;
  mask: string | null;
  fingerprint: string | null;
  expiresAt: string | null;
  /** Null for a static env token (no known expiry) or when there is no token. */
  secondsLeft: number | null;
  message: string | null;
  action: string | null;
  /** The per-order limits in force for this user (an order above either is refused, nothing sent). */
  limits: OrderLimits;
}

export interface ReadinessReport {
  checkedAt: string;
  users: UserReadiness[];
  summary: { total: number; ready: number; notReady: string[] };
}

const STATUS: Record<'missing' | 'expired' | 'invalid' | 'revoked' | 'unconfirmed' | 'unavailable', TokenReadiness> = {
  missing: 'missing',
  expired: 'expired',
  invalid: 'invalid',
  revoked: 'revoked',
  unconfirmed: 'unknown',
  unavailable: 'unknown',
};

/**
 * Per-user readiness, answering "would this user's next order leave?": the token resolved exactly
 * as an order would resolve it and, for a live user, a broker that can be called at all.
 */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly users: UserRegistry,
    private readonly tokens: TokenResolver,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
    /** Absent in unit tests that have no broker: treated as configured. */
    @Optional() private readonly live?: LiveBroker,
  ) {}

  async check(userIds?: string[]): Promise<ReadinessReport> {
    const wanted = userIds ? this.users.all().filter((u) => userIds.includes(u.userId)) : this.users.all();
    const users = await mapBounded(wanted, this.settings.fanoutConcurrency, (u) => this.forUser(u));
    const notReady = users.filter((u) => !u.canTrade).map((u) => u.userId);
    return {
      checkedAt: new Date().toISOString(),
      users,
      summary: { total: users.length, ready: users.length - notReady.length, notReady },
    };
  }

  private async forUser(user: TradingUser): Promise<UserReadiness> {
    const token = await this.tokenReadiness(user);
    if (user.mode !== 'live' || this.live?.configured !== false) return token;
    // The token may be fine, but every live order would still answer BROKER_NOT_CONFIGURED.
    return {
      ...token,
      status: 'not_configured',
      canTrade: false,
      message: `ShareKhan is not configured (no API key), so no live order for ${user.userId} can be sent.${token.status === 'ready' ? '' : ` The token is not usable either (${token.status}).`}`,
      action: this.settings.brokerSetupHint,
    };
  }

  private async tokenReadiness(user: TradingUser): Promise<UserReadiness> {
    const tokenRequired = user.mode === 'live' || this.settings.paperRequiresToken;
    const r = await this.tokens.resolve(user);
    const base = { userId: user.userId, mode: user.mode, tokenRequired, limits: limitsOf(user, this.settings.orderLimits) };
    if (r.ok) {
      return {
        ...base,
        status: 'ready',
        canTrade: true,
        source: r.source,
        mask: r.mask,
        fingerprint: r.fingerprint,
        expiresAt: r.expiresAt,
        secondsLeft: r.secondsLeft,
        message: null,
        action: null,
      };
    }
    return {
      ...base,
      status: STATUS[r.kind],
      canTrade: !tokenRequired,
      source: r.source ?? null,
      mask: r.mask ?? null,
      fingerprint: r.fingerprint ?? null,
      expiresAt: r.expiresAt ?? null,
      secondsLeft: r.kind === 'expired' ? 0 : null,
      message: r.message,
      action: r.action,
    };
  }
}
