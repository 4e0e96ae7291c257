import { Inject, Injectable } from '@nestjs/common';
import type { OrchestratorSettings, TradingUser } from './orchestrator.options.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';

/**
 * The configured trading users, looked up by exact id only. There is deliberately no fuzzy
 * matching, case folding or "closest user": an unknown id is an error, never a guess.
 */
@Injectable()
export class UserRegistry {
  private readonly byId: ReadonlyMap<string, TradingUser>;

  constructor(@Inject(ORCHESTRATOR_SETTINGS) settings: Pick<OrchestratorSettings, 'users'>) {
    this.byId = new Map(settings.users.map((u) => [u.userId, Object.freeze({ ...u })]));
  }

  get(userId: string): TradingUser | undefined {
    return this.byId.get(userId);
  }

  all(): TradingUser[] {
    return [...this.byId.values()];
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }
}
