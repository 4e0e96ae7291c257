import { Inject, Injectable } from '@nestjs/common';
import type { OrchestratorSettings, TradingMode, TradingUser } from './orchestrator.options.js';
import { mapBounded } from './keyed-mutex.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { TokenResolver } from './token-resolver.js';
import { UserRegistry } from './user-registry.js';

/** `unknown`: the token store cannot be read right now (not the same as "no token"). */
export type TokenReadiness = 'ready' | 'missing' | 'expired' | 'invalid' | 'revoked' | 'unknown';

export interface UserReadiness {
  userId: string;
  mode: TradingMode;
  status: TokenReadiness;
  /** Whether an order for this user would get past token resolution now. */
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

/** Per-user token readiness, resolved exactly as an order would resolve it. */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly users: UserRegistry,
    private readonly tokens: TokenResolver,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
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
    const tokenRequired = user.mode === 'live' || this.settings.paperRequiresToken;
    const r = await this.tokens.resolve(user);
    const base = { userId: user.userId, mode: user.mode, tokenRequired };
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
