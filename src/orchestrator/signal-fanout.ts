import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OrchestratorSettings } from './orchestrator.options.js';
import { mapBounded } from './keyed-mutex.js';
import { OrderExecutor } from './order-executor.js';
import { orderFor, type OrderFields } from './orchestrator.schemas.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { failure, type OrderResult } from './orchestrator.types.js';
import { SignalClaims } from './signal-claims.js';
import { UserRegistry } from './user-registry.js';

export interface SignalReport {
  signalId: string;
  results: OrderResult[];
  summary: { total: number; placed: number; notPlaced: number; unknown: number; replayed: number };
}

/**
 * One signal to many users: each user on its own (one failure never blocks another), paced by the
 * broker rate limit (LiveBroker); `fanoutConcurrency` in flight at most (a safety net), each
 * guarded by its own idempotency claim.
 */
@Injectable()
export class SignalFanout {
  private readonly logger = new Logger('SignalFanout');

  constructor(
    private readonly users: UserRegistry,
    private readonly executor: OrderExecutor,
    private readonly claims: SignalClaims,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
  ) {}

  targets(users: 'all' | string[]): string[] {
    return users === 'all' ? this.users.ids() : [...new Set(users)];
  }

  async fanOut(signalId: string, userIds: string[], fields: OrderFields): Promise<SignalReport> {
    const results = await mapBounded(userIds, this.settings.fanoutConcurrency, (userId) =>
      this.forUser(signalId, userId, fields).catch((err: unknown) => {
        // Only our own bugs land here; the claim (if any) stays, so nothing is resent blindly.
        this.logger.error(`Signal ${signalId} for ${userId} failed unexpectedly: ${(err as Error)?.name ?? 'error'}`);
        return failure(userId, this.users.get(userId)?.mode ?? null, 'INTERNAL_ERROR', 'Unexpected error; the outcome for this user is unknown and it will not be resent.', { signalId });
      }),
    );
    const count = (o: OrderResult['outcome']) => results.filter((r) => r.outcome === o).length;
    return {
      signalId,
      results,
      summary: {
        total: results.length,
        placed: count('placed'),
        notPlaced: count('not_placed'),
        unknown: count('unknown'),
        replayed: results.filter((r) => r.replayed).length,
      },
    };
  }

  private async forUser(signalId: string, userId: string, fields: OrderFields): Promise<OrderResult> {
    const user = this.users.get(userId);
    if (!user) return { ...this.executor.unknownUser(userId), signalId };
    const built = orderFor(user, fields);
    if (!built.ok) {
      return failure(userId, user.mode, 'BROKER_REJECTED', `Invalid order for ${userId}: ${built.problems.join('; ')}`, { signalId });
    }

    const claim = await this.claims.claim(signalId, userId);
    switch (claim.kind) {
      case 'done':
        return { ...claim.result, replayed: true };
      case 'in_progress':
        return failure(userId, user.mode, 'SIGNAL_IN_PROGRESS', `Signal ${signalId} is already being placed (or was interrupted) for ${userId}${claim.since ? ` since ${claim.since}` : ''}; this attempt sent nothing.`, {
          signalId,
          action: "Wait for the first attempt's result; if it was interrupted, check the user's day orders at the broker before placing by hand.",
        });
      case 'unavailable':
        return failure(userId, user.mode, 'IDEMPOTENCY_UNAVAILABLE', `The cache cannot say whether signal ${signalId} was already placed for ${userId}; nothing was sent.`, {
          signalId,
          action: 'Retry when Redis is reachable again.',
        });
      case 'claimed':
        break;
    }

    const result = await this.executor.execute(user, built.order, { signalId }).catch(async (err: unknown) => {
      await this.claims.complete(claim, failure(userId, user.mode, 'INTERNAL_ERROR', 'Unexpected error; outcome unknown.', { signalId }));
      throw err;
    });
    if (result.outcome === 'not_placed') await this.claims.release(claim);
    else await this.claims.complete(claim, result);
    return result;
  }
}
