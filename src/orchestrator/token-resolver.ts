import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OrchestratorSettings, TradingUser } from './orchestrator.options.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { StaticTokens, istTime, tokenFingerprint as fingerprintOf } from '../sharekhan/index.js';
import { TOKEN_STORE, type AuditActorLike, type TokenStorePort, type TokenViewLike } from './token-store.port.js';

export interface ResolvedToken {
  ok: true;
  accessToken: string;
  /** `manual`, `login`, ... from the store record, or `env`. */
  source: string;
  fingerprint: string;
  mask: string;
  expiresAt: string | null;
  secondsLeft: number | null;
}

export type TokenProblemKind = 'missing' | 'expired' | 'invalid' | 'revoked' | 'unconfirmed' | 'unavailable';

export interface TokenProblem {
  ok: false;
  kind: TokenProblemKind;
  message: string;
  action: string;
  source?: string;
  fingerprint?: string;
  mask?: string;
  expiresAt?: string | null;
  secondsLeft?: number | null;
}

export type TokenResolution = ResolvedToken | TokenProblem;

const ORCHESTRATOR_ACTOR: AuditActorLike = { who: 'orchestrator', source: 'broker' };

/**
 * Finds the one token that belongs to a user: the token store first (Redis, or its memory
 * fallback), then the user's own static env token, then a typed failure. It is only ever asked
 * about one exact user id, and never tries another id or searches for "any" token.
 */
@Injectable()
export class TokenResolver {
  private readonly logger = new Logger('TokenResolver');
  /** Fingerprints the broker rejected, per user: refused here even if the store could not be told. */
  private readonly rejected = new Map<string, Set<string>>();

  constructor(
    @Inject(TOKEN_STORE) private readonly store: TokenStorePort,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
    private readonly staticTokens: StaticTokens,
  ) {}

  submitHint(userId: string): string {
    return this.settings.tokenSubmitPath.replaceAll('{userId}', userId);
  }

  async resolve(user: TradingUser): Promise<TokenResolution> {
    const { userId } = user;
    let lookup: Awaited<ReturnType<TokenStorePort['lookup']>>;
    try {
      lookup = await this.store.lookup(userId);
    } catch (err) {
      this.logger.warn(`Token store lookup for ${userId} failed: ${(err as Error)?.name ?? 'error'}`);
      lookup = { kind: 'unavailable' };
    }

    if (lookup.kind !== 'missing' && lookup.kind !== 'unavailable' && lookup.view.userId !== userId) {
      // Defence in depth: a record of another user must never be used, whatever the store did.
      this.logger.error(`Token store answered a lookup for ${userId} with a record of another user; refused`);
      return this.problem(user, 'unavailable');
    }

    switch (lookup.kind) {
      case 'found': {
        const view = lookup.view;
        const fingerprint = view.fingerprint || fingerprintOf(lookup.accessToken);
        if (this.isRejected(userId, fingerprint)) return this.problem(user, 'invalid', view);
        const expiresMs = Date.parse(view.expiresAt);
        if (Number.isFinite(expiresMs) && expiresMs <= Date.now()) return this.problem(user, 'expired', view);
        return {
          ok: true,
          accessToken: lookup.accessToken,
          source: view.source,
          fingerprint,
          mask: view.mask,
          expiresAt: view.expiresAt,
          secondsLeft: Number.isFinite(expiresMs) ? Math.max(0, Math.floor((expiresMs - Date.now()) / 1000)) : view.secondsLeft,
        };
      }
      case 'expired':
        return this.problem(user, 'expired', lookup.view);
      case 'invalid':
        return this.problem(user, lookup.view.status === 'revoked' ? 'revoked' : 'invalid', lookup.view);
      case 'unconfirmed':
        // Fails closed: a revoke made on another replica may be what this replica cannot see.
        return this.problem(user, 'unconfirmed', lookup.view, { message: this.unconfirmedMessage(userId, lookup.unconfirmedForMs) });
      case 'missing':
      case 'unavailable':
        // The static token is configuration, always known; it stands in only where the store has
        // no record (or cannot be read), never over a record that says the token is dead.
        return (await this.fromEnv(user)) ?? this.problem(user, lookup.kind);
    }
  }

  /**
   * The broker answered 403 with this token: mark it invalid in the store (with an audit event)
   * and remember the fingerprint here, so the next orders are refused even if the store is down.
   */
  async invalidate(user: TradingUser, token: ResolvedToken, reason: string): Promise<void> {
    const { userId } = user;
    this.remember(userId, token.fingerprint);
    this.logger.warn(`ShareKhan rejected the ${token.source} token ${token.fingerprint} of ${userId} (HTTP 403); orders refused until a new token arrives`);

    const tasks: Promise<unknown>[] = [
      this.store.audit(userId, {
        action: 'token.rejected_by_broker',
        actor: ORCHESTRATOR_ACTOR,
        fingerprint: token.fingerprint,
        detail: reason,
      }),
    ];
    if (token.source === 'env') {
      tasks.push(this.staticTokens.reject(userId, token.fingerprint));
    } else {
      // Only the token the broker refused: a newer one submitted while the order was in flight stays.
      tasks.push(this.store.markInvalid(userId, token.fingerprint, reason, ORCHESTRATOR_ACTOR));
    }
    const settled = await Promise.allSettled(tasks);
    for (const s of settled) {
      if (s.status === 'rejected') {
        this.logger.warn(`Recording the rejected token of ${userId} failed (${(s.reason as Error)?.name ?? 'error'}); refused locally`);
      }
    }
  }

  /** The user's static token as StaticTokens reports it (revoked or refused by fingerprint, fleet-wide). */
  private async fromEnv(user: TradingUser): Promise<ResolvedToken | TokenProblem | undefined> {
    const fixed = await this.staticTokens.get(user.userId);
    if (!fixed) return undefined;
    const { fingerprint, mask, status } = fixed.view;
    if (status === 'invalid') this.remember(user.userId, fingerprint);
    if (status !== 'active' || this.isRejected(user.userId, fingerprint)) {
      return this.problem(user, status === 'revoked' ? 'revoked' : 'invalid', undefined, { source: 'env', fingerprint, mask });
    }
    return { ok: true, accessToken: fixed.accessToken, source: 'env', fingerprint, mask, expiresAt: null, secondsLeft: null };
  }

  private remember(userId: string, fingerprint: string): void {
    const set = this.rejected.get(userId) ?? new Set<string>();
    set.add(fingerprint);
    this.rejected.set(userId, set);
  }

  private isRejected(userId: string, fingerprint: string): boolean {
    return this.rejected.get(userId)?.has(fingerprint) ?? false;
  }

  private unconfirmedMessage(userId: string, ms: number): string {
    const since = Number.isFinite(ms) ? `for ${Math.round(ms / 1000)} s` : 'since this instance started';
    return `The token of ${userId} is held in this instance's memory only and Redis has not confirmed it ${since} (longer than the bound a revoke elsewhere may go unseen); nothing was sent.`;
  }

  private problem(
    user: TradingUser,
    kind: TokenProblemKind,
    view?: TokenViewLike,
    override: Partial<TokenProblem> = {},
  ): TokenProblem {
    const { userId } = user;
    const submit = this.submitHint(userId);
    const details = view
      ? { source: view.source, fingerprint: view.fingerprint, mask: view.mask, expiresAt: view.expiresAt, secondsLeft: view.secondsLeft }
      : {};
    switch (kind) {
      case 'missing':
        return {
          ok: false,
          kind,
          message: `No ShareKhan access token for ${userId}.`,
          action: `Submit today's token for ${userId} with ${submit} (or complete the ShareKhan login for ${userId}), then retry.`,
          ...details,
          ...override,
        };
      case 'expired':
        return {
          ok: false,
          kind,
          message: `The ShareKhan access token of ${userId} expired${view?.expiresAt ? ` at ${istTime(view.expiresAt)}` : ''}.`,
          action: `Submit a new token for ${userId} with ${submit}, then retry.`,
          ...details,
          ...override,
        };
      case 'revoked':
        return {
          ok: false,
          kind,
          message: `The ShareKhan access token of ${userId} was revoked${view?.statusReason ? ` (${view.statusReason})` : ''}; orders for ${userId} are refused until a new token arrives.`,
          action: `Submit a new token for ${userId} with ${submit}, then retry.`,
          ...details,
          ...override,
        };
      case 'invalid':
        return {
          ok: false,
          kind,
          message: `The ShareKhan access token of ${userId} is unusable (${view?.statusReason ?? 'rejected by the broker (HTTP 403)'}); orders for ${userId} are refused until a new token arrives.`,
          action: `Submit a new token for ${userId} with ${submit}, then retry.`,
          ...details,
          ...override,
        };
      case 'unconfirmed':
        return {
          ok: false,
          kind,
          message: this.unconfirmedMessage(userId, Number.POSITIVE_INFINITY),
          action: 'Retry when Redis is reachable again (see /health/ready); the token is confirmed on the next read from Redis.',
          ...details,
          ...override,
        };
      case 'unavailable':
        return {
          ok: false,
          kind,
          message: `The token store cannot be read (Redis unreachable and the token of ${userId} not held in memory), so it is unknown whether ${userId} has a token.`,
          action: 'Retry when Redis is reachable again (see /health/ready).',
          ...override,
        };
    }
  }
}
